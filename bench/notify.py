"""Notify end to end: from POST /api/v1/referrals returning to a partner's webhook receiver
getting mash.referral.received, against a bare httpx POST to the same receiver.

Run: .venv/bin/python bench/notify.py [--mode both|a|b] [--relay in-service|apart]
         [--latency-referrals 100] [--burst 300] [--concurrency 4]

Two modes, the hub started as a newcomer or an operator would start it:

(a) `mash up` (SQLite, in-process broker; loopback webhooks are allowed in
    environment=development), in a process of its own.
(b) deployment: `mash migrate` and `mash demo` against three fresh PostgreSQL databases,
    `mash serve identity|referral|notify` (environment=production, with
    MASH_NOTIFY_ALLOW_LOOPBACK_WEBHOOKS=true so the receiver may be on 127.0.0.1),
    RabbitMQ with an exchange of its own, and nginx from deploy/nginx/mash.conf in front
    (the referral and the token go through nginx; the webhook goes from notify straight
    to the receiver). With --relay apart the services run --no-relay and one `mash relay`
    publishes the outboxes (it polls every MASH_OUTBOX_POLL_SECONDS, 1 s by default);
    in-service (the default), each `mash serve` publishes its own outbox as soon as a
    request commits. Databases, exchanges and queues are removed at the end (the helpers
    are bench/intake.py's).

The receiver runs in this process on asyncio streams (HTTP/1.1 keep-alive, answers 204),
noting when each webhook arrives. The demo police system subscribes its receiver, then:

- latency: referrals posted one at a time; for each, the time from the POST's answer to
  the webhook for that referral arriving (p50/p99). Baseline: a bare httpx POST of a
  body of the same size to the same receiver, time from send to arrival.
- throughput: ``--burst`` referrals posted at ``--concurrency``; deliveries/s is the
  number of webhooks over the time from the first POST to the last webhook (intake
  included). Baseline: the same number of bare httpx POSTs at the same concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from _common import HOST, clean_environment, free_port, mash_command, percentile, start, wait_ready

ROOT = Path(__file__).resolve().parent.parent
PARTNER = "northshire-police-system"


class Receiver:
    """A webhook endpoint on asyncio streams: records when each referral's event arrives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrivals: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.count = 0

    async def serve(self) -> asyncio.Server:
        return await asyncio.start_server(self._connection, HOST, self.port)

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
                arrived = time.perf_counter()
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                self._note(body, arrived)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _note(self, body: bytes, arrived: float) -> None:
        self.count += 1
        key = str(json.loads(body).get("data", {}).get("referral_id"))
        self.arrivals[key] = arrived
        waiter = self.waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(arrived)

    def expect(self, key: str) -> asyncio.Future[float]:
        if key in self.arrivals:
            done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            done.set_result(self.arrivals[key])
            return done
        waiter = self.waiters[key] = asyncio.get_running_loop().create_future()
        return waiter

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hooks/mash"


def referral(n: int) -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.bodies import referral_body

    return referral_body(external_reference=f"BENCH-{n:06d}")


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": percentile(ordered, 50) * 1000, "p99_ms": percentile(ordered, 99) * 1000}


async def hub_latency(client: httpx.AsyncClient, receiver: Receiver, count: int,
                      receipts: list[dict[str, Any]] | None = None) -> list[float]:
    latencies = []
    for n in range(count):
        response = await client.post("/api/v1/referrals", json=referral(n))
        answered = time.perf_counter()
        response.raise_for_status()
        arrived = await asyncio.wait_for(receiver.expect(response.json()["id"]), 30)
        latencies.append(arrived - answered)
        if receipts is not None:
            receipts.append(response.json())
    return latencies


async def stages(client: httpx.AsyncClient, receipts: list[dict[str, Any]]
                 ) -> dict[str, float]:
    """p50 of where a webhook's time goes, from the hub's own delivery log: referral
    received_at -> notify has recorded the delivery (outbox, relay, broker, consumer);
    -> the attempt starts (dispatcher); the POST to the receiver itself."""
    from datetime import datetime

    to_notify, to_attempt, post = [], [], []
    for receipt in receipts:
        log = (await client.get("/api/v1/deliveries",
                                params={"referral_id": receipt["id"]})).json()["items"]
        (delivery,) = log
        (attempt,) = delivery["attempts"]
        received = datetime.fromisoformat(receipt["received_at"])
        created = datetime.fromisoformat(delivery["created_at"])
        finished = datetime.fromisoformat(attempt["attempted_at"])
        started = finished.timestamp() - attempt["latency_ms"] / 1000
        to_notify.append((created - received).total_seconds())
        to_attempt.append(started - created.timestamp())
        post.append(attempt["latency_ms"] / 1000)
    return {name: percentile(sorted(values), 50) * 1000 for name, values in
            (("received -> notify recorded", to_notify), ("-> attempt starts", to_attempt),
             ("POST to receiver", post))}


