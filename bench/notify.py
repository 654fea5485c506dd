"""Notify end to end: from POST /api/v1/referrals returning to a partner's webhook receiver
getting mash.referral.received, against a bare httpx POST to the same receiver.

Run: .venv/bin/python bench/notify.py [--latency-referrals 100] [--burst 300]
                                      [--concurrency 4]

Mode (a) only: the real `mash up` command (SQLite, in-process broker; loopback webhooks
are allowed in environment=development), started in a process of its own. The receiver
runs in this process on asyncio streams (HTTP/1.1 keep-alive, answers 204), noting when
each webhook arrives. The demo police system subscribes its receiver, then:

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
import signal
import tempfile
import time
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


async def hub_latency(client: httpx.AsyncClient, receiver: Receiver, count: int
                      ) -> list[float]:
    latencies = []
    for n in range(count):
        response = await client.post("/api/v1/referrals", json=referral(n))
        answered = time.perf_counter()
        response.raise_for_status()
        arrived = await asyncio.wait_for(receiver.expect(response.json()["id"]), 30)
        latencies.append(arrived - answered)
    return latencies


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


async def run(args: argparse.Namespace, port: int, data_dir: Path) -> None:
    receiver = Receiver()
    server = await receiver.serve()
    base = f"http://{HOST}:{port}"
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
        hub = stats(await hub_latency(client, receiver, args.latency_referrals))
        bare = stats(await baseline_latency(receiver, args.latency_referrals))
        hub_rate = await hub_throughput(client, receiver, args.burst, args.concurrency)
        bare_rate = await baseline_throughput(receiver, args.burst, args.concurrency)
    server.close()
    print(f"\n(a) mash up: referral POST answered -> webhook received "
          f"({args.latency_referrals} referrals, one at a time)")
    print(f"  hub      p50 {hub['p50_ms']:8.2f} ms   p99 {hub['p99_ms']:8.2f} ms")
    print(f"  baseline p50 {bare['p50_ms']:8.2f} ms   p99 {bare['p99_ms']:8.2f} ms"
          "   (bare httpx POST to the same receiver)")
    print(f"  ratio    p50 {hub['p50_ms'] / bare['p50_ms']:8.1f} x   "
          f"p99 {hub['p99_ms'] / bare['p99_ms']:8.1f} x")
    print(f"\n(a) throughput: {args.burst} referrals at concurrency {args.concurrency}")
    print(f"  hub      {hub_rate:8.1f} deliveries/s (intake included)")
    print(f"  baseline {bare_rate:8.1f} POSTs/s (bare httpx)")
    print(f"  ratio    {hub_rate / bare_rate:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-referrals", type=int, default=100)
    parser.add_argument("--burst", type=int, default=300)
    # 16 makes the referral service answer 500 now and then (SQLite busy in
    # next_reference): see the report.
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mash-bench-notify-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        data_dir = workdir / "hub"
        port = free_port()
        hub = start("mash-up", [*mash_command(), "up", "--port", str(port), "--data-dir",
                                str(data_dir)], workdir, clean_environment())
        stack.callback(hub.stop, signal.SIGINT)
        wait_ready(hub, f"http://{HOST}:{port}/readyz")
        try:
            asyncio.run(run(args, port, data_dir))
        except Exception:
            print(hub.log.read_text(errors='replace')[-200000:])
            raise


if __name__ == "__main__":
    main()
