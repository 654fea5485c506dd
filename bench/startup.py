"""Start-up time and idle memory of `mash up`, against an empty FastAPI + uvicorn process;
and `mash audit verify`, against a plain recomputation of the same hash chain.

Run: .venv/bin/python bench/startup.py [--repeats 3] [--audit-entries 1000,10000]

For each repeat, `mash up` is started on a free port with a fresh temporary data dir:
the first start runs every migration and creates the demo data, the second start reuses
the same data dir. Time is wall time from spawn until GET /readyz answers 200; memory is
VmRSS of the process about 2 s after it became ready. The baseline, measured in the
same run, is a process that imports fastapi, uvicorn and sqlalchemy and serves 200 on
/readyz from a trivial app. Medians over the repeats are printed, with their ratios
(hub / baseline: 1.0 means the hub costs nothing over an empty FastAPI process), and the
ratios of the fastest runs (the least disturbed where the machine is shared).

`mash audit verify --data-dir DIR` is timed (spawn to exit) on data dirs holding
--audit-entries entries, next to a `python -c` process that recomputes the same chain with
sqlite3, json and hashlib alone (each entry's SHA-256 and its link to the one before).
Both are spawned the same way, so both pay for starting Python.

Children run with bytecode caching on (PYTHONDONTWRITEBYTECODE removed), as an installed
hub does; one untimed start of each process first writes the caches.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import free_port, mash_command

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOST = "127.0.0.1"
READY_TIMEOUT = 30.0  # seconds a process may take to answer /readyz
POLL = 0.01  # seconds between /readyz probes
IDLE = 2.0  # seconds to wait after ready before reading VmRSS

BASELINE_APP = """
import sys

import fastapi
import sqlalchemy  # noqa: F401  (imported for parity with the hub's heavy imports)
import uvicorn

app = fastapi.FastAPI()


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ready"}


uvicorn.run(app, host=sys.argv[1], port=int(sys.argv[2]), log_level="warning")
"""


@dataclass
class Start:
    seconds: float
    rss_kib: int


def ready(port: int) -> bool:
    conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)  # as Ctrl+C: uvicorn shuts down cleanly
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def child_environment() -> dict[str, str]:
    """No MASH_* (the shell must not change a result), and bytecode caches as installed."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MASH_") and k != "PYTHONDONTWRITEBYTECODE"}


def measure(command: list[str], port: int, log_path: Path) -> Start:
    """Spawn ``command``, time it until /readyz is 200 on ``port``, read its idle RSS."""
    env = child_environment()
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = started + READY_TIMEOUT
            while not ready(port):
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{command[0]} exited with {process.returncode} before it was ready:\n"
                        + log_path.read_text(errors="replace")[-2000:]
                    )
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"{command[0]} not ready within {READY_TIMEOUT}s")
                time.sleep(POLL)
            seconds = time.perf_counter() - started
            time.sleep(IDLE)
            rss = vm_rss_kib(process.pid)
        finally:
            stop(process)
    return Start(seconds, rss)


def mash_up_pair(workdir: Path, index: int) -> tuple[Start, Start]:
    """First start (migrations and demo data) and second start on the same data dir."""
    data_dir = workdir / f"data-{index}"
    runs = []
    for which in ("first", "second"):
        port = free_port()
        command = [*mash_command(), "up", "--host", HOST, "--port", str(port),
                   "--data-dir", str(data_dir)]
        runs.append(measure(command, port, workdir / f"mash-{index}-{which}.log"))
    return runs[0], runs[1]


def baseline(workdir: Path, index: int) -> Start:
    port = free_port()
    command = [sys.executable, "-c", BASELINE_APP, HOST, str(port)]
    return measure(command, port, workdir / f"baseline-{index}.log")


RECOMPUTE = """
import hashlib, json, sqlite3, sys
from datetime import UTC, datetime

FIELDS = ("prev_hash", "seq", "at", "actor", "actor_kind", "agency_id", "action",
          "record_type", "record_id", "purpose", "request_id", "detail", "hash")
rows = sqlite3.connect(sys.argv[1]).execute(
    f"SELECT {', '.join(FIELDS)} FROM audit_entries ORDER BY seq")
last, count, bad = "0" * 64, 0, 0
for row in rows:
    fields = list(row[:11])
    fields[2] = datetime.fromisoformat(row[2]).replace(tzinfo=UTC).isoformat()
    if row[11] is not None:
        fields.append(row[11])
    digest = hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()
    bad += row[0] != last or digest != row[12]
    last, count = row[12], count + 1
print(count, "entries", bad, "bad")
sys.exit(1 if bad else 0)
"""


async def write_audit_log(data_dir: Path, entries: int) -> None:
    """``entries`` audit entries in a fresh data dir's referral database, chained and sealed
    as the hub writes them."""
    from mash.cli import embedded_settings
    from services.referral.app import MIGRATIONS
    from services.referral.audit.seals import seal_head, seal_key
    from services.referral.audit.service import AuditBatch
    from shared.auth import Principal
    from shared.db import Database
    from shared.migrations import upgrade_to_head

    settings = embedded_settings(data_dir)
    database = Database(settings.database_url("referral"))
    who = Principal(subject="bench.practitioner", agency_id="agency-mash",
                    roles=frozenset({"mash_practitioner"}), kind="user",
                    token_id="bench-token")  # noqa: S106 (an id, not a secret)
    try:
        await upgrade_to_head(database, MIGRATIONS, "referral")
        for start in range(0, entries, 1000):
            batch = AuditBatch()
            for n in range(start, min(entries, start + 1000)):
                batch.add(who, "read", "referral", f"00000000-0000-4000-8000-{n:012d}",
                          "triage", {"q": "Ellis"} if n % 10 == 0 else None)
            async with database.unit_of_work() as uow:
                await batch.append(uow)
                await uow.commit()
        async with database.unit_of_work() as uow:
            await seal_head(uow, seal_key(settings.secret_key.get_secret_value()))
            await uow.commit()
    finally:
        await database.dispose()


