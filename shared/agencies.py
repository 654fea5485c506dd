"""The agency directory other services keep from identity's ``mash.agency.updated`` events.

Identity owns agencies. A service that needs to know an agency's kind, a school's DfE URN
or its designated safeguarding lead's mailbox keeps its own copy in its own
``agency_directory`` table, learnt from the events (no service reads identity's tables).
An event older than the row it would replace is ignored, so redelivery and reordering
leave the newest state.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel, col, select

from shared.db import UnitOfWork, UTCDateTime
from shared.events import CloudEvent

AGENCY_UPDATED = "mash.agency.updated"
SCHOOL_URN_PATTERN = r"^[0-9]{6}$"  # a DfE unique reference number (get-information-schools)


class AgencyDirectoryEntry(SQLModel, table=True):
    """What this service knows of one agency (see identity's Agency)."""

    __tablename__ = "agency_directory"

    agency_id: str = Field(primary_key=True, max_length=36)
    name: str | None = Field(default=None, max_length=200)  # an organisation's, for reports
    kind: str = Field(max_length=32)
    active: bool = True
    school_urn: str | None = Field(default=None, max_length=6, index=True)
    safeguarding_lead_email: str | None = Field(default=None, max_length=320)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


def agency_updated_event(agency_id: str, *, kind: str, active: bool, school_urn: str | None,
                         safeguarding_lead_email: str | None,
                         name: str | None = None) -> CloudEvent:
    """`mash.agency.updated`: an agency's current directory entry (its name, an
    organisation's, for reports; no people's names)."""
    return CloudEvent(source="/services/identity", type=AGENCY_UPDATED, subject=agency_id,
                      data={"agency_id": agency_id, "name": name, "kind": kind,
                            "active": active,
                            "school_urn": school_urn,
                            "safeguarding_lead_email": safeguarding_lead_email})


async def record_agency_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    """Consumer: keep the newest directory entry of the agency an event describes."""
    data = event.data
    values = {"name": str(data["name"])[:200] if data.get("name") else None,
              "kind": str(data.get("kind") or "other"), "active": bool(data.get("active", True)),
              "school_urn": data.get("school_urn") or None,
              "safeguarding_lead_email": data.get("safeguarding_lead_email") or None,
              "updated_at": event.time}
    table = AgencyDirectoryEntry.__table__  # type: ignore[attr-defined]
    await uow.session.exec(
        uow.insert(AgencyDirectoryEntry)
        .values(agency_id=str(data["agency_id"]), **values)
        .on_conflict_do_update(index_elements=["agency_id"], set_=values,
                               where=table.c.updated_at <= event.time))


async def school_for_urn(uow: UnitOfWork, urn: str) -> AgencyDirectoryEntry | None:
    """The active agency registered with the school URN ``urn``, if any."""
    found = await uow.session.exec(
        select(AgencyDirectoryEntry).where(col(AgencyDirectoryEntry.school_urn) == urn,
                                           col(AgencyDirectoryEntry.active).is_(True))
        .order_by(col(AgencyDirectoryEntry.updated_at).desc()).limit(1))
    return found.first()


async def agency_entry(uow: UnitOfWork, agency_id: str) -> AgencyDirectoryEntry | None:
    """This service's directory entry of ``agency_id``."""
    return await uow.session.get(AgencyDirectoryEntry, agency_id)
