"""Referral domain logic: no HTTP here, and the caller's unit of work commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col, select

from services.referral import audit, events, workflow
from services.referral.models import ReferenceCounter, Referral, ReferralSubject
from services.referral.people import index as people_index
from services.referral.people import intake as people_intake
from services.referral.permissions import is_mash_staff
from services.referral.schemas import ReferralCreate
from services.referral.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.outbox import outbox_row
from shared.rows import Rows


def referral_path(referral_id: str) -> str:
    """The public path of one referral."""
    return f"/api/v1/referrals/{referral_id}"


@lru_cache(maxsize=2)
def _claim_number(sqlite: bool) -> Any:
    counters = ReferenceCounter.__table__  # type: ignore[attr-defined]
    insert = sqlite_insert if sqlite else postgresql_insert
    return (insert(counters).values(year=bindparam("year"), last_number=1)
            .on_conflict_do_update(index_elements=["year"],
                                   set_={"last_number": counters.c.last_number + 1})
            .returning(counters.c.last_number))


async def next_reference(uow: UnitOfWork, year: int) -> str:
    """The next human-readable reference of ``year``, e.g. ``MASH-2026-000123``.

    One upsert: concurrent first referrals of a year cannot both insert the counter.
    """
    connection = await uow.session.connection()
    result = await connection.execute(_claim_number(uow.database.is_sqlite), {"year": year})
    number = result.scalar_one()
    return f"MASH-{year}-{number:06d}"


@dataclass
class IntakeBatch:
    """What the referrals of one transaction write, kept until its end: their rows, their
    audit entries, and the person index's view of them (for the next one to match)."""

    rows: Rows = field(default_factory=Rows)
    audit: audit.AuditBatch = field(default_factory=audit.AuditBatch)
    index: people_index.BatchIndex = field(default_factory=people_index.BatchIndex)

    async def write(self, uow: UnitOfWork) -> None:
        """Write it all in the caller's transaction (the audit chain last)."""
        await self.rows.write(uow)
        await self.audit.append(uow)
        self.index = people_index.BatchIndex()


async def submit_referral(uow: UnitOfWork, body: ReferralCreate, submitter: Principal,
                          calendar: WorkingCalendar | None = None, *,
                          batch: IntakeBatch | None = None) -> Referral:
    """Store a new referral and its subjects, link them to people, and stage
    `mash.referral.received`, in the caller's transaction. The referring agency is the
    caller's, whatever the body says. With a ``batch``, the rows wait in it for its owner
    to write them before the commit; without, they are written now.

    The decision is due within one working day of receipt; a referral saying the child is
    at immediate risk is red at once, on the clock.

    The rows are written with Core INSERTs (shared.rows), not through the ORM: this runs
    for every referral. Without a batch, the returned referral is attached to the
    session, so the caller may still change it through the ORM.
    """
    calendar = calendar or workflow.default_calendar()
    received_at = utcnow()
    rag = "red" if body.immediate_risk else None
    own = batch is None
    batch = batch or IntakeBatch()
    rows = batch.rows
    referral = rows.add(
        Referral,
        source=body.source,
        kind=body.kind,
        immediate_risk=body.immediate_risk,
        concerns=list(body.concerns),
        referrer=body.referrer.model_dump(mode="json", exclude={"agency_id"},
                                          exclude_none=True),
        consent_status=body.consent.status,
        consent_reason=body.consent.reason,
        summary=body.summary,
        external_reference=body.external_reference,
        referring_agency_id=submitter.agency_id,
        submitted_by=submitter.subject,
        reference=await next_reference(uow, received_at.year),
        received_at=received_at,
        rag=rag,
        response_due_at=calendar.response_due(received_at, rag) if rag else None,
        decision_due_at=calendar.decision_due(received_at, rag),
    )
    subjects = [rows.add(
        ReferralSubject, referral_id=referral["id"], position=position,
        **subject.model_dump(exclude={"address"}),
        address=subject.address.model_dump(exclude_none=True) if subject.address else None,
        postcode=subject.address.postcode if subject.address else None,
    ) for position, subject in enumerate(body.subjects)]
    # Each subject linked to a person; the re-referral and same-day flags by person.
    referral["same_day_as"], referral["is_re_referral"] = await people_intake.index_referral(
        uow, rows, referral, subjects, calendar, batch.index)
    outbox_row(rows, events.referral_received(
        referral["id"], referral["reference"], referral["status"], referral["kind"],
        received_at.isoformat(), referral_path(referral["id"]), submitter.agency_id,
        source=body.source,
        school_urns=[s.school_urn for s in body.subjects if s.role == "child" and s.school_urn],
    ))
    workflow.record_received(rows, referral, submitter)
    batch.audit.add(submitter, "create", "referral", referral["id"], "referral_submission")
    if own:
        await batch.write(uow)
    stored = Referral(**referral)
    if own:  # written: the caller may change it through the session
        make_transient_to_detached(stored)
        uow.session.add(stored)
    return stored