async def baseline_latency(receiver: Receiver, count: int) -> list[float]:
    body = json.dumps({"type": "mash.referral.received", "timestamp": "2026-01-01T00:00:00Z",
                       "data": {"referral_id": "x", "reference": "MASH-2026-000001"}})
    latencies = []
    async with httpx.AsyncClient(timeout=15, follow_redirects=False) as client:
        for n in range(count):
            key = f"baseline-{n}"
            sent = time.perf_counter()
            await client.post(receiver.url, content=body.replace('"x"', f'"{key}"'),
                              headers={"content-type": "application/json"})
            latencies.append(await receiver.expect(key) - sent)
    return latencies


async def in_parallel(count: int, concurrency: int, job: Any) -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            await job(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def hub_throughput(client: httpx.AsyncClient, receiver: Receiver, count: int,
                         concurrency: int) -> float:
    ids: list[str] = []

    async def post(n: int) -> None:
        response = await client.post("/api/v1/referrals", json=referral(100_000 + n))
        assert response.status_code == 201, response.text[:300]
        ids.append(response.json()["id"])

    started = time.perf_counter()
    await in_parallel(count, concurrency, post)
    arrivals = await asyncio.wait_for(asyncio.gather(*(receiver.expect(i) for i in ids)), 120)
    return count / (max(arrivals) - started)


async def baseline_throughput(receiver: Receiver, count: int, concurrency: int) -> float:
    async with httpx.AsyncClient(timeout=15) as client:
        async def post(n: int) -> None:
            body = json.dumps({"type": "t", "data": {"referral_id": f"burst-{n}"}})
            await client.post(receiver.url, content=body)

        started = time.perf_counter()
        await in_parallel(count, concurrency, post)
        last = max(receiver.arrivals[f"burst-{n}"] for n in range(count))
    return count / (last - started)


async def measure(args: argparse.Namespace, base: str, data_dir: Path) -> dict[str, Any]:
    receiver = Receiver()
    server = await receiver.serve()
    credentials = json.loads((data_dir / "demo" / "credentials.json").read_text())
    entry = next(c for c in credentials["clients"] if c["client_id"] == PARTNER)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = (await client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                                   auth=(entry["client_id"], entry["client_secret"]))).json()
        client.headers["authorization"] = f"Bearer {token['access_token']}"
        subscribed = await client.post("/api/v1/subscriptions", json={
            "channel": "webhook", "url": receiver.url,
            "event_types": ["mash.referral.received"]})
        subscribed.raise_for_status()
        await hub_latency(client, receiver, 5)  # warm up
        await baseline_latency(receiver, 5)
        receipts: list[dict[str, Any]] = []
        hub = stats(await hub_latency(client, receiver, args.latency_referrals, receipts))
        bare = stats(await baseline_latency(receiver, args.latency_referrals))
        split = await stages(client, receipts)
        hub_rate = await hub_throughput(client, receiver, args.burst, args.concurrency)
        bare_rate = await baseline_throughput(receiver, args.burst, args.concurrency)
    server.close()
    return {"hub": hub, "bare": bare, "hub_rate": hub_rate, "bare_rate": bare_rate,
            "stages": split}


def report(label: str, args: argparse.Namespace, result: dict[str, Any]) -> None:
    hub, bare = result["hub"], result["bare"]
    hub_rate, bare_rate = result["hub_rate"], result["bare_rate"]
    print(f"\n{label}: referral POST answered -> webhook received "
          f"({args.latency_referrals} referrals, one at a time)")
    print(f"  hub      p50 {hub['p50_ms']:8.2f} ms   p99 {hub['p99_ms']:8.2f} ms")
    print(f"  baseline p50 {bare['p50_ms']:8.2f} ms   p99 {bare['p99_ms']:8.2f} ms"
          "   (bare httpx POST to the same receiver)")
    print(f"  ratio    p50 {hub['p50_ms'] / bare['p50_ms']:8.1f} x   "
          f"p99 {hub['p99_ms'] / bare['p99_ms']:8.1f} x")
    print("  where it goes (p50, from the delivery log): " + ", ".join(
        f"{name} {ms:.1f} ms" for name, ms in result["stages"].items()))
    print(f"{label}: throughput, {args.burst} referrals at concurrency {args.concurrency}")
    print(f"  hub      {hub_rate:8.1f} deliveries/s (intake included)")
    print(f"  baseline {bare_rate:8.1f} POSTs/s (bare httpx)")
    print(f"  ratio    {hub_rate / bare_rate:8.3f}", flush=True)


