"""Intake: a referral stored, indexed, announced and audited in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import configure_mappers, make_transient_to_detached

from services.referral.audit import service as audit
from services.referral.encompass.rules import triggers_notice
from services.referral.events import ReferralReceived
from services.referral.intelligence import alerts
from services.referral.people import flags, linking
from services.referral.people import index as people_index
from services.referral.referrals.models import ReferenceCounter, Referral, ReferralSubject
from services.referral.referrals.schemas import ReferralCreate, Subject
from services.referral.settings import HubSettings
from services.referral.workflow import service as workflow
from services.referral.workflow.lifecycle import urgency
from services.referral.workflow.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import UnitOfWork, dialect_insert
from shared.events import utcnow
from shared.outbox import outbox_row
from shared.rows import Rows


@lru_cache(maxsize=2)
def _claim_number(sqlite: bool) -> Any:
    counters = ReferenceCounter.__table__  # type: ignore[attr-defined]
    return (dialect_insert(counters, sqlite=sqlite).values(year=bindparam("year"), last_number=1)
            .on_conflict_do_update(index_elements=["year"],
                                   set_={"last_number": counters.c.last_number + 1})
            .returning(counters.c.last_number))


_SET_NUMBER = (update(ReferenceCounter.__table__)  # type: ignore[attr-defined]
               .where(ReferenceCounter.__table__.c.year == bindparam("claimed_year"))  # type: ignore[attr-defined]
               .values(last_number=bindparam("number")))


async def next_reference(uow: UnitOfWork, year: int, claimed: dict[int, int] | None = None,
                         counted: dict[int, int] | None = None) -> str:
    """The next human-readable reference of ``year``, e.g. ``MASH-2026-000123``.

    One upsert: concurrent first referrals of a year cannot both insert the counter. It
    also holds the counter's row until the commit (SQLite's write lock; PostgreSQL's row
    lock), so the later referrals of the same transaction count on from it in ``claimed``
    (year: last number), written back once by ``write_claimed_numbers``; ``counted``
    (year: the number the upsert left in the counter) spares that write when the
    transaction gave out no more.
    """
    if claimed is not None and year in claimed:
        claimed[year] += 1
        return f"MASH-{year}-{claimed[year]:06d}"
    connection = await uow.session.connection()
    result = await connection.execute(_claim_number(uow.database.is_sqlite), {"year": year})
    number = result.scalar_one()
    if claimed is not None:
        claimed[year] = number
    if counted is not None:
        counted[year] = number
    return f"MASH-{year}-{number:06d}"


async def write_claimed_numbers(uow: UnitOfWork, claimed: dict[int, int],
                                counted: dict[int, int] | None = None) -> None:
    """Set each year's counter to the last number the transaction gave out, unless the
    counter already holds it (``counted``: a transaction of one referral)."""
    changed = [{"claimed_year": year, "number": number} for year, number in claimed.items()
               if counted is None or counted.get(year) != number]
    if changed:
        connection = await uow.session.connection()
        await connection.execute(_SET_NUMBER, changed)


@dataclass
class IntakeBatch:
    """What the referrals of one transaction write, kept until its end: their rows, their
    audit entries, and the person index's view of them (for the next one to match)."""

    rows: Rows = field(default_factory=Rows)
    audit: audit.AuditBatch = field(default_factory=audit.AuditBatch)
    index: people_index.BatchIndex = field(default_factory=people_index.BatchIndex)
    numbers: dict[int, int] = field(default_factory=dict)  # year: last reference number
    counted: dict[int, int] = field(default_factory=dict)  # year: what its counter holds
    sightings: alerts.BatchSightings = field(default_factory=alerts.BatchSightings)

    async def prefetch(self, uow: UnitOfWork, bodies: Iterable[ReferralCreate]) -> None:
        """Read what the person index holds on the subjects of referrals about to be
        submitted in this batch, all at once (see ``people_index.prefetch``)."""
        await people_index.prefetch(uow, self.index, [
            people_index.record_of(people_index.details_of(
                {**subject_values(subject), "id": None, "referral_id": None}, "", utcnow()))
            for body in bodies for subject in body.subjects])

    async def write(self, uow: UnitOfWork, *, bulk: bool = False) -> None:
        """Write it all in the caller's transaction (the audit chain last); ``bulk``: see
        ``Rows.write``."""
        await flags.settle(uow, self.index)
        await write_claimed_numbers(uow, self.numbers, self.counted)
        self.numbers, self.counted = {}, {}
        await self.rows.write(uow, bulk=bulk)
        await self.audit.append(uow)
        self.index = people_index.BatchIndex()
        self.sightings = alerts.BatchSightings()


