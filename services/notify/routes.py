"""HTTP layer of the notify service: parse, call the service, shape the reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.notify import service, subscriptions
from services.notify.models import Delivery, DeliveryAttempt, DeliveryStatus
from services.notify.permissions import DeliveryLogReader, DeliveryReplayer, SubscriptionManager
from services.notify.runtime import RuntimeDep
from services.notify.schemas import (
    AttemptView,
    DeliveryPage,
    DeliveryView,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionUpdate,
    SubscriptionView,
)
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    aware_datetime,
    page_of,
    read_cursor,
)
from shared.service import UnitOfWorkDep

subscription_router = APIRouter(prefix="/api/v1/subscriptions", tags=["subscriptions"])
delivery_router = APIRouter(prefix="/api/v1/deliveries", tags=["deliveries"])


@subscription_router.post("", status_code=201, response_model=SubscriptionCreated)
async def create_subscription(body: SubscriptionCreate, caller: SubscriptionManager,
                              uow: UnitOfWorkDep, runtime: RuntimeDep) -> SubscriptionCreated:
    """Subscribe a webhook endpoint or a mailbox; a webhook's secret is shown only here."""
    created, secret = await subscriptions.create(uow, body, caller, runtime.guard, runtime.secrets,
                                                 runtime.clock())
    return SubscriptionCreated(**subscriptions.view(created).model_dump(), secret=secret)


@subscription_router.get("", response_model=list[SubscriptionView])
async def list_subscriptions(caller: SubscriptionManager, uow: UnitOfWorkDep
                             ) -> list[SubscriptionView]:
    """Your agency's subscriptions (admins: every agency's)."""
    return [subscriptions.view(s) for s in await subscriptions.visible(uow, caller)]


@subscription_router.get("/{subscription_id}", response_model=SubscriptionView)
async def read_subscription(subscription_id: str, caller: SubscriptionManager,
                            uow: UnitOfWorkDep) -> SubscriptionView:
    """One subscription."""
    return subscriptions.view(await subscriptions.get(uow, subscription_id, caller))


@subscription_router.patch("/{subscription_id}", response_model=SubscriptionView)
async def update_subscription(subscription_id: str, body: SubscriptionUpdate,
                              caller: SubscriptionManager, uow: UnitOfWorkDep,
                              runtime: RuntimeDep) -> SubscriptionView:
    """Change the endpoint, mailbox or event types; switch it off or on again."""
    found = await subscriptions.get(uow, subscription_id, caller)
    changed = await subscriptions.update(uow, found, body, caller, runtime.guard, runtime.clock())
    return subscriptions.view(changed)


@subscription_router.post("/{subscription_id}/secret", response_model=SecretRotated)
async def rotate_secret(subscription_id: str, caller: SubscriptionManager, uow: UnitOfWorkDep,
                        runtime: RuntimeDep) -> SecretRotated:
    """A new webhook secret, shown once; both old and new sign during the grace period."""
    found = await subscriptions.get(uow, subscription_id, caller)
    secret = subscriptions.rotate_secret(found, runtime.secrets, runtime.clock(),
                                         runtime.secret_grace)
    uow.session.add(found)
    assert found.previous_secret_expires_at is not None
    return SecretRotated(secret=secret,
                         previous_secret_valid_until=found.previous_secret_expires_at)


@delivery_router.get("", response_model=DeliveryPage)
async def list_deliveries(
    caller: DeliveryLogReader, uow: UnitOfWorkDep, request: Request,
    referral_id: str | None = None, status: DeliveryStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> DeliveryPage:
    """The delivery log, newest first: every attempt with its time, status code and latency."""
    after = read_cursor(cursor, aware_datetime, str)
    filters = service.DeliveryFilters(referral_id=referral_id, status=status)
    rows = await service.delivery_log(uow, caller, filters, after, limit + 1)
    page, links = page_of(rows, limit, request.url, lambda row: (row[0].created_at, row[0].id))
    return DeliveryPage(items=[_delivery_view(d, a) for d, a in page], links=links)


@delivery_router.post("/{delivery_id}/retry", response_model=DeliveryView)
async def retry_delivery(delivery_id: str, caller: DeliveryReplayer, uow: UnitOfWorkDep,
                         runtime: RuntimeDep) -> DeliveryView:
    """Replay a dead-lettered delivery (same webhook-id, a fresh retry schedule)."""
    delivery = await service.replay(uow, delivery_id, runtime.clock())
    return _delivery_view(delivery, [])


def _delivery_view(delivery: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryView:
    return DeliveryView(**delivery.model_dump(exclude={"payload", "event_time"}),
                        attempts=[AttemptView.model_validate(a.model_dump()) for a in attempts])
