"""`/readyz` tells the truth quickly: a write probe, free disk, the broker's real state, and
every check bounded by a timeout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.responses import JSONResponse
from sqlalchemy import event, text

from mash.gateway import Hub
from shared.broker import BrokerUnavailable
from shared.broker.rabbitmq import RabbitMQBroker
from shared.db import Database
from shared.service import readiness, writable
from tests.helpers import eventually
from tests.integration.hub import hub_settings, start_hub


def make_read_only(database: Database) -> None:
    """Every connection made from now on refuses writes (as a standby, or a file mounted
    read-only, would), and still answers reads."""
    if database.is_sqlite:
        def query_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

        event.listen(database.engine.sync_engine, "connect", query_only)
    else:
        def read_only(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]
                      ) -> None:
            settings = cparams.setdefault("server_settings", {})
            settings["default_transaction_read_only"] = "on"

        event.listen(database.engine.sync_engine, "do_connect", read_only)


async def test_the_write_probe_finds_a_database_that_answers_reads_but_takes_no_write(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE alembic_version_probed "
                                    "(version_num VARCHAR(32) PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO alembic_version_probed VALUES ('abc')"))
        checks = {"database": writable(database, "probed")}
        assert await readiness(checks, seconds_each=5) == {
            "status": "ready", "checks": {"database": "ok"}}

        make_read_only(database)
        await database.engine.dispose()
        await database.ping()  # reads are still answered
        answer = await readiness(checks, seconds_each=5)

        assert isinstance(answer, JSONResponse) and answer.status_code == 503
        assert json.loads(answer.body)["checks"]["database"].startswith("unavailable:")
        async with database.engine.connect() as conn:  # the probe left the row as it was
            version = (await conn.execute(text(
                "SELECT version_num FROM alembic_version_probed"))).scalar_one()
        assert version == "abc"
    finally:
        await database.dispose()


@pytest.fixture
async def hub_client(data_dir: Path, request: pytest.FixtureRequest
                     ) -> AsyncIterator[tuple[Hub, httpx.AsyncClient]]:
    overrides: dict[str, object] = getattr(request, "param", {})
    hub, client, running = await start_hub(hub_settings(data_dir, **overrides))
    try:
        yield hub, client
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


def not_ready(response: httpx.Response) -> dict[str, str]:
    """The checks of a 503 problem+json answer."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    checks: dict[str, str] = response.json()["checks"]
    return checks


@pytest.mark.parametrize("hub_client", [{"ready_min_free_disk_mb": 2**40}], indirect=True)
async def test_readyz_is_503_when_the_databases_disk_has_less_free_than_the_threshold(
    hub_client: tuple[Hub, httpx.AsyncClient],
) -> None:
    hub, client = hub_client
    checks = not_ready(await client.get("/readyz"))

    assert checks["disk"].startswith("unavailable:") and "MB free" in checks["disk"]
    assert checks["referral.database"] == "ok" and checks["broker"] == "ok"
    # Each service's own /readyz says the same.
    service = hub.services["notify"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app),
                                 base_url="http://notify") as own:
        assert not_ready(await own.get("/readyz"))["disk"].startswith("unavailable:")


async def test_readyz_is_503_when_a_database_takes_no_write(
    hub_client: tuple[Hub, httpx.AsyncClient],
) -> None:
    hub, client = hub_client
    database = hub.services["referral"].database
    make_read_only(database)
    await database.engine.dispose()

    checks = not_ready(await client.get("/readyz"))

    assert checks["referral.database"].startswith("unavailable:")
    assert checks["notify.database"] == "ok" and checks["disk"] == "ok"


@pytest.mark.parametrize("hub_client", [{"ready_timeout_seconds": 0.2}], indirect=True)
async def test_readyz_answers_when_a_check_hangs_reporting_it_timed_out(
    hub_client: tuple[Hub, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub, client = hub_client

    async def never_answers() -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(hub.broker, "ping", never_answers)
    # Bounded here too: were the check not bounded, this would fail rather than hang.
    async with asyncio.timeout(10):
        checks = not_ready(await client.get("/readyz"))

    assert checks["broker"] == "unavailable: no answer within 0.2 s"
    assert checks["referral.database"] == "ok"


@pytest.mark.rabbitmq
async def test_rabbitmq_readiness_follows_the_connection_lost_and_back(
    rabbitmq_server: str, unique_name: str,
) -> None:
    broker = RabbitMQBroker(rabbitmq_server, exchange=f"{unique_name}.events")
    await broker.connect()
    try:
        await broker.ping()
        connection = broker._connection  # to cut it as the network would
        assert connection is not None and connection.transport is not None

        await connection.transport.connection.close(ConnectionError("cut"))

        async def unavailable() -> bool:
            try:
                await broker.ping()
            except BrokerUnavailable:
                return True
            return False

        await eventually(unavailable, within=2, interval=0.001)
        answer = await readiness({"broker": broker.ping}, seconds_each=5)
        assert isinstance(answer, JSONResponse) and answer.status_code == 503

        async def back() -> bool:
            return not await unavailable()

        await eventually(back, within=10)  # the robust connection reconnects by itself
        assert await readiness({"broker": broker.ping}, seconds_each=5) == {
            "status": "ready", "checks": {"broker": "ok"}}
    finally:
        await broker.close()
