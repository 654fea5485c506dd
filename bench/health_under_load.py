"""`/healthz` while a year's board report and a large export run, against the same hub idle.

Run: .venv/bin/python bench/health_under_load.py [--referrals 20000] [--seconds 10]
     [--rounds 3] [--deployment]

`mash up` (this virtualenv's) starts once on a fresh data dir (migrations, demo data) and
is stopped; a population of --referrals referrals is then written straight into its
referral database (bench/board_report.py's: 19 months of referrals from 70 agencies, most
decided, a question to a partner on one in three), with a child on every referral, so a
CIN census year holds about 58% of them (175,000 referrals: some 100,000 rows). Undecided
referrals and unanswered questions past their time are written as overdue already (as
the deadline worker would have marked them). The hub is started again on that data dir
and, once its CPU is quiet, the demo MASH manager signs in.

With --deployment, the hub is bench/intake.py's mode (b) instead (three `mash serve` on
PostgreSQL, `mash relay`, RabbitMQ, nginx), the population written into its referral
database while it runs; the prober asks `mash serve referral` itself (as a load
balancer or Kubernetes probes a replica), the long requests go through nginx.

Per round, phases of --seconds each on the same hub:

- **idle**: a prober starts GET /healthz every 10 ms, each on a connection of its own
  (as a load balancer's health check), none waiting for another: the **baseline**;
- **report + export**: the same prober while another process fetches, over and over
  and side by side, the year's board report by month (JSON) and the census year's CIN
  census extract as CSV (one row per child referred: the largest export the hub has);
- **census JSON**: the same with the census extract as JSON (the records and the
  specification's checks, built and serialised by the hub).

Printed per phase: /healthz p50 and p99 (median over rounds) and the ratio of p99 to
idle; the goal (issue 19) is p99 under 20 ms while the long work runs. Also the long
requests' times and sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contextlib import ExitStack

from _common import (
    clean_environment,
    demo_session,
    free_port,
    mash_command,
    percentile,
    start,
    wait_quiet,
    wait_ready,
)
from intake import deployment
from sign_in_flood import probe

PROBE_INTERVAL = 0.01
CENSUS_YEAR = 2026  # 1 April 2025 to 31 March 2026, inside board_report's population
BOARD = "/api/v1/reports/board?from=2025-12-01&to=2026-11-30&interval=month"
CENSUS = f"/api/v1/reports/cin-census?year={CENSUS_YEAR}"
PHASES = {
    "report + export": [(BOARD, "application/json"), (CENSUS, "text/csv")],
    "census JSON": [(CENSUS, "application/json")],
}


# --- the long requests (a process of their own, so the prober's loop is not theirs) -------

def label(path: str, accept: str) -> str:
    return f"{path.split('?')[0]} ({accept})"


def worker(base: str, cookie: str, seconds: float, requests: list[list[str]]) -> None:
    """Fetch each of ``requests`` (path, accept) over and over, side by side, for
    ``seconds``; print each one's times and sizes as JSON."""
    import httpx

    done: dict[str, list[tuple[float, int]]] = {label(*r): [] for r in requests}
    stop_at = time.perf_counter() + seconds

    def loop(path: str, accept: str) -> None:
        with httpx.Client(base_url=base, timeout=300, cookies={"mash_session": cookie}) as c:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                answer = c.get(path, headers={"accept": accept})
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
                done[label(path, accept)].append((time.perf_counter() - started,
                                                  len(answer.content)))

    threads = [threading.Thread(target=loop, args=tuple(r)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(done))


# --- the population -------------------------------------------------------------------------

async def write_population(url: str, count: int) -> None:
    """board_report's population in a hub's referral database, with a child on every
    referral (board_report gives one to police referrals only)."""
    from board_report import agencies, population
    from sqlalchemy import insert, text

    from services.referral.referrals.models import Referral, ReferralSubject
    from services.referral.workflow.models import InformationRequest
    from shared.agencies import AgencyDirectoryEntry
    from shared.db import Database

    rows = population(count)
    # What the hub's deadline worker would have marked as it went: the undecided
    # referrals and unanswered questions past their due time are overdue already (else
    # the restarted hub marks them all at once, a catch-up this benchmark does not time).
    for referral in rows[Referral]:
        undecided = referral["outcome"] is None
        referral["decision_overdue_at"] = referral["decision_due_at"] if undecided else None
    for question in rows[InformationRequest]:
        question["overdue_at"] = None
        if question["status"] == "open":
            question.update(status="overdue", overdue_at=question["due_at"])
    with_child = {s["referral_id"] for s in rows[ReferralSubject]}
    rows[ReferralSubject] += [
        {"id": str(uuid.uuid4()), "referral_id": r["id"], "position": 0, "role": "child",
         "other_names": [], "school_urn": None}
        for r in rows[Referral] if r["id"] not in with_child]
    database = Database(url)
    try:
        async with database.unit_of_work() as uow:
            connection = await uow.session.connection()
            await connection.execute(insert(AgencyDirectoryEntry.__table__), agencies())  # type: ignore[attr-defined]
            for model, batch in rows.items():
                table = model.__table__  # type: ignore[attr-defined]
                for at in range(0, len(batch), 5000):
                    await connection.execute(insert(table), batch[at:at + 5000])
            await uow.commit()
        async with database.engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
    finally:
        await database.dispose()


# --- the run ----------------------------------------------------------------------------------

def loaded_phase(port: int, base: str, cookie: str, seconds: float,
                 requests: list[tuple[str, str]]) -> tuple[list[float], dict[str, Any]]:
    """Probe while a worker process runs ``requests``; the latencies and its report."""
    command = [sys.executable, __file__, "--worker", base, cookie, str(seconds + 1),
               json.dumps(requests)]
    long_work = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)  # the first long request under way
    latencies = asyncio.run(probe(port, seconds, PROBE_INTERVAL))
    output, _ = long_work.communicate(timeout=600)
    if long_work.returncode != 0:
        raise RuntimeError("the long requests failed")
    return latencies, json.loads(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deployment", action="store_true",
                        help="bench/intake.py's mode (b): three `mash serve` on PostgreSQL, "
                             "`mash relay`, RabbitMQ, nginx")
    parser.add_argument("--worker", nargs=4, metavar=("BASE", "COOKIE", "SECONDS", "JSON"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        base, cookie, seconds, requests = args.worker
        worker(base, cookie, float(seconds), json.loads(requests))
        return

    p50: dict[str, list[float]] = {}
    p99: dict[str, list[float]] = {}
    long_requests: dict[str, dict[str, list[tuple[float, int]]]] = {}
    with tempfile.TemporaryDirectory(prefix="mash-bench-health-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # nginx's workers (user nobody when run as root) work in here
        if args.deployment:  # bench/intake.py's mode (b), up throughout
            running: dict[str, Any] = {}
            _, hub = deployment(stack, workdir, None, free_port(), 0, 0, running)
            data_dir, base, processes = running["data_dir"], running["base"], hub.processes
            port = running["ports"]["referral"]  # the probe goes to the service, not nginx
            write_to = running["databases"]["referral"]
        else:
            data_dir = workdir / "data"
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = [*mash_command(), "up", "--port", str(port), "--data-dir", str(data_dir)]
            first = start("hub-first", command, workdir, clean_environment())
            try:
                wait_ready(first, f"{base}/readyz", timeout=90)
            finally:
                first.stop()
            write_to = f"sqlite+aiosqlite:///{data_dir / 'referral.db'}"
        started = time.perf_counter()
        asyncio.run(write_population(write_to, args.referrals))
        print(f"  {args.referrals:,} referrals written in {time.perf_counter() - started:.0f} s",
              flush=True)
        if not args.deployment:
            up = start("hub", command, workdir, clean_environment())
            stack.callback(up.stop)
            wait_ready(up, f"{base}/readyz", timeout=90)
            processes = [up]
        wait_quiet(processes, window=1.0, timeout=60)
        credentials = json.loads((data_dir / "demo" / "credentials.json").read_text())
        cookie = demo_session(base, credentials, "mash.manager")
        for round_ in range(args.rounds):
            idle = asyncio.run(probe(port, args.seconds, PROBE_INTERVAL))
            p50.setdefault("idle", []).append(percentile(idle, 50))
            p99.setdefault("idle", []).append(percentile(idle, 99))
            for phase, requests in PHASES.items():
                latencies, done = loaded_phase(port, base, cookie, args.seconds, requests)
                p50.setdefault(phase, []).append(percentile(latencies, 50))
                p99.setdefault(phase, []).append(percentile(latencies, 99))
                for path, runs in done.items():
                    long_requests.setdefault(phase, {}).setdefault(path, []).extend(runs)
            print(f"  round {round_ + 1}/{args.rounds}: p99 " + ", ".join(
                f"{phase} {values[-1] * 1000:.1f} ms" for phase, values in p99.items()),
                flush=True)

    idle_p99 = statistics.median(p99["idle"])
    where = ("the deployment (PostgreSQL; /healthz of `mash serve referral`, the long "
             "requests through nginx)" if args.deployment else "`mash up` (SQLite)")
    print(f"\n{args.referrals:,} referrals in {where}; /healthz every "
          f"{PROBE_INTERVAL * 1000:.0f} ms, {args.seconds:.0f} s a phase, median of "
          f"{args.rounds} rounds")
    print("| phase | /healthz p50 ms | /healthz p99 ms | p99 / idle p99 | under 20 ms |")
    print("|---|---|---|---|---|")
    for phase in p99:
        median99 = statistics.median(p99[phase])
        print(f"| {phase} | {statistics.median(p50[phase]) * 1000:.1f} | {median99 * 1000:.1f}"
              f" | {median99 / idle_p99:.2f}x | {'yes' if median99 < 0.02 else 'no'} |")
    print("\n| phase | request | runs | median s | max s | bytes |")
    print("|---|---|---|---|---|---|")
    for phase, paths in long_requests.items():
        for path, runs in paths.items():
            times = [t for t, _ in runs]
            print(f"| {phase} | {path} | "
                  f"{len(runs)} | {statistics.median(times):.2f} | {max(times):.2f} | "
                  f"{runs[-1][1]:,} |")


if __name__ == "__main__":
    main()
