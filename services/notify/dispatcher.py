"""The dispatcher: a Service worker that sends due deliveries and schedules retries.

Everything it needs is in notify's database, so a restart forgets and repeats nothing
but an attempt that was in flight. Several replicas share the work: on PostgreSQL due
rows are claimed with ``FOR UPDATE SKIP LOCKED`` (as the outbox relay does), and a claim
is a lease (``next_attempt_at`` moved past the attempt's timeout) rather than a lock held
while sending. SQLite runs in one process, where one dispatcher loop claims.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from services.notify.channels import DeliveryChannel, Outcome
from services.notify.delivery import (
    SUBSCRIPTION_DISABLED,
    bring_forward,
    dead_letter,
    directory_mailbox,
    record_attempt,
    record_failed_probe,
)
from services.notify.models import Delivery, DeliveryStatus, Subscription
from services.notify.retries import RetryPolicy
from shared import otel
from shared.db import Database
from shared.events import utcnow
from shared.metrics import Metrics
from shared.workers import PollingWorker

log = logging.getLogger(__name__)


class Dispatcher(PollingWorker):
    """Claims due deliveries, sends each through its channel, records what happened."""

    def __init__(self, database: Database, channels: Mapping[str, DeliveryChannel],
                 policy: RetryPolicy, *, batch_size: int = 50, poll_seconds: float = 1.0,
                 lease: timedelta = timedelta(seconds=60),
                 disable_after: timedelta = timedelta(days=2),
                 order_hold: timedelta = timedelta(days=1),
                 catch_up_per_second: float = 100.0,
                 probe_every: timedelta = timedelta(seconds=5),
                 clock: Callable[[], datetime] = utcnow) -> None:
        # Retries come due with time, not with commits: it polls for them too.
        super().__init__("notify-dispatcher", poll_seconds=poll_seconds)
        self.database = database
        self.channels = dict(channels)
        self.policy = policy
        self.batch_size = batch_size
        self.lease = lease
        self.disable_after = disable_after
        self.order_hold = order_hold
        self.catch_up_per_second = catch_up_per_second
        self.probe_every = probe_every
        self.clock = clock
        self._due = self._due_query()
        self._probe = self._probe_query()
        self._probed: dict[str, datetime] = {}  # failing subscription -> its last probe
        database.on_commit(self.wake)

    async def claim_due(self) -> list[str]:
        """Lease up to a batch of due deliveries whose turn it is (see ``_not_its_turn``)."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            ids = list((await uow.session.exec(self._due, params={
                "now": now, "hold_since": now - self.order_hold,
                "batch_size": self.batch_size})).all())
            if ids:
                await uow.session.exec(update(Delivery)
                                       .where(col(Delivery.id).in_(ids))
                                       .values(next_attempt_at=now + self.lease))
            # Commit without the after-commit hooks: a claim is not news to wake anyone.
            await uow.session.commit()
        return ids

    def _due_query(self) -> Any:
        """The claim's SELECT, built once (it runs after every commit of the service);
        the time, the hold and the batch size are its parameters."""
        query = (select(Delivery.id)
                 .where(col(Delivery.status) == DeliveryStatus.PENDING,
                        col(Delivery.next_attempt_at) <= bindparam("now"),
                        ~self._not_its_turn())
                 .order_by(col(Delivery.next_attempt_at))
                 .limit(bindparam("batch_size")))
        if not self.database.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=Delivery)
        return query

    def _probe_query(self) -> Any:
        """The SELECT of a failing subscription's next waiting delivery whose turn it is,
        unless one of its deliveries comes due within ``probe_every`` anyway."""
        due_soon = aliased(Delivery)
        something_due_soon = exists().where(
            col(due_soon.subscription_id) == bindparam("subscription_id"),
            col(due_soon.status) == DeliveryStatus.PENDING,
            col(due_soon.next_attempt_at) <= bindparam("soon"))
        query = (select(Delivery.id, Delivery.next_attempt_at)
                 .where(col(Delivery.subscription_id) == bindparam("subscription_id"),
                        col(Delivery.status) == DeliveryStatus.PENDING,
                        # Not one leased now, in flight (see bring_forward).
                        col(Delivery.next_attempt_at) > bindparam("leased_until"),
                        ~self._not_its_turn(), ~something_due_soon)
                 .order_by(col(Delivery.next_attempt_at)).limit(1))
        if not self.database.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=Delivery)
        return query

    def _not_its_turn(self) -> ColumnElement[bool]:
        """A partner must not hear of a referral out of order. A delivery waits while an
        earlier one (by the referral's sequence, else by event time) for the same
        subscription and referral is unfinished; and a later event of a referral (sequence
        above 1) waits until the referral's `received` (sequence 1) has reached notify,
        however the broker ordered them, for at most ``order_hold``."""
        earlier, seen = aliased(Delivery), aliased(Delivery)
        both_sequenced = and_(col(earlier.sequence).is_not(None),
                              col(Delivery.sequence).is_not(None))
        by_time = or_(col(earlier.event_time) < col(Delivery.event_time),
                      and_(col(earlier.event_time) == col(Delivery.event_time),
                           col(earlier.created_at) < col(Delivery.created_at)))
        waits_behind = exists().where(
            col(earlier.subscription_id) == col(Delivery.subscription_id),
            col(earlier.referral_id) == col(Delivery.referral_id),
            col(earlier.status) == DeliveryStatus.PENDING,
            or_(and_(both_sequenced, col(earlier.sequence) < col(Delivery.sequence)),
                and_(or_(~both_sequenced, col(earlier.sequence) == col(Delivery.sequence)),
                     by_time)))
        received_not_seen = and_(
            col(Delivery.referral_id).is_not(None),
            func.coalesce(col(Delivery.sequence), 0) > 1,
            col(Delivery.created_at) > bindparam("hold_since"),
            ~exists().where(col(seen.referral_id) == col(Delivery.referral_id),
                            col(seen.sequence) == 1))
        return or_(waits_behind, received_not_seen)

    async def dispatch_due(self) -> int:
        """Claim one batch and attempt each delivery in it; return how many."""
        ids = await self.claim_due()
        if ids:
            await asyncio.gather(*(self.attempt(delivery_id) for delivery_id in ids))
        return len(ids)

    async def drain(self) -> int:
        """Dispatch until nothing is due now; return how many attempts were made."""
        total = 0
        while count := await self.dispatch_due():
            total += count
        return total

    async def probe_failing_endpoints(self) -> int:
        """Try one waiting delivery early at each failing endpoint (webhook or mailbox)
        that has nothing due within ``probe_every`` and was not tried for that long; return
        how many were tried.

        An endpoint back from an outage is then found within ``probe_every``, not at its
        deliveries' next retry minutes later, and its success brings the rest forward. A
        probe that fails is logged, and its delivery keeps its place in its schedule.
        """
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            failing = dict((await uow.session.exec(
                select(Subscription.id, Subscription.failing_since)
                .where(col(Subscription.failing_since).is_not(None),
                       col(Subscription.active).is_(True)))).all())
        self._probed = {k: v for k, v in self._probed.items() if k in failing}
        probed = 0
        for subscription_id, failing_since in failing.items():
            if failing_since is None:
                continue
            last = max(self._probed.get(subscription_id, failing_since), failing_since)
            if now - last < self.probe_every:
                continue
            self._probed[subscription_id] = now
            claimed = await self._claim_probe(subscription_id, now)
            if claimed is not None:
                await self.attempt(claimed[0], keep_schedule=claimed[1])
                probed += 1
        return probed

    async def _claim_probe(self, subscription_id: str, now: datetime
                           ) -> tuple[str, datetime] | None:
        """Lease the subscription's probe (see ``_probe_query``): its id and when it was due."""
        async with self.database.unit_of_work() as uow:
            found = (await uow.session.exec(self._probe, params={
                "subscription_id": subscription_id, "soon": now + self.probe_every,
                "leased_until": now + self.lease, "hold_since": now - self.order_hold})
                     ).first()
            if found is None or found[1] is None:
                return None
            await uow.session.exec(update(Delivery).where(col(Delivery.id) == found[0])
                                   .values(next_attempt_at=now + self.lease))
            await uow.session.commit()
        return found[0], found[1]

    async def attempt(self, delivery_id: str, *, keep_schedule: datetime | None = None
                      ) -> None:
        """Send one claimed delivery and record the outcome. A probe (``keep_schedule``:
        when it was due) that fails goes back to that time, its attempts uncounted."""
        async with self.database.unit_of_work() as uow:
            delivery = await uow.session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != DeliveryStatus.PENDING:
                return
            subscription = await uow.session.get(Subscription, delivery.subscription_id) \
                if delivery.subscription_id else None
            target = subscription or directory_mailbox(delivery)
            channel = self.channels.get(delivery.channel or "")
            if target is None or not target.active or channel is None:
                dead_letter(delivery, SUBSCRIPTION_DISABLED)
                uow.session.add(delivery)
                await uow.session.commit()
                return
            started = time.perf_counter()
            try:
                with otel.span(f"{delivery.event_type} deliver", delivery.traceparent,
                               attributes={"mash.delivery.id": delivery.id,
                                           "mash.delivery.channel": delivery.channel or ""}):
                    outcome = await channel.send(delivery, target)
            except Exception as exc:  # a channel bug must not stop the dispatcher
                log.exception("delivery channel failed", extra={"delivery_id": delivery_id})
                outcome = Outcome(False, error=type(exc).__name__)
            latency_ms = (time.perf_counter() - started) * 1000
            now = self.clock()
            recovered = outcome.delivered and subscription is not None \
                and subscription.failing_since is not None
            if keep_schedule is not None and not outcome.delivered:
                record_failed_probe(uow, delivery, outcome, latency_ms=latency_ms, now=now,
                                    due=keep_schedule)
            else:
                await record_attempt(uow, delivery, subscription, outcome,
                                     latency_ms=latency_ms, now=now, policy=self.policy,
                                     disable_after=self.disable_after)
            if recovered and subscription is not None:
                await bring_forward(uow, subscription.id, now, waiting_after=now + self.lease,
                                    per_second=self.catch_up_per_second)
            await uow.commit()

    async def step(self) -> None:
        """Send everything due, then probe the failing endpoints."""
        await self.drain()
        await self.probe_failing_endpoints()

    async def stop(self) -> None:
        """Stop; an attempt cut short is retried when its lease ends."""
        await super().stop()
        for channel in self.channels.values():
            await channel.close()


async def read_delivery_gauges(database: Database, metrics: Metrics) -> None:
    """Deliveries at scrape time: waiting (pending), of those failing (tried and failed at
    least once), and given up on (dead, until an administrator replays them)."""
    async with database.unit_of_work() as uow:
        pending, failing = (await uow.session.exec(
            select(func.count(), func.count().filter(col(Delivery.attempt_count) > 0))
            .where(col(Delivery.status) == DeliveryStatus.PENDING))).one()
        dead = (await uow.session.exec(select(func.count()).select_from(Delivery).where(
            col(Delivery.status) == DeliveryStatus.DEAD))).one()
    metrics.deliveries.labels("pending").set(pending)
    metrics.deliveries.labels("failing").set(failing)
    metrics.deliveries.labels("dead").set(dead)
