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


def start(data_dir: Path, port: int, *,
          clock_start: datetime | None = None) -> subprocess.Popen[str]:
    """`mash up` on ``port``, ready; its clock starting at ``clock_start`` if given."""
    env = dict(os.environ)
    if clock_start is not None:
        env["MASH_CLOCK_START"] = clock_start.isoformat()
    process = subprocess.Popen(
        [MASH, "up", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
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
