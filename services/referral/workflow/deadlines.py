"""The deadline scheduler: overdue decisions and partner answers are announced exactly once.

Each replica may run one. A deadline is claimed by a conditional update of its "notified"
time (``... WHERE decision_overdue_at IS NULL``) in the same transaction as the event's
outbox row, so two replicas never both announce it and a restart neither misses nor
repeats one. On PostgreSQL, candidates are read with SKIP LOCKED so replicas do not wait
on each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import col, func, select, update

from services.referral.events import DecisionOverdue, InformationRequestOverdue
from services.referral.referrals.models import OPEN_REFERRAL, Referral
from services.referral.workflow.lifecycle import OPEN_STATUSES, InformationRequestStatus
from services.referral.workflow.models import InformationRequest, TimelineEntry
from shared.db import Database
from shared.events import utcnow
from shared.metrics import Metrics
from shared.outbox import add_to_outbox
from shared.workers import PollingWorker

log = logging.getLogger(__name__)


class DeadlineScheduler(PollingWorker):
    """Looks for passed deadlines every ``poll_seconds``."""

    def __init__(self, database: Database, *, poll_seconds: float = 30.0, batch_size: int = 100,
                 clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__("deadline-scheduler", poll_seconds=poll_seconds)
        self.database = database
        self.batch_size = batch_size
        self.clock = clock

    async def run_once(self) -> int:
        """Announce every deadline passed by now; return how many were announced."""
        return await self._decisions() + await self._requests()

    async def _decisions(self) -> int:
        now = self.clock()
        announced = 0
        async with self.database.unit_of_work() as uow:
            query = (select(Referral)
                     .where(col(Referral.decision_due_at) < now,
                            col(Referral.decision_overdue_at).is_(None),
                            OPEN_REFERRAL)  # served by migration 0064's index
                     .order_by(col(Referral.decision_due_at)).limit(self.batch_size))
            if not self.database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            for referral in (await uow.session.exec(query)).all():
                claimed = await uow.session.exec(
                    update(Referral).where(col(Referral.id) == referral.id,
                                           col(Referral.decision_overdue_at).is_(None))
                    .values(decision_overdue_at=now))
                if claimed.rowcount != 1:
                    continue  # another replica got there first
                due = referral.decision_due_at.isoformat() if referral.decision_due_at else None
                uow.session.add(TimelineEntry(referral_id=referral.id, at=now,
                                              what="decision_overdue", detail={"due_at": due}))
                add_to_outbox(uow, DecisionOverdue(
                    referral_id=referral.id, reference=referral.reference,
                    status=referral.status, decision_due_at=due).cloud_event())
                announced += 1
            await uow.commit()
        return announced

    async def _requests(self) -> int:
        now = self.clock()
        announced = 0
        async with self.database.unit_of_work() as uow:
            query = (select(InformationRequest)
                     .where(col(InformationRequest.due_at) < now,
                            col(InformationRequest.overdue_at).is_(None),
                            col(InformationRequest.status) == bindparam(
                                "open", str(InformationRequestStatus.OPEN),
                                literal_execute=True))
                     .order_by(col(InformationRequest.due_at)).limit(self.batch_size))
            if not self.database.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            for request in (await uow.session.exec(query)).all():
                claimed = await uow.session.exec(
                    update(InformationRequest)
                    .where(col(InformationRequest.id) == request.id,
                           col(InformationRequest.overdue_at).is_(None),
                           col(InformationRequest.status) == InformationRequestStatus.OPEN)
                    .values(overdue_at=now, status=InformationRequestStatus.OVERDUE))
                if claimed.rowcount != 1:
                    continue
                uow.session.add(TimelineEntry(
                    referral_id=request.referral_id, at=now, what="information_overdue",
                    agency_id=request.agency_id,
                    detail={"information_request_id": request.id,
                            "due_at": request.due_at.isoformat()}))
                add_to_outbox(uow, InformationRequestOverdue(
                    information_request_id=request.id, agency_id=request.agency_id,
                    status=InformationRequestStatus.OVERDUE,
                    due_at=request.due_at.isoformat()).cloud_event())
                announced += 1
            await uow.commit()
        return announced

    async def step(self) -> None:
        """Announce what is overdue now."""
        count = await self.run_once()
        if count:
            log.info("deadlines announced", extra={"count": count})


async def read_queue_gauges(database: Database, metrics: Metrics) -> None:
    """The queue at scrape time: open referrals by status, and those past their decision
    deadline (the partial index of open referrals answers both)."""
    async with database.unit_of_work() as uow:
        by_status = dict((await uow.session.exec(
            select(col(Referral.status), func.count()).where(OPEN_REFERRAL)
            .group_by(col(Referral.status)))).all())
        overdue = (await uow.session.exec(
            select(func.count()).select_from(Referral).where(
                OPEN_REFERRAL, col(Referral.decision_due_at) < utcnow()))).one()
    for status in OPEN_STATUSES:
        metrics.open_referrals.labels(status).set(by_status.get(status, 0))
    metrics.overdue_decisions.set(overdue)
