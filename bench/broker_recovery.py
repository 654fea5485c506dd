"""How soon events flow again after RabbitMQ comes back: the hub as it was, as it is, and a
fresh client (the baseline), all through the same outages.

Run: .venv/bin/python bench/broker_recovery.py [--rounds 2] [--outage 5]

THIS STOPS THE LOCAL RABBITMQ APPLICATION (`rabbitmqctl stop_app`) for ``--outage``
seconds (at most 12) per round, then starts it again (`rabbitmqctl start_app`, also on
any error or Ctrl+C). Everyone using that RabbitMQ sees the outage: run it only where
that is acceptable. RabbitMQ: MASH_TEST_RABBITMQ_URL, default
amqp://guest:guest@127.0.0.1:5672/ (loopback only).

Each configuration is a referral service (temporary SQLite database, migrated) with its
own ``RabbitMQBroker`` and exchange, its outbox relay running (poll 1 s, as configured by
default) and a consumer on a queue bound to its events; an event is written to its
outbox every 50 ms throughout. The configurations:

* before: as the hub was at commit 571d0a9: aio-pika's reconnect interval of 5 s, the
          relay backing off up to 30 s, nobody waking it when the broker is back;
* after:  as it is now: reconnect interval 0.5 s, the relay's backoff capped at 5 s,
          and woken when the connection is back.

The baseline is the soonest anything can do it: from the moment ``start_app`` returns, a
new connection is tried every 20 ms, and as soon as one opens it publishes one event
with a confirm and consumes it back.

Figures, from the moment ``start_app`` returned: *first*, the first event written during
the outage reaching the consumer; *all*, every event written during the outage having
reached it. Medians over the rounds; the ratios are after / before and after / baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika

from services.referral.app import create_service
from shared.broker.rabbitmq import RabbitMQBroker
from shared.events import CloudEvent
from shared.outbox import add_to_outbox
from shared.service import Service
from shared.settings import Settings

RABBITMQ_URL = os.environ.get("MASH_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
WRITE_EVERY = 0.05
EVENT_TYPE = "mash.bench.recovery"
MAX_OUTAGE = 12.0


@dataclass
class Configuration:
    """One service under test, what it wrote and when each event arrived."""

    label: str
    service: Service
    broker: RabbitMQBroker
    written: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)

    async def handle(self, event: CloudEvent) -> None:
        self.arrived.setdefault(event.id, time.monotonic())

    async def write_one(self) -> None:
        event = CloudEvent(source="/bench/recovery", type=EVENT_TYPE, data={})
        async with self.service.database.unit_of_work() as uow:
            add_to_outbox(uow, event)
            await uow.commit()
        self.written[event.id] = time.monotonic()

    def recovery(self, down: float, back: float) -> tuple[float, float]:
        """(first, all): seconds after ``back`` for the outage's events to arrive."""
        during = [i for i, at in self.written.items() if down <= at <= back]
        arrivals = [self.arrived[i] for i in during if i in self.arrived]
        if not during or len(arrivals) < len(during):
            raise RuntimeError(f"{self.label}: {len(arrivals)} of the {len(during)} events "
                               "written during the outage arrived")
        return min(arrivals) - back, max(arrivals) - back


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


async def make_configuration(label: str, data_dir: Path, *, before: bool) -> Configuration:
    settings = Settings(environment="development", data_dir=data_dir)
    exchange = f"bench.recovery.{label}.{uuid.uuid4().hex[:8]}"
    broker = RabbitMQBroker(RABBITMQ_URL, exchange=exchange,
                            reconnect_interval=5.0 if before else 0.5)
    service = create_service(settings, broker)
    if before:
        service.relay.max_backoff = 30.0
        broker._reconnect_hooks.clear()  # nobody woke the relay then
    configuration = Configuration(label, service, broker)
    await service.migrate()
    await broker.connect()
    await broker.subscribe("recovery", [EVENT_TYPE], configuration.handle)
    service.relay.start()
    return configuration


async def remove(configuration: Configuration) -> None:
    await configuration.service.stop()
    await configuration.broker.close()
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    try:
        channel = await connection.channel()
        broker = configuration.broker
        await channel.queue_delete(broker.queue_name("recovery"))
        await channel.queue_delete(f"{broker.queue_name('recovery')}.dead")
        await channel.exchange_delete(broker.exchange_name)
        await channel.exchange_delete(broker.dead_letter_exchange_name)
    finally:
        await connection.close()