def run_to_exit(command: list[str], log_path: Path) -> float:
    """Seconds from spawn to a successful exit."""
    with log_path.open("wb") as log:
        started = time.perf_counter()
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                               env=child_environment())
        seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{command[:3]} exited with {code}:\n"
                           + log_path.read_text(errors="replace")[-2000:])
    return seconds


def audit_verify(workdir: Path, entries: int, repeats: int) -> tuple[float, float]:
    """Medians of `mash audit verify` and of the plain recomputation, in seconds."""
    data_dir = workdir / f"audit-{entries}"
    asyncio.run(write_audit_log(data_dir, entries))
    verify = [*mash_command(), "audit", "verify", "--data-dir", str(data_dir)]
    plain = [sys.executable, "-c", RECOMPUTE, str(data_dir / "referral.db")]
    hub_times, plain_times = [], []
    run_to_exit(verify, workdir / "verify-warm.log")
    run_to_exit(plain, workdir / "plain-warm.log")
    for _ in range(repeats):
        plain_times.append(run_to_exit(plain, workdir / "plain.log"))
        hub_times.append(run_to_exit(verify, workdir / "verify.log"))
    log = (workdir / "verify.log").read_text()
    if f"{entries} entries" not in log:
        raise RuntimeError(f"mash audit verify did not check {entries} entries:\n{log}")
    return statistics.median(hub_times), statistics.median(plain_times)


def mib(kib: float) -> float:
    return kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--audit-entries", default="1000,10000,100000",
                        help="comma-separated sizes of the audit log to verify ('' for none)")
    args = parser.parse_args()
    sizes = [int(n) for n in args.audit_entries.split(",") if n.strip()]

    base: list[Start] = []
    first: list[Start] = []
    second: list[Start] = []
    with tempfile.TemporaryDirectory(prefix="mash-bench-startup-") as tmp:
        workdir = Path(tmp)
        # Untimed: the bytecode caches are written, as on any hub after its first run.
        baseline(workdir, -1)
        mash_up_pair(workdir, -1)
        # Interleaved, so a noisy neighbour hurts baseline and hub alike.
        for i in range(args.repeats):
            base.append(baseline(workdir, i))
            one, two = mash_up_pair(workdir, i)
            first.append(one)
            second.append(two)
            print(f"  repeat {i + 1}/{args.repeats}: baseline {base[-1].seconds:.2f} s, "
                  f"first {one.seconds:.2f} s, second {two.seconds:.2f} s", flush=True)
        audits = {entries: audit_verify(workdir, entries, args.repeats) for entries in sizes}

    def med_s(runs: list[Start]) -> float:
        return statistics.median(r.seconds for r in runs)

    def med_rss(runs: list[Start]) -> float:
        return statistics.median(r.rss_kib for r in runs)

    rows = [
        ("baseline (FastAPI + uvicorn, empty app)", base),
        ("mash up, first start (migrations + demo data)", first),
        ("mash up, second start (same data dir)", second),
    ]
    print()
    print(f"median of {args.repeats} runs; time = spawn until GET /readyz is 200, "
          f"RSS = VmRSS {IDLE:.0f} s after ready")
    print(f"{'process':<48} {'start (s)':>10} {'idle RSS (MiB)':>15}")
    for label, runs in rows:
        print(f"{label:<48} {med_s(runs):>10.2f} {mib(med_rss(runs)):>15.1f}")
    print()
    print("ratios (hub / baseline):")
    print(f"  start time, first start    {med_s(first) / med_s(base):6.2f}x")
    print(f"  start time, second start   {med_s(second) / med_s(base):6.2f}x")
    print(f"  idle RSS, first start      {med_rss(first) / med_rss(base):6.2f}x")
    print(f"  idle RSS, second start     {med_rss(second) / med_rss(base):6.2f}x")

    def fastest(runs: list[Start]) -> float:
        return min(r.seconds for r in runs)

    # On a shared machine a neighbour's load stretches some runs: the fastest of each is
    # the least disturbed, and their ratio a check on the medians'.
    print(f"  fastest runs: first start {fastest(first) / fastest(base):.2f}x, second start "
          f"{fastest(second) / fastest(base):.2f}x")
    if audits:
        print()
        print("mash audit verify (spawn to exit) vs a plain recomputation (python -c, sqlite3 "
              "+ hashlib)")
        print(f"{'entries':>8} {'verify (s)':>11} {'plain (s)':>10} {'ratio':>7}")
        for entries, (hub_s, plain_s) in audits.items():
            print(f"{entries:>8,} {hub_s:>11.2f} {plain_s:>10.2f} {hub_s / plain_s:>6.2f}x")


if __name__ == "__main__":
    main()
