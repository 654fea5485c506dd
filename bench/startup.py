"""Start-up time and idle memory of `mash up`, against an empty FastAPI + uvicorn process.

Run: .venv/bin/python bench/startup.py [--repeats 3]

For each repeat, `mash up` is started on a free port with a fresh temporary data dir:
the first start runs every migration and creates the demo data, the second start reuses
the same data dir. Time is wall time from spawn until GET /readyz answers 200; memory is
VmRSS of the process about 2 s after it became ready. The baseline, measured in the
same run, is a process that imports fastapi, uvicorn and sqlalchemy and serves 200 on
/readyz from a trivial app. Medians over the repeats are printed, with their ratios
(hub / baseline: 1.0 means the hub costs nothing over an empty FastAPI process).
"""

from __future__ import annotations

import argparse
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


def measure(command: list[str], port: int, log_path: Path) -> Start:
    """Spawn ``command``, time it until /readyz is 200 on ``port``, read its idle RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
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


def mib(kib: float) -> float:
    return kib / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    base: list[Start] = []
    first: list[Start] = []
    second: list[Start] = []
    with tempfile.TemporaryDirectory(prefix="mash-bench-startup-") as tmp:
        workdir = Path(tmp)
        # Interleaved, so a noisy neighbour hurts baseline and hub alike.
        for i in range(args.repeats):
            base.append(baseline(workdir, i))
            one, two = mash_up_pair(workdir, i)
            first.append(one)
            second.append(two)
            print(f"  repeat {i + 1}/{args.repeats}: baseline {base[-1].seconds:.2f} s, "
                  f"first {one.seconds:.2f} s, second {two.seconds:.2f} s", flush=True)

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


if __name__ == "__main__":
    main()
