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
)
from services.notify.models import Delivery, DeliveryStatus, Subscription
from services.notify.retries import RetryPolicy
from shared.db import Database
from shared.events import utcnow
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
        self.clock = clock
        self._due = self._due_query()
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

    async def attempt(self, delivery_id: str) -> None:
        """Send one claimed delivery and record the outcome."""
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
                outcome = await channel.send(delivery, target)
            except Exception as exc:  # a channel bug must not stop the dispatcher
                log.exception("delivery channel failed", extra={"delivery_id": delivery_id})
                outcome = Outcome(False, error=type(exc).__name__)
            latency_ms = (time.perf_counter() - started) * 1000
            now = self.clock()
            recovered = outcome.delivered and subscription is not None \
                and subscription.failing_since is not None
            await record_attempt(uow, delivery, subscription, outcome, latency_ms=latency_ms,
                                 now=now, policy=self.policy,
                                 disable_after=self.disable_after)
            if recovered and subscription is not None:
                await bring_forward(uow, subscription.id, now, waiting_after=now + self.lease,
                                    per_second=self.catch_up_per_second)
            await uow.commit()

    async def step(self) -> None:
        """Send everything due."""
        await self.drain()

    async def stop(self) -> None:
        """Stop; an attempt cut short is retried when its lease ends."""
        await super().stop()
        for channel in self.channels.values():
            await channel.close()
