"""The staff directory the referral service keeps from identity's ``mash.staff.updated``
events (shared/staff.py): whom a referral may be allocated to, and their names.

An event older than the row it would replace is ignored, so redelivery and reordering
leave the newest state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from shared.db import UnitOfWork, UTCDateTime
from shared.events import CloudEvent
from shared.roles import MASH_STAFF


class StaffDirectoryEntry(SQLModel, table=True):
    """What this service knows of one member of staff."""

    __tablename__ = "staff_directory"

    user_id: str = Field(primary_key=True, max_length=36)
    display_name: str = Field(max_length=200)
    agency_id: str = Field(max_length=36)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))

    @property
    def is_active_mash_staff(self) -> bool:
        """Whether a referral may be allocated to them."""
        return self.active and not MASH_STAFF.isdisjoint(self.roles)


async def record_staff_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    """Consumer: keep the newest directory entry of the member of staff an event names."""
    data = event.data
    values = {"display_name": str(data.get("display_name") or "")[:200],
              "agency_id": str(data.get("agency_id") or "")[:36],
              "roles": [str(r) for r in data.get("roles") or []],
              "active": bool(data.get("active", True)), "updated_at": event.time}
    table = StaffDirectoryEntry.__table__  # type: ignore[attr-defined]
    await uow.session.exec(
        uow.insert(StaffDirectoryEntry)
        .values(user_id=str(data["user_id"]), **values)
        .on_conflict_do_update(index_elements=["user_id"], set_=values,
                               where=table.c.updated_at <= event.time))


async def staff_entry(uow: UnitOfWork, user_id: str) -> StaffDirectoryEntry | None:
    """This service's directory entry of ``user_id``."""
    return await uow.session.get(StaffDirectoryEntry, user_id)
