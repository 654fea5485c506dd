"""Notify domain logic: turn hub events into deliveries."""

from __future__ import annotations

from sqlmodel import select

from services.notify.models import Delivery
from shared.db import UnitOfWork
from shared.events import CloudEvent, utcnow


async def record_delivery(uow: UnitOfWork, event: CloudEvent) -> None:
    """Log that ``event`` is to be delivered (runs once per event: see the inbox)."""
    referral_id = event.data.get("referral_id")
    uow.session.add(Delivery(
        event_id=event.id,
        event_type=event.type,
        referral_id=str(referral_id) if referral_id else None,
        created_at=utcnow(),
    ))


async def deliveries_for_referral(uow: UnitOfWork, referral_id: str) -> list[Delivery]:
    """Every delivery logged for one referral, oldest first."""
    result = await uow.session.exec(
        select(Delivery).where(Delivery.referral_id == referral_id).order_by(Delivery.created_at)  # type: ignore[arg-type]
    )
    return list(result.all())
