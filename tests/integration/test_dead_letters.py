"""Dead letters in both modes: kept durably, counted in /metrics (`mash_dead_letters`), and
put back by `mash events replay` (after a dry run that changes nothing)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aio_pika
import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlmodel import select

from mash.gateway import Hub, create_hub_app
from services.notify.app import create_service as create_notify
from services.notify.events import QUEUE, REFERRAL_RECEIVED
from services.notify.models import Delivery
from services.notify.service import record_delivery
from shared.broker.rabbitmq import RabbitMQBroker
from shared.db import UnitOfWork
from shared.events import CloudEvent
from shared.outbox import add_to_outbox
from shared.service import Service
from shared.settings import Settings
from tests.helpers import eventually
from tests.integration.hub import BASE, RunningHub, hub_settings

GAUGE = f'mash_dead_letters{{queue="{QUEUE}",service="notify"}}'


class Bug:
    """Notify's partner-event handler with a bug every event meets, until it is fixed."""

    def __init__(self) -> None:
        self.fixed = False

    async def handler(self, uow: UnitOfWork, event: CloudEvent) -> None:
        if not self.fixed:
            raise KeyError("a field this handler wrongly expects")
        await record_delivery(uow, event)

    def install(self, notify: Service) -> None:
        notify.subscriptions = [replace(s, handler=self.handler) if s.queue == QUEUE else s
                                for s in notify.subscriptions]


def poison_event() -> CloudEvent:
    return CloudEvent(source="/tests/dead-letters", type=REFERRAL_RECEIVED,
                      data={"referral_id": "r-dead-1"})


def gauge_value(exposition: str) -> float | None:
    for line in exposition.splitlines():
        if line.startswith(GAUGE):
            return float(line.rsplit(" ", 1)[1])
    return None


async def mash_events_replay(*args: str, env: dict[str, str] | None = None,
                             ) -> subprocess.CompletedProcess[str]:
    mash = str(Path(sys.executable).with_name("mash"))
    return await asyncio.to_thread(
        subprocess.run, [mash, "events", "replay", *args], capture_output=True, text=True,
        timeout=60, check=False, env={**os.environ, **(env or {})})


async def test_in_mash_up_a_poison_event_is_counted_and_mash_events_replay_puts_it_back(
    tmp_path: Path,
) -> None:
    settings = hub_settings(tmp_path)
    hub, bug = Hub(settings), Bug()
    bug.install(hub.services["notify"])
    app = create_hub_app(settings, hub=hub)
    poison = poison_event()
    async with hub.running(), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        running = RunningHub(hub, client)

        async def gauge() -> float | None:
            return gauge_value((await client.get("/metrics")).text)

        async def counted(value: float) -> bool:
            return await gauge() == value

        async with hub.services["referral"].database.unit_of_work() as uow:
            add_to_outbox(uow, poison)
            await uow.commit()
        await eventually(lambda: counted(1))

        listed = await mash_events_replay("--dry-run", "--data-dir", str(tmp_path))
        assert listed.returncode == 0, listed.stderr
        assert f"{QUEUE}\t{poison.id}" in listed.stdout
        assert "1 dead letter(s) would be replayed" in listed.stdout
        assert await gauge() == 1

        bug.fixed = True
        replayed = await mash_events_replay("--data-dir", str(tmp_path))
        assert replayed.returncode == 0, replayed.stderr
        assert "1 dead letter(s) replayed" in replayed.stdout

        async def handled() -> bool:
            return await running.count("notify", Delivery, Delivery.event_id == poison.id) == 1

        await eventually(handled)
        assert await gauge() == 0
        assert await running.count("notify", Delivery, Delivery.event_id == poison.id) == 1


@pytest.fixture
async def rabbit_settings(rabbitmq_server: str, unique_name: str,
                          tmp_path: Path) -> AsyncIterator[Settings]:
    settings = Settings(data_dir=tmp_path, broker_url=rabbitmq_server,
                        broker_exchange=f"{unique_name}.events", broker_delivery_limit=2)
    yield settings
    connection = await aio_pika.connect(rabbitmq_server, timeout=5)
    try:
        channel = await connection.channel()
        naming = RabbitMQBroker(rabbitmq_server, exchange=settings.broker_exchange)
        for queue in (QUEUE, "notify.agency-directory", "notify.sessions-ended"):
            await channel.queue_delete(naming.queue_name(queue))
            await channel.queue_delete(f"{naming.queue_name(queue)}.dead")
        await channel.exchange_delete(settings.broker_exchange)
        await channel.exchange_delete(f"{settings.broker_exchange}.dlx")
    finally:
        await connection.close()


@pytest.mark.rabbitmq
async def test_in_deployment_a_poison_event_is_counted_and_mash_events_replay_puts_it_back(
    rabbit_settings: Settings,
) -> None:
    broker = RabbitMQBroker(rabbit_settings.broker_url, exchange=rabbit_settings.broker_exchange,
                            delivery_limit=rabbit_settings.broker_delivery_limit)
    registry = CollectorRegistry()
    notify, bug = create_notify(rabbit_settings, broker, registry), Bug()
    bug.install(notify)
    await notify.migrate()
    await broker.connect()
    try:
        await notify.start(relay=False)
        poison = poison_event()
        await broker.publish([poison])

        async def counted(value: float) -> bool:
            await notify.count_dead_letters()
            return gauge_value(generate_latest(registry).decode()) == value

        await eventually(lambda: counted(1))
        env = {"MASH_BROKER_URL": rabbit_settings.broker_url,
               "MASH_BROKER_EXCHANGE": rabbit_settings.broker_exchange}
        data_dir = str(rabbit_settings.data_dir)
        listed = await mash_events_replay("--dry-run", "--queue", QUEUE, "--data-dir",
                                          data_dir, env=env)
        assert listed.returncode == 0, listed.stderr
        assert f"{QUEUE}\t{poison.id}" in listed.stdout
        assert "1 dead letter(s) would be replayed" in listed.stdout
        await eventually(lambda: counted(1))

        bug.fixed = True
        replayed = await mash_events_replay("--queue", QUEUE, "--data-dir", data_dir, env=env)
        assert replayed.returncode == 0, replayed.stderr
        assert "1 dead letter(s) replayed" in replayed.stdout

        async def handled() -> bool:
            async with notify.database.unit_of_work() as uow:
                query = select(Delivery).where(Delivery.event_id == poison.id)
                return len((await uow.session.exec(query)).all()) == 1

        await eventually(handled)
        assert await counted(0)
    finally:
        await notify.stop()
        await broker.close()
