"""Notify under test: a hub whose notify delivers to a webhook receiver of the test's, and
notify alone on its database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from mash.gateway import Hub
from services.notify import events
from services.notify.app import MIGRATIONS
from services.notify.channels.email import EmailChannel
from services.notify.channels.webhook import WebhookChannel
from services.notify.dispatcher import Dispatcher
from services.notify.models import Delivery, DeliveryAttempt, Subscription
from services.notify.retries import RetryPolicy
from services.notify.secret_box import SecretBox
from services.notify.service import record_delivery
from services.notify.settings import NotifySettings
from services.notify.signing import new_webhook_secret
from shared.db import Database
from shared.events import CloudEvent
from shared.migrations import upgrade_to_head
from shared.settings import Settings
from shared.ssrf import Resolver, UrlGuard, resolve
from tests.auth import client_token, current_otp, demo_user, load_credentials
from tests.webhooks import FakeClock, Receiver

POLICE_AGENCY = "agency-police"
RECEIVED = "mash.referral.received"
NO_JITTER = RetryPolicy([5.0, 300.0, 1800.0], jitter=0)


class NotifyHub:
    def __init__(self, hub: Hub, client: httpx.AsyncClient, data_dir: Path) -> None:
        self.hub = hub
        self.client = client  # the demo police system
        self.data_dir = data_dir
        self.credentials = load_credentials(data_dir)

    async def staff(self, username: str) -> httpx.AsyncClient:
        """A client signed in as a demo member of staff."""
        user = demo_user(self.credentials, username)
        staff = httpx.AsyncClient(transport=self.client._transport, base_url=self.client.base_url,
                                  headers={"x-mash-csrf": "1"})
        signed_in = await staff.post("/api/v1/sessions", json={
            "username": username, "password": user["password"],
            "otp": current_otp(user["totp_secret"])})
        assert signed_in.status_code in (200, 201), signed_in.text
        return staff

    async def health_system(self) -> httpx.AsyncClient:
        token = await client_token(self.client, self.credentials, self.data_dir,
                                   "northshire-health-system")
        return httpx.AsyncClient(transport=self.client._transport, base_url=self.client.base_url,
                                 headers={"authorization": f"Bearer {token}"})

    async def subscribe(self, url: str, **extra: Any) -> dict[str, Any]:
        response = await self.client.post("/api/v1/subscriptions", json={
            "channel": "webhook", "url": url, "event_types": [RECEIVED], **extra})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


@pytest.fixture
async def notify_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database, MIGRATIONS, "notify")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


class Notify:
    """Notify's database, its dispatcher and a clock the test moves."""

    def __init__(self, database: Database, *, policy: RetryPolicy = NO_JITTER,
                 settings: NotifySettings | None = None, timeout: float = 5.0,
                 resolver: Resolver = resolve, clock: FakeClock | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.database = database
        self.settings = settings or NotifySettings()
        self.clock = clock or FakeClock()
        self.secrets = SecretBox(Settings())
        guard = UrlGuard(allow_loopback=True, resolver=resolver, what="webhook URL")
        webhook = WebhookChannel(guard, self.secrets, timeout=timeout, clock=self.clock,
                                 transport=transport)
        self.dispatcher = Dispatcher(
            database, {"webhook": webhook, "email": EmailChannel(self.settings)}, policy,
            clock=self.clock, poll_seconds=0.05, lease=timedelta(seconds=60))

    async def subscribe(self, agency_id: str, *, url: str | None = None,
                        address: str | None = None,
                        event_types: tuple[str, ...] = tuple(events.PARTNER_EVENTS)
                        ) -> tuple[str, str]:
        secret = new_webhook_secret()
        now = self.clock()
        subscription = Subscription(
            agency_id=agency_id, channel="webhook" if url else "email", url=url,
            address=address, event_types=json.dumps(sorted(event_types)),
            secret_encrypted=self.secrets.seal(secret) if url else None,
            created_at=now, updated_at=now)
        async with self.database.unit_of_work() as uow:
            uow.session.add(subscription)
            await uow.commit()
        return subscription.id, secret

    async def publish(self, event: CloudEvent) -> None:
        async with self.database.unit_of_work() as uow:
            await record_delivery(uow, event, base_url="https://hub.example", now=self.clock())
            await uow.commit()

    async def deliveries(self, **where: Any) -> list[Delivery]:
        async with self.database.unit_of_work() as uow:
            query = select(Delivery).order_by(col(Delivery.created_at))
            for name, value in where.items():
                query = query.where(getattr(Delivery, name) == value)
            return list((await uow.session.exec(query)).all())

    async def only_delivery(self, **where: Any) -> Delivery:
        (found,) = await self.deliveries(**where)
        return found

    async def attempts(self, delivery_id: str) -> list[DeliveryAttempt]:
        async with self.database.unit_of_work() as uow:
            return list((await uow.session.exec(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(col(DeliveryAttempt.id)))).all())

    async def subscription(self, subscription_id: str) -> Subscription:
        async with self.database.unit_of_work() as uow:
            found = await uow.session.get(Subscription, subscription_id)
            assert found is not None
            return found

    async def when_next_due(self, delivery_id: str) -> datetime:
        (delivery,) = await self.deliveries(id=delivery_id)
        assert delivery.next_attempt_at is not None, delivery.status
        return delivery.next_attempt_at

    async def run_due(self) -> int:
        return await self.dispatcher.drain()


def referral_event(event_type: str = events.REFERRAL_RECEIVED, *, referral_id: str = "r-1",
                   agency_id: str = POLICE_AGENCY, time: datetime | None = None,
                   **data: Any) -> CloudEvent:
    body = {"referral_id": referral_id, "reference": "MASH-2026-000001",
            "status": "received", "kind": "referral", "referring_agency_id": agency_id,
            "links": {"self": f"/api/v1/referrals/{referral_id}"},
            "child_name": "Amy Example", "summary": "synthetic narrative", **data}
    extra = {"time": time} if time else {}
    return CloudEvent(source="/services/referral", type=event_type, subject=referral_id,
                      data=body, **extra)


