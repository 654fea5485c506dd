"""OutboxRelay throughput to the real RabbitMQ, against publishing one event at a time.

Run: .venv/bin/python bench/relay.py [--events 2000] [--rounds 3]

Each round writes N ``mash.referral.received`` events to the outbox of a temporary
SQLite referral database (migrated with the real migrations), then:

* relay:    the referral service's own ``OutboxRelay`` (batch_size 100, as configured by
            default) drains the outbox: it reads a window of rows, publishes them with
            every confirm in flight at once, and marks them sent, window by window;
* baseline: the same N events are published with ``broker.publish([event])`` one at a
            time, each awaiting its publisher confirm (no database involved).

Both go through ``RabbitMQBroker`` to a unique durable topic exchange with a quorum queue
bound to it, so every persistent message is routed, stored and confirmed as in
production (an exchange with no queue confirms unroutable messages without storing
them). The queue is purged between phases; the exchanges and the queue are deleted at
the end. Medians over the rounds are printed with the ratio relay / baseline (above 1.0
means the windowed relay beats confirm-per-message publishing, database work included).

RabbitMQ: MASH_TEST_RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672/ (loopback
only). If it cannot be reached the benchmark says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
from sqlmodel import col, func, select

from services.referral import events as referral_events
from services.referral.app import create_service
from shared.broker import BrokerUnavailable
from shared.broker.rabbitmq import RabbitMQBroker
from shared.events import CloudEvent, utcnow
from shared.outbox import OutboxMessage, add_to_outbox
from shared.service import Service
from shared.settings import Settings

RABBITMQ_URL = os.environ.get("MASH_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
BATCH_SIZE = 100
WARMUP = 50


def make_events(n: int) -> list[CloudEvent]:
    """``n`` events as the referral service writes them on intake."""
    made = []
    for i in range(n):
        referral_id = str(uuid.uuid4())
        made.append(referral_events.referral_received(
            referral_id, f"MASH-2026-{i + 1:06d}", "received", "referral",
            utcnow().isoformat(), f"/api/v1/referrals/{referral_id}",
        ))
    return made


async def fill_outbox(service: Service, events: list[CloudEvent]) -> None:
    async with service.database.unit_of_work() as uow:
        for event in events:
            add_to_outbox(uow, event)
        await uow.commit()


async def queue_depth(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    count = declared.declaration_result.message_count
    return int(count or 0)


async def wait_for_depth(channel: aio_pika.abc.AbstractChannel, queue: str, n: int) -> None:
    """Quorum queues report their length a little after the confirm; wait briefly."""
    depth = 0
    for _ in range(50):
        depth = await queue_depth(channel, queue)
        if depth == n:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"queue {queue} holds {depth} messages, expected {n}")


async def run(n: int, rounds: int) -> int:
    parts = urlsplit(RABBITMQ_URL)
    where = f"{parts.hostname}:{parts.port or 5672}"  # never print the password
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        print(f"refusing a non-loopback RabbitMQ ({where}); benchmarks stay on 127.0.0.1")
        return 2

    exchange = f"bench.relay.{uuid.uuid4().hex[:10]}"
    queue = f"{exchange}.q"
    broker = RabbitMQBroker(RABBITMQ_URL, exchange=exchange)
    try:
        await broker.connect()
    except BrokerUnavailable as exc:
        print(f"RabbitMQ is not available at {where} ({exc}); nothing measured")
        return 2

    admin = await aio_pika.connect(RABBITMQ_URL)
    channel = await admin.channel()
    relay_rates: list[float] = []
    base_rates: list[float] = []
    plain_rates: list[float] = []
    try:
        declared = await channel.declare_queue(
            queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await declared.bind(exchange, routing_key="#")

        with tempfile.TemporaryDirectory(prefix="mash-bench-relay-") as tmp:
            settings = Settings(environment="development", data_dir=Path(tmp),
                                referral_database_url=None, outbox_batch_size=BATCH_SIZE)
            service = create_service(settings, broker)
            try:
                await service.migrate()
                relay = service.relay
                assert relay.batch_size == BATCH_SIZE

                # Warm up connection, channel and code paths (not timed).
                await fill_outbox(service, make_events(WARMUP))
                await relay.drain()
                for event in make_events(WARMUP):
                    await broker.publish([event])
                await declared.purge()

                for r in range(rounds):
                    events = make_events(n)

                    # Baseline: one event per publish, each confirm awaited in turn.
                    started = time.perf_counter()
                    for event in events:
                        await broker.publish([event])
                    base_rates.append(n / (time.perf_counter() - started))
                    await wait_for_depth(channel, queue, n)
                    await declared.purge()

                    # The relay as written: windows of BATCH_SIZE rows, confirms in flight.
                    await fill_outbox(service, events)
                    started = time.perf_counter()
                    published = await relay.drain()
                    relay_rates.append(n / (time.perf_counter() - started))
                    if published != n or await relay.pending() != 0:
                        raise RuntimeError(f"relay published {published} of {n}")
                    await wait_for_depth(channel, queue, n)
                    await declared.purge()

                    # For reference: the same windows straight to the broker, no database.
                    started = time.perf_counter()
                    for i in range(0, n, BATCH_SIZE):
                        await broker.publish(events[i:i + BATCH_SIZE])
                    plain_rates.append(n / (time.perf_counter() - started))
                    await wait_for_depth(channel, queue, n)
                    await declared.purge()

                    print(f"  round {r + 1}/{rounds}: baseline {base_rates[-1]:,.0f}/s, "
                          f"relay {relay_rates[-1]:,.0f}/s, "
                          f"windows without database {plain_rates[-1]:,.0f}/s", flush=True)

                async with service.database.unit_of_work() as uow:
                    sent = (await uow.session.exec(
                        select(func.count()).select_from(OutboxMessage)
                        .where(col(OutboxMessage.sent_at).is_not(None))
                    )).one()
                if sent != WARMUP + rounds * n:
                    raise RuntimeError(f"{sent} outbox rows marked sent, "
                                       f"expected {WARMUP + rounds * n}")
            finally:
                await service.stop()
    finally:
        await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
        await channel.exchange_delete(f"{exchange}.dlx")
        await admin.close()
        await broker.close()

    base = statistics.median(base_rates)
    relay_rate = statistics.median(relay_rates)
    plain = statistics.median(plain_rates)
    print()
    print(f"{n} persistent events to RabbitMQ (quorum queue), publisher confirms; "
          f"median of {rounds} rounds")
    print(f"{'method':<66} {'events/s':>10}")
    print(f"{'baseline: broker.publish([event]), one confirm awaited at a time':<66} "
          f"{base:>10,.0f}")
    print(f"{f'OutboxRelay.drain(), batch_size {BATCH_SIZE} (SQLite outbox)':<66} "
          f"{relay_rate:>10,.0f}")
    print(f"{f'(reference) broker.publish(window of {BATCH_SIZE}), no database':<66} "
          f"{plain:>10,.0f}")
    print()
    print(f"ratio relay / baseline: {relay_rate / base:.2f}x")
    print(f"(reference) windows without database / baseline: {plain / base:.2f}x")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.events, args.rounds)))


if __name__ == "__main__":
    main()
