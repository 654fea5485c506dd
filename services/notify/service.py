"""Notify domain logic: route hub events to subscriptions, read and replay the log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, select

from services.notify import events
from services.notify.encompass import school_deliveries
from services.notify.models import Delivery, DeliveryAttempt, DeliveryStatus, Subscription
from services.notify.permissions import sees_every_delivery
from services.notify.subscriptions import event_types_of
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import CloudEvent, utcnow
from shared.pagination import after as keyset_after
from shared.problems import Problem
from shared.rows import Rows
from shared.tracing import current_traceparent


async def record_delivery(uow: UnitOfWork, event: CloudEvent, *, base_url: str = "",
                          now: datetime | None = None) -> None:
    """Consumer: one delivery per subscription that should hear ``event`` (runs once per
    event: see the inbox); with no such subscription, one ``no_subscription`` row says so."""
    now = now or utcnow()
    agency_id = events.recipient_agency(event)
    referral_id = event.data.get("referral_id")
    payload = json.dumps({"type": event.type, "timestamp": event.time.isoformat(),
                          "data": events.shareable_data(event.data, base_url)})
    common: dict[str, Any] = {"event_id": event.id, "event_type": event.type, "created_at": now,
              "referral_id": str(referral_id) if referral_id else None,
              "event_time": event.time, "sequence": _sequence(event),
              "traceparent": current_traceparent()}
    recipients = await recipients_of(uow, event.type, agency_id)
    rows = Rows()  # Core INSERTs: this runs for every event the hub publishes
    for subscription in recipients:
        rows.add(Delivery, **common, subscription_id=subscription.id,
                 agency_id=subscription.agency_id, channel=subscription.channel,
                 payload=payload, next_attempt_at=now)
    if not recipients:
        rows.add(Delivery, **common, agency_id=agency_id, status=DeliveryStatus.NO_SUBSCRIPTION)
    await school_deliveries(uow, rows, event, base_url=base_url, common=common, now=now)
    await rows.write(uow)


def _sequence(event: CloudEvent) -> int | None:
    """The referral's version the event was published at; received is always the first."""
    if event.type == events.REFERRAL_RECEIVED:
        return 1
    value = event.data.get("sequence")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_ACTIVE = select(Subscription).where(col(Subscription.active).is_(True))
_ACTIVE_OF_AGENCY = _ACTIVE.where(col(Subscription.agency_id) == bindparam("agency_id"))


async def recipients_of(uow: UnitOfWork, event_type: str, agency_id: str | None
                        ) -> list[Subscription]:
    """Active subscriptions that should hear ``event_type`` (for ``agency_id``'s events).
    The two statements are built once: this runs for every event the hub publishes."""
    if event_type in events.PARTNER_EVENTS and agency_id is None:
        return []
    if event_type in events.PARTNER_EVENTS:
        found = (await uow.session.exec(_ACTIVE_OF_AGENCY,
                                        params={"agency_id": agency_id})).all()
    else:
        found = (await uow.session.exec(_ACTIVE)).all()
    return [s for s in found if event_type in event_types_of(s)]


@dataclass(frozen=True)
class DeliveryFilters:
    """What the delivery log may be narrowed to."""

    referral_id: str | None = None
    status: str | None = None


async def delivery_log(uow: UnitOfWork, caller: Principal, filters: DeliveryFilters,
                       after: tuple[datetime, str] | None, limit: int
                       ) -> list[tuple[Delivery, list[DeliveryAttempt]]]:
    """Deliveries the caller may see, newest first, each with its attempts."""
    query = select(Delivery).order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc())
    if not sees_every_delivery(caller):
        query = query.where(col(Delivery.agency_id) == caller.agency_id)
    if filters.referral_id:
        query = query.where(col(Delivery.referral_id) == filters.referral_id)
    if filters.status:
        query = query.where(col(Delivery.status) == filters.status)
    if after is not None:
        query = query.where(keyset_after([col(Delivery.created_at), col(Delivery.id)], after,
                                         descending=True))
    deliveries = list((await uow.session.exec(query.limit(limit))).all())
    attempts = await _attempts_of(uow, [d.id for d in deliveries])
    return [(d, attempts.get(d.id, [])) for d in deliveries]


async def _attempts_of(uow: UnitOfWork, ids: list[str]) -> dict[str, list[DeliveryAttempt]]:
    if not ids:
        return {}
    rows = (await uow.session.exec(
        select(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(ids))
        .order_by(col(DeliveryAttempt.id)))).all()
    grouped: dict[str, list[DeliveryAttempt]] = {}
    for attempt in rows:
        grouped.setdefault(attempt.delivery_id, []).append(attempt)
    return grouped


async def replay(uow: UnitOfWork, delivery_id: str, now: datetime) -> Delivery:
    """Send a dead-lettered delivery again, with a fresh retry schedule and the same id."""
    delivery = await uow.session.get(Delivery, delivery_id)
    if delivery is None:
        raise Problem(404, "There is no such delivery.", title="Not found")
    if delivery.status != DeliveryStatus.DEAD:
        raise Problem(409, "Only a dead-lettered delivery can be replayed.", title="Conflict")
    subscription = await uow.session.get(Subscription, delivery.subscription_id or "")
    if delivery.address is None and (subscription is None or not subscription.active):
        raise Problem(409, "The delivery's subscription is disabled; re-enable it first.",
                      title="Conflict")
    delivery.status = DeliveryStatus.PENDING
    delivery.dead_reason = None
    delivery.attempt_count = 0
    delivery.next_attempt_at = now
    uow.session.add(delivery)
    return delivery
