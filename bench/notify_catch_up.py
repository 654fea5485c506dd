"""How soon a partner's webhook endpoint gets its backlog after it comes back from an outage,
against posting the same webhooks to it with nothing in the way.

Run: .venv/bin/python bench/notify_catch_up.py [--backlog 2000] [--database-url URL]

Notify's own dispatcher (services/notify/app.py's ``create_dispatcher``, default settings
but loopback webhooks allowed) runs on a temporary SQLite database (or ``--database-url``,
e.g. an empty PostgreSQL database), migrated. One police webhook subscription points at
a receiver (HTTP/1.1 on asyncio streams, answers 204) that is not listening yet:

1. ``--backlog`` referral events reach notify; every delivery fails (connection refused),
   is retried 5 s later, fails again and waits for its next retry (300 s, jittered
   ±20%: the schedule). *Before*, nothing else happened until then: the figure printed
   for it is when the last of them was due, from the database, not waited for.
2. The receiver starts listening ("back"). *With traffic*, one more referral event
   arrives, as under any load, and its delivery succeeds; *no traffic*, nothing arrives,
   and the dispatcher's probe (one waiting delivery tried early every
   ``notify_probe_seconds``, 5 by default) succeeds. Either success brings the
   endpoint's waiting deliveries forward (``notify_catch_up_per_second``, 100 by
   default). *After*: seconds from back until the receiver has every webhook of the
   backlog. Each case has a backlog and a database of its own.

Baseline: the same number of webhooks, the same body size, POSTed to the receiver with
httpx at the dispatcher's concurrency (its batch size, 50), timed from the first to the
last answer. Ratios: after / baseline and before / after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from sqlmodel import col, delete, func, select

from services.notify import events
from services.notify.app import MIGRATIONS, create_dispatcher
from services.notify.models import Delivery, DeliveryAttempt, Subscription
from services.notify.runtime import NotifyRuntime
from services.notify.secret_box import SecretBox
from services.notify.service import record_delivery
from services.notify.settings import NotifySettings
from services.notify.signing import new_webhook_secret
from shared.db import Database
from shared.events import CloudEvent, utcnow
from shared.migrations import upgrade_to_head
from shared.settings import Settings
from shared.ssrf import UrlGuard

HOST = "127.0.0.1"
POLICE = "agency-police"


class Receiver:
    """A partner's endpoint: answers 204 on kept-alive connections, counts referral ids."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.referrals: set[str] = set()
        self.requests = 0
        self.body_size = 0
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks/mash"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, HOST, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                self.requests += 1
                self.body_size = len(body)
                referral_id = json.loads(body).get("data", {}).get("referral_id")
                if referral_id:
                    self.referrals.add(str(referral_id))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def referral_event(referral_id: str) -> CloudEvent:
    return CloudEvent(source="/services/referral", type=events.REFERRAL_RECEIVED,
                      subject=referral_id, data={
                          "referral_id": referral_id, "reference": "MASH-2026-000001",
                          "status": "received", "kind": "referral",
                          "referring_agency_id": POLICE,
                          "links": {"self": f"/api/v1/referrals/{referral_id}"}})


async def subscribe(database: Database, secrets: SecretBox, url: str) -> None:
    now = utcnow()
    async with database.unit_of_work() as uow:
        uow.session.add(Subscription(
            agency_id=POLICE, channel="webhook", url=url,
            event_types=json.dumps([events.REFERRAL_RECEIVED]),
            secret_encrypted=secrets.seal(new_webhook_secret()), created_at=now,
            updated_at=now))
        await uow.commit()


async def arrive(database: Database, referral_ids: list[str]) -> None:
    async with database.unit_of_work() as uow:
        for referral_id in referral_ids:
            await record_delivery(uow, referral_event(referral_id))
        await uow.commit()


async def waiting_for_second_retry(database: Database, backlog: int) -> bool:
    async with database.unit_of_work() as uow:
        count = (await uow.session.exec(
            select(func.count()).select_from(Delivery)
            .where(col(Delivery.attempt_count) >= 2,
                   col(Delivery.next_attempt_at) > utcnow() + timedelta(seconds=60)))).one()
    return int(count) >= backlog