async def fresh_client_round_trip(back: float) -> float:
    """Seconds after ``back`` until a new client has published and consumed one event."""
    name = f"bench.recovery.baseline.{uuid.uuid4().hex[:8]}"
    while True:
        try:
            connection = await aio_pika.connect(RABBITMQ_URL, timeout=2)
            break
        except (OSError, aio_pika.exceptions.AMQPError, TimeoutError):
            await asyncio.sleep(0.02)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(name, exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"x"), routing_key=name)
        while await queue.get(fail=False, no_ack=True) is None:  # noqa: ASYNC110 - polled
            await asyncio.sleep(0.005)
        return time.monotonic() - back
    finally:
        await connection.close()


async def one_outage(configurations: list[Configuration], outage: float
                     ) -> tuple[dict[str, tuple[float, float]], float]:
    stopping = time.monotonic()
    try:
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        down = time.monotonic()  # the outage's events: written from here until back
        await asyncio.sleep(max(outage - (down - stopping), 0))
    finally:
        await asyncio.to_thread(rabbitmqctl, "start_app")
    back = time.monotonic()
    print(f"  RabbitMQ away for {back - stopping:.1f} s (stop_app called to start_app "
          "returned)", flush=True)
    baseline = await fresh_client_round_trip(back)
    written = {c.label: [i for i, at in c.written.items() if at <= back]
               for c in configurations}
    deadline = back + 60
    while time.monotonic() < deadline and any(  # noqa: ASYNC110 - polled
            not all(i in c.arrived for i in written[c.label]) for c in configurations):
        await asyncio.sleep(0.01)
    return {c.label: c.recovery(down, back) for c in configurations}, baseline


async def run(rounds: int, outage: float) -> int:
    parts = urlsplit(RABBITMQ_URL)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        print("refusing a non-loopback RabbitMQ; benchmarks stay on 127.0.0.1")
        return 2
    with tempfile.TemporaryDirectory(prefix="mash-bench-recovery-") as tmp:
        for label in ("before", "after"):
            (Path(tmp) / label).mkdir()
        configurations = [
            await make_configuration("before", Path(tmp) / "before", before=True),
            await make_configuration("after", Path(tmp) / "after", before=False)]

        async def write_all_the_time() -> None:
            while True:
                await asyncio.gather(*(c.write_one() for c in configurations))
                await asyncio.sleep(WRITE_EVERY)

        writer = asyncio.create_task(write_all_the_time())
        results: dict[str, list[tuple[float, float]]] = {c.label: [] for c in configurations}
        baselines: list[float] = []
        try:
            for r in range(rounds):
                await asyncio.sleep(2)  # events flowing before the outage
                found, baseline = await one_outage(configurations, outage)
                baselines.append(baseline)
                for label, figures in found.items():
                    results[label].append(figures)
                print(f"  round {r + 1}/{rounds}: baseline {baseline:.2f} s; " + "; ".join(
                    f"{label} first {first:.2f} s, all {last:.2f} s"
                    for label, (first, last) in found.items()), flush=True)
        finally:
            writer.cancel()
            for configuration in configurations:
                await remove(configuration)

    def median(label: str, which: int) -> float:
        return statistics.median(figures[which] for figures in results[label])

    base = statistics.median(baselines)
    print()
    print(f"RabbitMQ stopped for {outage:g} s, {rounds} rounds; seconds after it was back "
          "(median)")
    print(f"{'':<40} {'first event':>12} {'every event':>12}")
    print(f"{'baseline: a fresh client round trip':<40} {base:>12.2f} {base:>12.2f}")
    for label in ("before", "after"):
        print(f"{label:<40} {median(label, 0):>12.2f} {median(label, 1):>12.2f}")
    print()
    print(f"ratio after / before (every event): {median('after', 1) / median('before', 1):.2f}")
    print(f"ratio after / baseline (every event): {median('after', 1) / base:.2f}")
    print(f"ratio before / baseline (every event): {median('before', 1) / base:.2f}")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--outage", type=float, default=5.0,
                        help=f"seconds RabbitMQ stays stopped each round (at most {MAX_OUTAGE:g})")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # not the outage's expected warnings
    if not 0 < args.outage <= MAX_OUTAGE:
        parser.error(f"--outage must be between 0 and {MAX_OUTAGE:g}")
    sys.exit(asyncio.run(run(args.rounds, args.outage)))


if __name__ == "__main__":
    main()