def subject_values(subject: Subject) -> dict[str, Any]:
    """A subject as a row of referral_subjects holds it (without its ids and position)."""
    return {
        **subject.model_dump(exclude={"address", "looked_after"}),
        "address": subject.address.model_dump(exclude_none=True) if subject.address else None,
        "looked_after": subject.looked_after.model_dump(mode="json")
        if subject.looked_after else None,
        "postcode": subject.address.postcode if subject.address else None}


async def submit_referral(uow: UnitOfWork, body: ReferralCreate, submitter: Principal,
                          calendar: WorkingCalendar | None = None, *,
                          batch: IntakeBatch | None = None, on_behalf: bool = False,
                          received_at: datetime | None = None, announce: bool = True
                          ) -> Referral:
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
    calendar = calendar or WorkingCalendar(HubSettings())
    received_at = received_at or utcnow()
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
        incident=body.incident.model_dump(mode="json") if body.incident else None,
        referring_agency_id=submitter.agency_id,
        submitted_by=submitter.subject,
        reference=await next_reference(uow, received_at.year, batch.numbers, batch.counted),
        received_at=received_at,
        rag=rag,
        urgency=urgency(body.immediate_risk, rag),
        response_due_at=calendar.response_due(received_at, rag) if rag else None,
        decision_due_at=calendar.decision_due(received_at, rag),
    )
    subjects = [rows.add(ReferralSubject, referral_id=referral["id"], position=position,
                         **subject_values(subject))
                for position, subject in enumerate(body.subjects)]
    # Each subject linked to a person; the re-referral and same-day flags by person, set
    # when the batch is written.
    await linking.index_referral(uow, rows, referral, subjects, calendar, batch.index)
    # Adults of concern (by person) and contexts seen with other children: alerts.
    people = [s.person_id for s in batch.index.subjects[-len(subjects):]]
    await alerts.index_and_raise(
        uow, rows, referral, subjects, people, [(c.kind, c.value) for c in body.contexts],
        calendar.settings.alert_window_days, batch.sightings)
    if announce:
        outbox_row(rows, ReferralReceived(
            referral_id=referral["id"], reference=referral["reference"],
            status=referral["status"], kind=referral["kind"],
            received_at=received_at.isoformat(), referring_agency_id=submitter.agency_id,
            source=body.source, school_urns=[
                s.school_urn for s in body.subjects if s.role == "child" and s.school_urn
            ] if triggers_notice(body.source, body.concerns,
                                 calendar.settings.encompass_concerns) else [],
        ).cloud_event())
    workflow.record_received(rows, referral, submitter, on_behalf=on_behalf)
    workflow.record_child_facts(rows, referral, submitter, [
        {"position": position, "looked_after": subject.looked_after.model_dump(mode="json")
         if subject.looked_after else None,
         "child_protection_plan": subject.child_protection_plan}
        for position, subject in enumerate(body.subjects)
        if subject.looked_after or subject.child_protection_plan])
    batch.audit.add(submitter, "create", "referral", referral["id"], "referral_submission")
    if own:
        await batch.write(uow)
    if not own:  # read for the receipt only (constructing it through the ORM costs more);
        # its flags are not settled until the batch is written. model_construct skips what
        # configures the mappers, without which reading its attributes fails: in a process
        # whose first ORM work is this (a test of the writer alone), configure them here.
        configure_mappers()  # at once when they are
        return Referral.model_construct(**referral)
    stored = Referral(**referral)
    make_transient_to_detached(stored)  # written: the caller may change it in the session
    uow.session.add(stored)
    return stored