async def last_due_in(database: Database) -> float:
    async with database.unit_of_work() as uow:
        last = (await uow.session.exec(
            select(func.max(col(Delivery.next_attempt_at)))
            .where(col(Delivery.status) == "pending"))).one()
    assert last is not None
    return (last - utcnow()).total_seconds()


async def baseline(receiver: Receiver, count: int, concurrency: int) -> float:
    """Seconds for ``count`` bare POSTs of the webhook's size at ``concurrency``."""
    body = json.dumps({"type": events.REFERRAL_RECEIVED, "pad": "x" * receiver.body_size})
    pending = iter(range(count))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in pending:
            (await client.post(receiver.url, content=body,
                               headers={"content-type": "application/json"})
             ).raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started


async def one_outage(backlog: int, database_url: str | None, *, traffic: bool
                     ) -> tuple[float, float, Receiver]:
    """(before, after, the receiver) for one backlog; see the module's docstring."""
    with tempfile.TemporaryDirectory(prefix="mash-bench-catch-up-") as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'notify.db'}"
        database = Database(url)
        await upgrade_to_head(database, MIGRATIONS, "notify")
        settings = NotifySettings(notify_allow_loopback_webhooks=True)
        parts = NotifyRuntime(guard=UrlGuard(allow_loopback=True),
                            secrets=SecretBox(Settings()), secret_grace=timedelta(days=1))
        dispatcher = create_dispatcher(settings, database, parts)
        receiver = Receiver(free_port())
        await subscribe(database, parts.secrets, receiver.url)
        try:
            dispatcher.start()
            ids = [str(uuid.uuid4()) for _ in range(backlog)]
            await arrive(database, ids)
            deadline = time.monotonic() + 120
            while not await waiting_for_second_retry(database, backlog):
                if time.monotonic() > deadline:
                    raise RuntimeError("the backlog did not reach its second retry")
                await asyncio.sleep(0.5)
            before = await last_due_in(database)

            await receiver.start()
            back = time.perf_counter()
            if traffic:
                await arrive(database, [str(uuid.uuid4())])
            deadline = time.monotonic() + 300
            while not set(ids) <= receiver.referrals:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(set(ids) & receiver.referrals)} of {backlog} "
                                       "arrived within 300 s")
                await asyncio.sleep(0.05)
            return before, time.perf_counter() - back, receiver
        finally:
            await dispatcher.stop()
            await receiver.stop()
            await empty(database)  # a --database-url is used again by the next case
            await database.dispose()


async def empty(database: Database) -> None:
    async with database.unit_of_work() as uow:
        for model in (DeliveryAttempt, Delivery, Subscription):
            await uow.session.exec(delete(model))
        await uow.commit()


async def run(backlog: int, database_url: str | None) -> int:
    found: dict[str, tuple[float, float, Receiver]] = {}
    for traffic in (True, False):
        label = "with traffic" if traffic else "no traffic"
        print(f"  {label}: {backlog} deliveries to an endpoint refusing connections, "
              "retried 5 s later, then waiting", flush=True)
        found[label] = await one_outage(backlog, database_url, traffic=traffic)
        print(f"  {label}: every webhook arrived {found[label][1]:.2f} s after the "
              "endpoint was back", flush=True)
    receiver = found["with traffic"][2]
    await receiver.start()
    try:
        base = await baseline(receiver, backlog, NotifySettings().notify_batch_size)
    finally:
        await receiver.stop()

    before = statistics.median(figures[0] for figures in found.values())
    print()
    print(f"a backlog of {backlog} webhooks to one endpoint, back after an outage")
    print(f"{'':<66} {'seconds':>8}")
    print(f"{'baseline: the same POSTs, nothing in the way':<66} {base:>8.2f}")
    print(f"{'before: the last waiting retry was due (schedule; median)':<66} {before:>8.2f}")
    for label, (_, after, _) in found.items():
        print(f"{'after, ' + label + ': every webhook of the backlog arrived':<66} "
              f"{after:>8.2f}")
    print()
    for label, (_, after, _) in found.items():
        print(f"{label}: ratio after / baseline {after / base:.2f}, "
              f"before / after {before / after:.2f}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument("--database-url", default=None,
                        help="an empty database for notify (default: a temporary SQLite)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # not the outage's expected warnings
    sys.exit(asyncio.run(run(args.backlog, args.database_url)))


if __name__ == "__main__":
    main()
