"""`/healthz` latency while bad sign-ins flood `mash up`, against the same hub idle.

Run: .venv/bin/python bench/sign_in_flood.py [--rounds 3] [--rate 50] [--seconds 10]
     [--mash PATH]

`mash up` (this virtualenv's, or --mash) is started on a free port with a fresh data dir.
Each round has two phases of --seconds each, measured back to back on the same hub:

- **idle**: a prober starts GET /healthz every 20 ms, each on a connection of its own
  (as a load balancer's health check), none waiting for another: a stall of the hub
  counts in every probe it holds up;
- **flood**: the same prober while a flood generator (a process of its own) starts
  --rate bad sign-ins a second (POST /api/v1/sessions with a wrong password, each on a
  connection of its own, at most --in-flight unanswered at once; a send that would
  exceed that is skipped and counted).

Two kinds of flood, each a phase of every round:

- **one address**: every attempt from 127.0.0.1, for the demo users' names;
- **many addresses**: every attempt from an address of its own (X-Forwarded-For, which
  uvicorn believes from 127.0.0.1) for a name of its own: a distributed guesser whom no
  per-address or per-name limit stops, so every attempt costs a password check.

Printed per phase: /healthz p50 and p99 (median over rounds), the sign-ins' answers,
and the ratio p99 flood / p99 idle (goal: under 2). Between phases the hub is left to
finish what it was sent (its CPU quiet).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import (
    HOST,
    clean_environment,
    free_port,
    mash_command,
    percentile,
    read_response,
    start,
    wait_quiet,
    wait_ready,
)

PROBE_INTERVAL = 0.02
DEMO_USERS = ("mash.manager", "mash.practitioner", "police.officer", "school.dsl",
              "health.visitor", "auditor", "admin")


# --- the prober (this process) -------------------------------------------------------------

async def probe(port: int, seconds: float, interval: float = PROBE_INTERVAL) -> list[float]:
    """Latencies of GET /healthz started every ``interval`` for ``seconds``, each on a
    connection of its own (as a load balancer's health check), none waiting for another."""
    request = f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"

    async def one(due: float) -> float:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(request.encode())
            status, _, _ = await read_response(reader)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"/healthz answered {status}")
        return time.perf_counter() - due

    started = time.perf_counter() + 0.05
    count = int(seconds / interval)
    latencies = await asyncio.gather(*(one(started + i * interval)
                                       for i in range(count)))
    return sorted(latencies)


# --- the flood generator (a process of its own) -----------------------------------------------

def sign_in_request(port: int, username: str, address: str | None) -> bytes:
    body = json.dumps({"username": username, "password": "not-the-password",
                       "otp": "123456"}).encode()
    head = ["POST /api/v1/sessions HTTP/1.1", f"Host: {HOST}:{port}",
            "Content-Type: application/json", f"Content-Length: {len(body)}",
            "Connection: close"]
    if address:
        head.append(f"X-Forwarded-For: {address}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def flood(port: int, rate: float, seconds: float, in_flight: int,
                spread: bool) -> dict[str, Any]:
    """Start ``rate`` bad sign-ins a second for ``seconds``; their answers."""
    statuses: Counter[str] = Counter()
    pending: set[asyncio.Task[None]] = set()
    rng = random.Random(7)

    async def one(request: bytes) -> None:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(request)
            status, _, _ = await read_response(reader)
            statuses[str(status)] += 1
            writer.close()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            statuses[type(exc).__name__] += 1

    started = time.perf_counter()
    n = 0
    while (due := started + n / rate) < started + seconds:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        n += 1
        if len(pending) >= in_flight:
            statuses["skipped"] += 1
            continue
        if spread:
            address = f"198.18.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            username = f"guess.{rng.randrange(10**9)}"
        else:
            address, username = None, rng.choice(DEMO_USERS)
        task = asyncio.create_task(one(sign_in_request(port, username, address)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    sent_for = time.perf_counter() - started
    if pending:
        await asyncio.wait(pending, timeout=60)
    return {"attempts": n, "per_second": n / sent_for, "statuses": dict(statuses)}


def run_flood(port: int, args: argparse.Namespace, spread: bool, workdir: Path
              ) -> subprocess.Popen[str]:
    argv = [sys.executable, __file__, "flood", "--port", str(port), "--rate", str(args.rate),
            "--seconds", str(args.seconds), "--in-flight", str(args.in_flight)]
    if spread:
        argv.append("--spread")
    return subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, text=True,
                            env=clean_environment())


# --- the benchmark ---------------------------------------------------------------------------

def summary(latencies: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="bench", choices=["bench", "flood"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="bad sign-ins a second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--in-flight", type=int, default=100,
                        help="unanswered sign-ins at most (more are skipped)")
    parser.add_argument("--mash", default=None, help="the `mash` script to start")
    parser.add_argument("--env", action="append", default=[], metavar="MASH_X=VALUE",
                        help="a setting for the hub (MASH_* are otherwise removed)")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--spread", action="store_true")
    args = parser.parse_args()
    if args.command == "flood":
        print(json.dumps(asyncio.run(flood(args.port, args.rate, args.seconds,
                                           args.in_flight, args.spread))))
        return

    with tempfile.TemporaryDirectory(prefix="mash-bench-flood-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        mash = [args.mash] if args.mash else mash_command()
        hub = start("hub", [*mash, "up", "--port", str(port), "--data-dir",
                            str(workdir / "data")], workdir,
                    env=clean_environment(**dict(e.split("=", 1) for e in args.env)))
        try:
            wait_ready(hub, f"http://{HOST}:{port}/readyz", timeout=120)
            wait_quiet([hub])
            phases: dict[str, list[dict[str, Any]]] = {
                "idle": [], "flood, one address": [], "flood, many addresses": []}
            for round_ in range(1, args.rounds + 1):
                for phase in phases:
                    generator = None
                    if phase != "idle":
                        generator = run_flood(port, args, "many" in phase, workdir)
                        time.sleep(0.3)  # the generator's start-up, before its first send
                    latencies = asyncio.run(probe(port, args.seconds))
                    result: dict[str, Any] = summary(latencies)
                    if generator is not None:
                        out, _ = generator.communicate(timeout=120)
                        result["flood"] = json.loads(out)
                    phases[phase].append(result)
                    print(f"round {round_} {phase}: {json.dumps(result)}", flush=True)
                    wait_quiet([hub], timeout=60)
        finally:
            hub.stop()

    print()
    idle_p99 = statistics.median(r["p99_ms"] for r in phases["idle"])
    print(f"{'phase':<24} {'p50 ms':>8} {'p99 ms':>8} {'p99 / idle p99':>15}")
    for phase, results in phases.items():
        p50 = statistics.median(r["p50_ms"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        print(f"{phase:<24} {p50:8.2f} {p99:8.2f} {p99 / idle_p99:15.2f}")
    for phase, results in phases.items():
        if phase != "idle":
            answers: Counter[str] = Counter()
            for r in results:
                answers.update(r["flood"]["statuses"])
            rate = statistics.median(r["flood"]["per_second"] for r in results)
            print(f"{phase}: {rate:.0f} attempts/s; answers {dict(sorted(answers.items()))}")


if __name__ == "__main__":
    main()
