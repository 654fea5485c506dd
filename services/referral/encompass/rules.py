"""Which referrals tell the children's schools (Operation Encompass)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from services.referral.events import POLICE_SOURCE

# CIN census factors 3A-3C: domestic abuse concerning the child, a parent or carer, or
# another person in the household (DOMAIN.md).
DOMESTIC_ABUSE = ("3A", "3B", "3C")


def triggers_notice(source: str, concerns: Iterable[str],
                    trigger_concerns: Collection[str] = DOMESTIC_ABUSE) -> bool:
    """A police referral with a domestic abuse concern (or another concern the hub's
    ``encompass_concerns`` setting names)."""
    return source == POLICE_SOURCE and any(c in trigger_concerns for c in concerns)