def default_purpose(reader: Principal) -> str:
    """The purpose recorded when a reader gives none."""
    return "triage" if is_mash_staff(reader) else "referrer_follow_up"


def can_read(reader: Principal, referral: Referral) -> bool:
    """MASH staff read every referral; a partner only its own agency's."""
    return is_mash_staff(reader) or referral.referring_agency_id == reader.agency_id


async def read_referral(uow: UnitOfWork, referral_id: str, reader: Principal,
                        purpose: str) -> tuple[Referral, list[ReferralSubject]] | None:
    """A referral and (for MASH staff) its subjects, audited; None if the reader may not
    know it exists."""
    referral = await uow.session.get(Referral, referral_id)
    if referral is None or not can_read(reader, referral):
        return None
    subjects: list[ReferralSubject] = []
    if is_mash_staff(reader):
        result = await uow.session.exec(
            select(ReferralSubject).where(ReferralSubject.referral_id == referral.id)
            .order_by(col(ReferralSubject.position)))
        subjects = list(result.all())
    await audit.record(uow, reader, "read", "referral", referral.id, purpose)
    return referral, subjects


@dataclass(frozen=True)
class ReferralFilters:
    """What GET /api/v1/referrals may filter by."""

    status: str | None = None
    rag: str | None = None
    source: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str | None = None


async def list_referrals(uow: UnitOfWork, reader: Principal, filters: ReferralFilters,
                         after: tuple[datetime, str] | None, limit: int,
                         purpose: str) -> list[Referral]:
    """Referrals the reader may see, newest first, after a cursor; the search is audited."""
    query = select(Referral)
    if not is_mash_staff(reader):
        query = query.where(Referral.referring_agency_id == reader.agency_id)
    if filters.status:
        query = query.where(Referral.status == filters.status)
    if filters.rag:
        query = query.where(Referral.rag == filters.rag)
    if filters.source:
        query = query.where(Referral.source == filters.source)
    if filters.received_from:
        query = query.where(col(Referral.received_at) >= filters.received_from)
    if filters.received_to:
        query = query.where(col(Referral.received_at) < filters.received_to)
    if filters.q:
        query = query.where(_matches(filters.q, reader))
    if after is not None:
        at, last_id = after
        query = query.where(or_(col(Referral.received_at) < at,
                                and_(col(Referral.received_at) == at, col(Referral.id) < last_id)))
    query = query.order_by(col(Referral.received_at).desc(), col(Referral.id).desc()).limit(limit)
    referrals = list((await uow.session.exec(query)).all())
    await audit.record(uow, reader, "search", "referral", "*", purpose)
    return referrals


def _matches(q: str, reader: Principal) -> Any:
    """Reference or sender's reference; MASH staff may also search subjects' names."""
    term = q.strip()
    by_reference = or_(func.upper(Referral.reference) == term.upper(),
                       col(Referral.external_reference) == term)
    if not is_mash_staff(reader):
        return by_reference
    pattern = term.lower().replace("%", "").replace("_", "") + "%"
    named = select(ReferralSubject.referral_id).where(or_(
        func.lower(ReferralSubject.family_name).like(pattern),
        func.lower(ReferralSubject.given_name).like(pattern),
        col(ReferralSubject.nhs_number) == term.replace(" ", ""),
        col(ReferralSubject.upn) == term.upper(),
    ))
    return or_(by_reference, col(Referral.id).in_(named))


@dataclass(frozen=True)
class AuditFilters:
    """What GET /api/v1/audit may filter by."""

    record_id: str | None = None
    actor: str | None = None
    action: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


async def audit_entries(uow: UnitOfWork, filters: AuditFilters, before_seq: int | None,
                        limit: int) -> list[audit.AuditEntry]:
    """Audit entries, newest first."""
    entry = audit.AuditEntry
    query = select(entry)
    if filters.record_id:
        query = query.where(entry.record_id == filters.record_id)
    if filters.actor:
        query = query.where(entry.actor == filters.actor)
    if filters.action:
        query = query.where(entry.action == filters.action)
    if filters.at_from:
        query = query.where(col(entry.at) >= filters.at_from)
    if filters.at_to:
        query = query.where(col(entry.at) < filters.at_to)
    if before_seq is not None:
        query = query.where(col(entry.seq) < before_seq)
    query = query.order_by(col(entry.seq).desc()).limit(limit)
    return list((await uow.session.exec(query)).all())


