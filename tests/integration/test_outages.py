"""A service whose database is away answers 503 with Retry-After, on a connection it keeps."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import event

from services.identity.app import create_service
from services.referral.referrals.models import Referral
from shared.broker.memory import InProcessBroker
from shared.db import Database
from shared.outages import RETRY_AFTER_SECONDS
from shared.settings import Settings
from tests.bodies import referral_body
from tests.helpers import HUB_BASE_URL, KeepAliveClient, free_port, served
from tests.integration.hub import RunningHub, hub_settings, start_hub


async def test_a_database_refusing_connections_answers_503_and_the_connection_stays_usable(
) -> None:
    closed_port = free_port()  # nothing listens there: every connection is refused
    settings = Settings(base_url=HUB_BASE_URL, identity_database_url=(
        f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/test"))
    service = create_service(settings, InProcessBroker())
    credentials = base64.b64encode(b"partner-system:not-a-real-secret").decode()
    form = b"grant_type=client_credentials"
    try:
        async with served(service.app) as port:
            connection = await KeepAliveClient.open(port)
            try:
                status, headers, body = await connection.request(
                    "POST", "/oauth2/token", {
                        "Authorization": f"Basic {credentials}",
                        "Content-Type": "application/x-www-form-urlencoded"}, form)

                assert status == 503, body
                assert headers["content-type"] == "application/problem+json"
                assert headers["retry-after"] == str(RETRY_AFTER_SECONDS)
                assert headers.get("connection") != "close"
                assert json.loads(body)["title"] == "Service unavailable"
                again, _, _ = await connection.request("GET", "/healthz")
                assert again == 200
            finally:
                await connection.close()
    finally:
        await service.database.dispose()


def fill_the_disk(database: Database) -> Callable[[Any, Any], None]:
    """From the next connection on, SQLite may not grow the file by a page, and its free
    pages are taken: a write that needs a page fails with SQLITE_FULL ("database or disk
    is full"), as on a full disk."""
    assert database.file is not None
    with closing(sqlite3.connect(database.file)) as filler:
        filler.execute("CREATE TABLE test_filler (b BLOB)")
        filler.commit()
        pages = filler.execute("PRAGMA page_count").fetchone()[0]
        filler.execute(f"PRAGMA max_page_count = {pages}")
        try:
            while True:
                filler.execute("INSERT INTO test_filler VALUES (zeroblob(1000))")
        except sqlite3.OperationalError as full:
            assert "full" in str(full)
        filler.commit()

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(database.engine.sync_engine, "connect", no_room)
    return no_room


async def test_a_full_disk_answers_503_and_the_retry_with_the_same_key_stores_it_once(
    demo_data_dir: Path,
) -> None:
    hub, client, running = await start_hub(hub_settings(demo_data_dir), demo=True)
    try:
        database = hub.services["referral"].database
        no_room = fill_the_disk(database)
        await database.engine.dispose()
        key = {"Idempotency-Key": "partner-ref-0001"}
        # Longer than a page: the tables' pages with room left cannot hold it.
        body = referral_body(summary="synthetic account " * 500)

        refused = await client.post("/api/v1/referrals", json=body, headers=key)

        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        assert refused.headers["content-type"] == "application/problem+json"
        assert await RunningHub(hub, client).count("referral", Referral) == 0

        event.remove(database.engine.sync_engine, "connect", no_room)  # room again
        await database.engine.dispose()
        stored = await client.post("/api/v1/referrals", json=body, headers=key)
        again = await client.post("/api/v1/referrals", json=body, headers=key)

        assert stored.status_code == 201, stored.text
        assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
        assert await RunningHub(hub, client).count("referral", Referral) == 1
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]