def mash_up(stack: ExitStack, workdir: Path) -> tuple[str, Path]:
    data_dir = workdir / "hub"
    port = free_port()
    hub = start("mash-up", [*mash_command(), "up", "--port", str(port), "--data-dir",
                            str(data_dir)], workdir, clean_environment())
    stack.callback(hub.stop, signal.SIGINT)
    wait_ready(hub, f"http://{HOST}:{port}/readyz")
    return f"http://{HOST}:{port}", data_dir


def deployment(stack: ExitStack, workdir: Path, relay_apart: bool) -> tuple[str, Path]:
    import intake

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    tag = uuid.uuid4().hex[:8]
    exchange = f"bench{tag}.events"
    databases = intake.create_databases(stack, tag)
    exchanges, queues = intake.broker_objects(exchange, databases)
    stack.callback(intake.delete_broker_objects, exchanges, queues)
    ports = {service: free_port() for service in intake.SERVICES}
    gateway_port = free_port()
    data_dir = workdir / "deployment"
    env = clean_environment(
        MASH_ENVIRONMENT="production", MASH_SECRET_KEY=secrets.token_urlsafe(32),
        MASH_BROKER_URL=intake.RABBITMQ_URL, MASH_BROKER_EXCHANGE=exchange,
        MASH_BASE_URL=f"http://{HOST}:{gateway_port}", MASH_DATA_DIR=str(data_dir),
        MASH_NOTIFY_ALLOW_LOOPBACK_WEBHOOKS="true",
        **{f"MASH_{service.upper()}_DATABASE_URL": url for service, url in databases.items()})
    for argv in (["migrate"], ["demo", "--data-dir", str(data_dir)]):
        done = subprocess.run([*mash_command(), *argv], cwd=workdir, env=env,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"mash {argv[0]} failed:\n{done.stderr[-3000:]}")
    for service, port in ports.items():
        serve = [*mash_command(), "serve", service, "--port", str(port)]
        process = start(service, serve + (["--no-relay"] if relay_apart else []), workdir, env)
        stack.callback(process.stop)
        wait_ready(process, f"http://{HOST}:{port}/readyz")
    if relay_apart:  # after the consumers have declared their queues
        relay = start("relay", [*mash_command(), "relay"], workdir, env)
        stack.callback(relay.stop)
    intake.gateway(stack, workdir, nginx, "gateway", gateway_port, ports)
    return f"http://{HOST}:{gateway_port}", data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=("both", "a", "b"), default="both")
    parser.add_argument("--relay", choices=("in-service", "apart"), default="in-service",
                        help="mode (b): who publishes the outboxes")
    parser.add_argument("--latency-referrals", type=int, default=100)
    parser.add_argument("--burst", type=int, default=300)
    # 16 makes the referral service answer 500 now and then in mode (a) (SQLite busy in
    # next_reference).
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    modes = [("a", "(a) mash up"), ("b", f"(b) deployment, relay {args.relay}")]
    for mode, label in modes:
        if args.mode not in ("both", mode):
            continue
        if mode == "b":
            import intake

            why = intake.deployment_unavailable()
            if why:
                print(f"(b) skipped: {why}")
                continue
        with tempfile.TemporaryDirectory(prefix="mash-bench-notify-") as tmp, \
                ExitStack() as stack:
            workdir = Path(tmp)
            workdir.chmod(0o755)  # nginx's workers (user nobody when root) work in here
            print(f"{label}: starting...", flush=True)
            base, data_dir = mash_up(stack, workdir) if mode == "a" \
                else deployment(stack, workdir, args.relay == "apart")
            try:
                result = asyncio.run(measure(args, base, data_dir))
            except Exception:
                for log in sorted(workdir.glob("*.log")):
                    print(f"--- {log.name}\n{log.read_text(errors='replace')[-20000:]}")
                raise
            report(label, args, result)


if __name__ == "__main__":
    main()
