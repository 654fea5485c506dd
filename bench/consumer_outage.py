"""Drill: notify's database fails (SQLite "database or disk is full" on every statement)
for ``--outage`` seconds while referral events flow to notify's consumer; how many
events are delivered, lost, dead-lettered or delivered twice?

Run: .venv/bin/python bench/consumer_outage.py [--broker memory|rabbitmq] [--events 2000]
     [--outage 10]

A referral outbox (temporary SQLite database, migrated) gets ``--events`` events at an
even rate over ``--seconds``; its relay publishes them (poll 0.2 s) through the broker
(in-process as in `mash up`, or RabbitMQ: MASH_TEST_RABBITMQ_URL, default
amqp://guest:guest@127.0.0.1:5672/, an exchange of its own, deleted after) to notify's
consumer (``record_delivery`` under the idempotent consumer, on a temporary SQLite
database), delivery limit 5 as configured by default. The outage starts 2 s in. Then
the drill waits until every event is delivered, or nothing has changed for 15 s.

It uses only what the code base had before dead letters were kept and counted, so the
same script runs on an older checkout (PYTHONPATH=<checkout>) for a before/after figure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import event as sa_event
from sqlmodel import func, select

from services.notify.app import MIGRATIONS as NOTIFY_MIGRATIONS
from services.notify.events import QUEUE, REFERRAL_RECEIVED
from services.notify.models import Delivery
from services.notify.service import record_delivery
from services.referral.app import MIGRATIONS as REFERRAL_MIGRATIONS
from shared.broker import Broker
from shared.db import Database
from shared.events import CloudEvent
from shared.migrations import upgrade_to_head
from shared.outbox import OutboxMessage, OutboxRelay, add_to_outbox, idempotent_consumer

RABBITMQ_URL = os.environ.get("MASH_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


class Outage:
    """Every statement on ``database`` fails while ``on`` (as SQLite's with a full disk)."""

    def __init__(self, database: Database) -> None:
        self.on = False
        sa_event.listen(database.engine.sync_engine, "before_cursor_execute", self._check)

    def _check(self, *_: Any) -> None:
        if self.on:
            raise sqlite3.OperationalError("database or disk is full")


async def count(database: Database, query: Any) -> int:
    async with database.unit_of_work() as uow:
        return int((await uow.session.exec(query)).one())


async def dead_letters(broker: Broker, notify_db: Database) -> int:
    """Dead-lettered events, wherever this checkout keeps them."""
    found = len(await broker.dead_letters(QUEUE))
    import shared.outbox

    kept = getattr(shared.outbox, "DeadLetter", None)  # an older checkout has none
    if kept is not None:
        found += await count(notify_db, select(func.count()).select_from(kept))
    return found


def make_broker(kind: str, exchange: str) -> Broker:
    if kind == "memory":
        from shared.broker.memory import InProcessBroker

        return InProcessBroker(delivery_limit=5)
    from shared.broker.rabbitmq import RabbitMQBroker

    return RabbitMQBroker(RABBITMQ_URL, exchange=exchange, delivery_limit=5)


async def drop_rabbitmq(exchange: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
    try:
        channel = await connection.channel()
        for name in (f"{exchange}.{QUEUE}", f"{exchange}.{QUEUE}.dead"):
            await channel.queue_delete(name)
        await channel.exchange_delete(exchange)
        await channel.exchange_delete(f"{exchange}.dlx")
    finally:
        await connection.close()


async def drill(kind: str, events: int, seconds: float, outage_seconds: float,
                directory: Path) -> dict[str, float]:
    referral_db = Database(f"sqlite+aiosqlite:///{directory / 'referral.db'}")
    notify_db = Database(f"sqlite+aiosqlite:///{directory / 'notify.db'}")
    await upgrade_to_head(referral_db, REFERRAL_MIGRATIONS, "referral")
    await upgrade_to_head(notify_db, NOTIFY_MIGRATIONS, "notify")
    outage = Outage(notify_db)
    exchange = f"drill{uuid.uuid4().hex[:8]}.events"
    broker = make_broker(kind, exchange)
    await broker.connect()
    await broker.subscribe(QUEUE, [REFERRAL_RECEIVED],
                           idempotent_consumer(notify_db, QUEUE, record_delivery))
    relay = OutboxRelay(referral_db, broker, name="referral", poll_seconds=0.2)
    relay.start()
    started = time.monotonic()

    async def produce() -> None:
        for n in range(events):
            async with referral_db.unit_of_work() as uow:
                add_to_outbox(uow, CloudEvent(source="/drill", type=REFERRAL_RECEIVED,
                                              data={"referral_id": f"r-{n}"}))
                await uow.commit()
            await asyncio.sleep(max(0.0, started + (n + 1) * seconds / events
                                    - time.monotonic()))

    async def fail_for_a_while() -> None:
        await asyncio.sleep(2.0)
        outage.on = True
        await asyncio.sleep(outage_seconds)
        outage.on = False

    await asyncio.gather(produce(), fail_for_a_while())
    delivered_query = select(func.count(func.distinct(Delivery.event_id)))
    last, last_change = -1, time.monotonic()
    while True:
        delivered = await count(notify_db, delivered_query)
        if delivered != last:
            last, last_change = delivered, time.monotonic()
        if delivered >= events or time.monotonic() - last_change > 15:
            break
        await asyncio.sleep(0.2)
    settled = time.monotonic() - started
    await asyncio.sleep(1.0)  # the last window's confirm and mark-sent
    rows = await count(notify_db, select(func.count()).select_from(Delivery))
    unsent = await count(referral_db, select(func.count()).select_from(OutboxMessage)
                         .where(OutboxMessage.sent_at.is_(None)))  # type: ignore[union-attr]
    await relay.stop()
    dead = await dead_letters(broker, notify_db)
    await broker.close()
    if kind == "rabbitmq":
        await drop_rabbitmq(exchange)
    await referral_db.dispose()
    await notify_db.dispose()
    return {"events": events, "delivered": delivered, "lost": events - delivered,
            "dead-lettered": dead, "unsent in outbox": unsent,
            "delivered twice": rows - delivered, "settled after s": round(settled, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--broker", choices=["memory", "rabbitmq"], default="memory")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="over how long the events are written")
    parser.add_argument("--outage", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)
    with tempfile.TemporaryDirectory() as directory:
        figures = asyncio.run(drill(args.broker, args.events, args.seconds, args.outage,
                                    Path(directory)))
    print(f"broker={args.broker} outage={args.outage:g}s "
          + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    sys.exit(0 if figures["lost"] == 0 and figures["delivered twice"] == 0 else 1)


if __name__ == "__main__":
    main()
