"""``mash.staff.updated``: identity's word that a member of staff was registered or changed.

Identity owns users. The referral service keeps a staff directory from these events (see
services/referral/staff.py) to allocate referrals to active MASH staff by name; no service
reads identity's tables. The event names the member of staff (their display name), their
agency and roles and whether they are active: no credentials.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.events import CloudEvent

STAFF_UPDATED = "mash.staff.updated"


def staff_updated_event(user_id: str, *, display_name: str, agency_id: str,
                        roles: Iterable[str], active: bool) -> CloudEvent:
    """A member of staff's current directory entry."""
    return CloudEvent(source="/services/identity", type=STAFF_UPDATED, subject=user_id,
                      data={"user_id": user_id, "display_name": display_name,
                            "agency_id": agency_id, "roles": sorted(roles),
                            "active": active})
