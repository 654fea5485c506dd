"""`mash up` run as a user runs it: a process of its own, started and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

MASH = str(Path(sys.executable).with_name("mash"))


def start(data_dir: Path, port: int, *, log: Path | None = None,
          env: dict[str, str] | None = None,
          clock_start: datetime | None = None) -> subprocess.Popen[str]:
    """`mash up` on ``port``; its JSON log goes to ``log`` (appended) if given; its clock
    starts at ``clock_start`` if given.

    ``env`` replaces MASH_* variables of the test's own environment (MASH_SECRET_KEY is
    not passed on unless given: `mash up` then uses its data directory's secret).
    """
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
    environment.update(env or {})
    if clock_start is not None:
        environment["MASH_CLOCK_START"] = clock_start.isoformat()
    with open(log or os.devnull, "a") as log_file:
        process = subprocess.Popen(
            [MASH, "up", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE, stderr=log_file, text=True, env=environment,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mash up exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError("mash up was not ready within 60 s")
    return process


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, f"mash up exited with {process.returncode} on Ctrl+C"
    return output
