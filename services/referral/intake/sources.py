"""Who may give which referral source (DOMAIN.md's CIN census codes): a partner speaks for
its own kind of agency. A health system cannot post a police referral (`6`), which would
tell a school of a police incident (Operation Encompass); only MASH staff record a referral
on another's behalf, and the chronology then says so."""

from __future__ import annotations

from services.referral.codes import REFERRAL_SOURCES
from services.referral.permissions import is_mash_staff
from shared.agencies import agency_entry
from shared.auth import Principal
from shared.db import Database
from shared.errors import InvalidValue

SOURCES_BY_AGENCY_KIND: dict[str, frozenset[str]] = {
    "police": frozenset({"6"}),
    "health": frozenset({"3A", "3B", "3C", "3D", "3E", "3F"}),
    "school": frozenset({"2A"}),
    "local_authority": frozenset({"2B", "4", "5A", "5B", "5C", "5D"}),
    "other": frozenset({"1A", "1B", "1C", "1D", "7", "8", "9", "10"}),
}


async def agency_kind_of(database: Database, caller: Principal) -> str | None:
    """The kind of agency the caller speaks for: from its token, else (a token from before
    tokens said) from this service's agency directory."""
    if caller.agency_kind is not None:
        return caller.agency_kind
    async with database.unit_of_work() as uow:
        entry = await agency_entry(uow, caller.agency_id)
    return entry.kind if entry is not None else None


def on_behalf(source: str, submitter: Principal, agency_kind: str | None) -> bool:
    """Whether the submitter may give ``source``: True when MASH staff record a referral
    for another kind of referrer; InvalidValue when a partner gives another kind's."""
    if source in SOURCES_BY_AGENCY_KIND.get(agency_kind or "", frozenset()):
        return False
    if is_mash_staff(submitter):
        return True
    kind = (agency_kind or "unknown").replace("_", " ")
    allowed = sorted(SOURCES_BY_AGENCY_KIND.get(agency_kind or "", frozenset()))
    raise InvalidValue(
        f"Source {source} ({REFERRAL_SOURCES.get(source, 'unknown')}) is not one a {kind} "
        f"agency gives: use {', '.join(allowed) or 'a source of your agency'}; MASH staff "
        "record referrals on another's behalf.",
        errors=[{"loc": ["body", "source"], "msg": f"not a {kind} agency's source"}])
