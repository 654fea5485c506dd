"""The whole hub started in the test's process (as `mash up` runs it), with a client on
its gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import func, select

from mash.gateway import Hub, create_hub_app
from services.notify.models import Delivery
from shared.settings import Settings
from tests.auth import client_token, load_credentials
from tests.helpers import HUB_BASE_URL

BASE = HUB_BASE_URL


def hub_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "base_url": BASE,
                                 "broker_url": "memory://", "outbox_poll_seconds": 0.2}
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


class RunningHub:
    def __init__(self, hub: Hub, client: httpx.AsyncClient) -> None:
        self.hub = hub
        self.client = client

    async def count(self, service: str, model: type, *where: object) -> int:
        async with self.hub.services[service].database.unit_of_work() as uow:
            query = select(func.count()).select_from(model)
            for clause in where:
                query = query.where(clause)  # type: ignore[arg-type]
            return int((await uow.session.exec(query)).one())

    async def deliveries_for(self, referral_id: str) -> list[Delivery]:
        async with self.hub.services["notify"].database.unit_of_work() as uow:
            result = await uow.session.exec(
                select(Delivery).where(Delivery.referral_id == referral_id)
            )
            return list(result.all())


async def start_hub(
    settings: Settings, *, demo: bool = False
) -> tuple[Hub, httpx.AsyncClient, object]:
    hub = Hub(settings, demo=demo)
    app = create_hub_app(settings, hub=hub)
    running = hub.running()
    await running.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)
    if demo:
        # Every request of these tests comes from the demo police system.
        token = await client_token(client, load_credentials(settings.data_dir),
                                   settings.data_dir)
        client.headers["authorization"] = f"Bearer {token}"
    return hub, client, running
