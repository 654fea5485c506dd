"""Intake throughput: POST /api/v1/referrals on the in-process hub, against a trivial
FastAPI endpoint doing one SQLite insert and commit per request.

Run: .venv/bin/python bench/intake.py [--requests 500] [--rounds 3]

Both apps are called in this process through ``httpx.AsyncClient`` with
``ASGITransport`` (no sockets), one request after another, with the same JSON body.

* hub:      ``mash.gateway.Hub`` + ``create_hub_app`` as `mash up` runs them (SQLite files
            in a temporary data dir, in-process broker, relays and consumers running), so
            each request passes the gateway middleware, the referral service's routing,
            validation, reference counter, referral + outbox row in one commit; the relay
            and the notify consumer work in the background as they would.
* baseline: a FastAPI app whose POST handler validates a small body and does one INSERT
            and COMMIT on a SQLite file with the same engine settings (aiosqlite, WAL,
            synchronous=NORMAL), and answers 201.

Before each hub round the outbox is drained, so background work left over from one
round is not charged to the next. For reference, a third measurement pauses the hub's
outbox relays, so only the request path is timed (what the caller waits for); the rows
it leaves are relayed, untimed, before the next round. Medians over the rounds are
printed with the ratio hub / baseline (1.0 means intake costs no more than one bare
insert+commit per request).
Log output is not configured here, so the hub's JSON access log lines are not written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from fastapi import FastAPI, status
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from mash.gateway import Hub, create_hub_app
from shared.db import create_engine
from shared.settings import Settings

BASE = "http://127.0.0.1:8000"
BODY = {
    "source": "6",
    "referrer": {"name": "PC 4021 Ellis", "role": "Police officer"},
    "subjects": [{"role": "child", "given_name": "Amy", "family_name": "Example",
                  "date_of_birth": "2012-04-02", "sex": "F", "nhs_number": "999 000 0018",
                  "address": {"postcode": "S60 1AA"}}],
    "concerns": ["3A"],
    "summary": "synthetic benchmark referral",
    "consent": {"status": "not_sought", "reason": "would increase risk"},
}
WARMUP = 20


class Item(BaseModel):
    source: str
    summary: str | None = None


def baseline_app(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()

    @app.post("/items", status_code=status.HTTP_201_CREATED)
    async def create_item(item: Item) -> dict[str, str]:
        item_id = str(uuid.uuid4())
        async with engine.begin() as conn:  # one INSERT, one COMMIT
            await conn.execute(
                text("INSERT INTO items (id, source, summary) VALUES (:id, :source, :summary)"),
                {"id": item_id, "source": item.source, "summary": item.summary},
            )
        return {"id": item_id}

    return app


async def post_many(client: httpx.AsyncClient, path: str, n: int) -> float:
    """POST ``n`` times one after another; return requests per second."""
    started = time.perf_counter()
    for _ in range(n):
        response = await client.post(path, json=BODY)
        if response.status_code != 201:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:300]}")
    return n / (time.perf_counter() - started)


async def drained(hub: Hub) -> None:
    relay = hub.services["referral"].relay
    for _ in range(600):
        if await relay.pending() == 0:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the referral outbox did not drain within 30 s")


async def run(n: int, rounds: int) -> None:
    hub_rates: list[float] = []
    base_rates: list[float] = []
    paused_rates: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mash-bench-intake-") as tmp:
        settings = Settings(
            environment="development", data_dir=Path(tmp) / "hub", base_url=BASE,
            broker_url="memory://", referral_database_url=None, notify_database_url=None,
            identity_database_url=None,
        )
        hub = Hub(settings, demo=True)
        hub_app = create_hub_app(settings, hub=hub)

        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'baseline.db'}")
        async with engine.begin() as conn:
            await conn.execute(text(
                "CREATE TABLE items (id VARCHAR(36) PRIMARY KEY, source VARCHAR(4) NOT NULL, "
                "summary TEXT)"
            ))
        base_app = baseline_app(engine)

        try:
            async with (
                hub.running(),
                httpx.AsyncClient(transport=httpx.ASGITransport(app=hub_app),
                                  base_url=BASE) as hub_client,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=base_app),
                                  base_url=BASE) as base_client,
            ):
                # The hub's requests come from the demo police system, as a partner's would.
                credentials = json.loads(hub.demo_credentials.read_text())
                police = credentials["clients"][0]
                token = (await hub_client.post(
                    "/oauth2/token", data={"grant_type": "client_credentials"},
                    auth=(police["client_id"], police["client_secret"]),
                )).json()["access_token"]
                hub_client.headers["authorization"] = f"Bearer {token}"
                await post_many(base_client, "/items", WARMUP)
                await post_many(hub_client, "/api/v1/referrals", WARMUP)
                for r in range(rounds):
                    base_rates.append(await post_many(base_client, "/items", n))
                    await drained(hub)
                    hub_rates.append(await post_many(hub_client, "/api/v1/referrals", n))
                    await drained(hub)
                    # Reference: the request path alone, relays paused (rows wait unsent).
                    for service in hub.services.values():
                        await service.relay.stop()
                    paused_rates.append(await post_many(hub_client, "/api/v1/referrals", n))
                    for service in hub.services.values():
                        service.relay.start()
                    await drained(hub)
                    print(f"  round {r + 1}/{rounds}: baseline {base_rates[-1]:,.0f}/s, "
                          f"hub {hub_rates[-1]:,.0f}/s, "
                          f"hub with relays paused {paused_rates[-1]:,.0f}/s", flush=True)
        finally:
            await engine.dispose()

    base = statistics.median(base_rates)
    hub_rate = statistics.median(hub_rates)
    paused = statistics.median(paused_rates)
    print()
    print(f"{n} sequential POSTs through httpx ASGITransport; median of {rounds} rounds")
    print(f"{'endpoint':<58} {'requests/s':>10}")
    print(f"{'baseline: FastAPI POST, one SQLite INSERT + COMMIT':<58} {base:>10,.0f}")
    print(f"{'hub: POST /api/v1/referrals (mash up, in-process)':<58} {hub_rate:>10,.0f}")
    print(f"{'(reference) hub with relays paused: request path only':<58} {paused:>10,.0f}")
    print()
    print(f"ratio hub / baseline: {hub_rate / base:.2f}x")
    print(f"(reference) hub with relays paused / baseline: {paused / base:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
