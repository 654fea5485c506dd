"""A delivery's life after each attempt: delivered, retried later, or dead-lettered.

Functions here run inside the dispatcher's unit of work; they do not commit.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlmodel import col, select

from services.notify import events
from services.notify.channels import Outcome
from services.notify.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Subscription,
)
from services.notify.retries import RetryPolicy
from shared.db import UnitOfWork

log = logging.getLogger(__name__)

ENDPOINT_GONE = "endpoint_gone"
ENDPOINT_FAILING = "endpoint_failing"
RETRIES_EXHAUSTED = "retries_exhausted"
SUBSCRIPTION_DISABLED = "subscription_disabled"
PERMANENTLY_REJECTED = "permanently_rejected"


def directory_mailbox(delivery: Delivery) -> Subscription | None:
    """A stand-in subscription (never saved) for a delivery to a directory mailbox, such
    as a school's designated safeguarding lead."""
    if delivery.address is None or delivery.channel != Channel.EMAIL:
        return None
    at = delivery.created_at
    return Subscription(id=f"directory:{delivery.agency_id}", agency_id=delivery.agency_id or "",
                        channel=Channel.EMAIL, address=delivery.address, event_types="[]",
                        created_at=at, updated_at=at)


async def record_attempt(uow: UnitOfWork, delivery: Delivery, subscription: Subscription | None,
                         outcome: Outcome, *, latency_ms: float, now: datetime,
                         policy: RetryPolicy, disable_after: timedelta) -> None:
    """Log one attempt and move the delivery (and perhaps its subscription) on."""
    uow.session.add(DeliveryAttempt(delivery_id=delivery.id, attempted_at=now,
                                    status_code=outcome.status_code,
                                    latency_ms=round(latency_ms, 2), error=outcome.error))
    delivery.attempt_count += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    uow.session.add(delivery)
    if outcome.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.completed_at = now
        delivery.next_attempt_at = None
        if subscription is not None and subscription.failing_since is not None:
            subscription.failing_since = None
            uow.session.add(subscription)
        return
    if subscription is not None and outcome.gone:
        await disable_subscription(uow, subscription, ENDPOINT_GONE, now)
        dead_letter(delivery, SUBSCRIPTION_DISABLED)
        return
    if outcome.permanent:
        dead_letter(delivery, PERMANENTLY_REJECTED)  # last_error keeps the server's reason
        return
    if subscription is not None and subscription.failing_since is None:
        subscription.failing_since = now
        uow.session.add(subscription)
    delay = policy.delay_after(delivery.attempt_count, outcome.retry_after)
    if delay is not None:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        return
    dead_letter(delivery, RETRIES_EXHAUSTED)
    failing_since = subscription.failing_since if subscription is not None else None
    if subscription is not None and failing_since is not None \
            and now - failing_since >= disable_after:
        await disable_subscription(uow, subscription, ENDPOINT_FAILING, now)


def record_failed_probe(uow: UnitOfWork, delivery: Delivery, outcome: Outcome, *,
                        latency_ms: float, now: datetime, due: datetime) -> None:
    """Log a probe that failed; the delivery goes back to its place in the schedule (the
    probe was extra: it counts toward no retry, gives up nothing, disables nothing)."""
    uow.session.add(DeliveryAttempt(delivery_id=delivery.id, attempted_at=now,
                                    status_code=outcome.status_code,
                                    latency_ms=round(latency_ms, 2), error=outcome.error))
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.next_attempt_at = due
    uow.session.add(delivery)


_DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]
_RESCHEDULE = (update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("delivery_id"))
               .values(next_attempt_at=bindparam("due")))


async def bring_forward(uow: UnitOfWork, subscription_id: str, now: datetime, *,
                        waiting_after: datetime, per_second: float) -> int:
    """An endpoint that was failing has answered: its deliveries waiting for a retry come
    due now, one after another, oldest event first, ``per_second`` at most (none later
    than it was due anyway), as Svix and Stripe do; return how many.

    Only deliveries due after ``waiting_after`` (the end of a lease claimed now) are
    moved: one due sooner may be in flight, claimed by a dispatcher, and must not be
    claimed twice. Each is still sent in its referral's order (the dispatcher's turn rule).
    """
    waiting = (await uow.session.exec(
        select(Delivery.id, Delivery.next_attempt_at)
        .where(col(Delivery.subscription_id) == subscription_id,
               col(Delivery.status) == DeliveryStatus.PENDING,
               col(Delivery.next_attempt_at) > waiting_after)
        .order_by(col(Delivery.event_time), col(Delivery.created_at), col(Delivery.id)))).all()
    if not waiting:
        return 0
    spacing = timedelta(seconds=1 / per_second)
    due = [{"delivery_id": delivery_id, "due": min(at, now + spacing * position)}
           for position, (delivery_id, at) in enumerate(waiting) if at is not None]
    connection = await uow.session.connection()
    await connection.execute(_RESCHEDULE, due)
    log.info("endpoint answered again; waiting deliveries brought forward",
             extra={"count": len(due)})
    return len(due)


def dead_letter(delivery: Delivery, reason: str) -> None:
    """Stop trying ``delivery``; it stays listed and an admin may replay it."""
    delivery.status = DeliveryStatus.DEAD
    delivery.dead_reason = reason
    delivery.next_attempt_at = None


async def disable_subscription(uow: UnitOfWork, subscription: Subscription, reason: str,
                               now: datetime) -> None:
    """Stop sending to a subscription, dead-letter what waits for it, tell its agency."""
    if not subscription.active:
        return
    subscription.active = False
    subscription.disabled_at = now
    subscription.disabled_reason = reason
    uow.session.add(subscription)
    await uow.session.exec(
        update(Delivery)
        .where(col(Delivery.subscription_id) == subscription.id,
               col(Delivery.status) == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.DEAD, dead_reason=SUBSCRIPTION_DISABLED,
                next_attempt_at=None)
    )
    log.warning("subscription disabled",
                extra={"subscription_id": subscription.id, "reason": reason})
    await _tell_agency(uow, subscription, reason, now)


async def _tell_agency(uow: UnitOfWork, disabled: Subscription, reason: str,
                       now: datetime) -> None:
    mailboxes = (await uow.session.exec(
        select(Subscription).where(col(Subscription.agency_id) == disabled.agency_id,
                                   col(Subscription.channel) == Channel.EMAIL,
                                   col(Subscription.active).is_(True),
                                   col(Subscription.id) != disabled.id))).all()
    payload = json.dumps({"type": events.SUBSCRIPTION_DISABLED, "timestamp": now.isoformat(),
                          "data": {"subscription_id": disabled.id, "reason": reason}})
    for mailbox in mailboxes:
        uow.session.add(Delivery(
            event_id=f"{disabled.id}:{now.isoformat()}"[:64],
            event_type=events.SUBSCRIPTION_DISABLED, created_at=now,
            subscription_id=mailbox.id, agency_id=mailbox.agency_id, channel=mailbox.channel,
            payload=payload, event_time=now, next_attempt_at=now))
