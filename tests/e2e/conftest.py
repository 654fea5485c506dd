"""A real `mash up` and Debian's Chromium driven by Playwright, for the web client.

Chromium is Debian's package (/usr/bin/chromium; .ci/services installs it): no browser is
ever downloaded. Missing, the tests are skipped on a developer's machine and fail in CI.
Screenshots of the main pages go to $MASH_E2E_ARTIFACTS (default: a temporary directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from tests.auth import basic
from tests.bodies import referral_body
from tests.conftest import unavailable
from tests.helpers import FRIDAY_EVENING, free_port
from tests.mash_up import start, stop

CHROMIUM = os.environ.get("MASH_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync",
               "--disable-quic"]


@dataclass
class Hub:
    """A running `mash up` with its demo credentials, and its clock."""

    base_url: str
    data_dir: Path
    credentials: dict[str, Any]
    process: subprocess.Popen[str]
    clock_start: datetime
    started: float  # the real time (epoch seconds) the hub's clock started
    last_otp_step: dict[str, int] = field(default_factory=dict)
    browser_states: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        """The hub's clock now (it runs on from ``clock_start`` at real speed)."""
        return self.clock_start + timedelta(seconds=time.time() - self.started)

    def user(self, username: str) -> dict[str, Any]:
        return next(u for u in self.credentials["users"] if u["username"] == username)

    def agency_id(self, kind: str) -> str:
        return next(a["id"] for a in self.credentials["agencies"] if a["kind"] == kind)

    def fresh_otp(self, username: str) -> str:
        """The user's current TOTP code; a code works once, so wait for the next one if
        this user has already signed in within this 30-second step."""
        totp = pyotp.TOTP(self.user(username)["totp_secret"])
        step = int(time.time() // 30)
        if self.last_otp_step.get(username, -1) >= step:
            time.sleep((step + 1) * 30 - time.time() + 0.5)
            step = int(time.time() // 30)
        self.last_otp_step[username] = step
        return totp.at(step * 30)

    def partner_token(self, client_id: str = "northshire-police-system") -> str:
        entry = next(c for c in self.credentials["clients"] if c["client_id"] == client_id)
        response = httpx.post(f"{self.base_url}/oauth2/token",
                              data={"grant_type": "client_credentials"},
                              headers={"authorization": basic(entry["client_id"],
                                                              entry["client_secret"])},
                              timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def submit(self, client_id: str = "northshire-police-system", **changes: Any
               ) -> dict[str, Any]:
        """A referral posted by a partner system, as its case system would."""
        response = httpx.post(f"{self.base_url}/api/v1/referrals",
                              json=referral_body(**changes), timeout=10,
                              headers={"authorization": f"Bearer {self.partner_token(client_id)}"})
        assert response.status_code == 201, response.text
        receipt: dict[str, Any] = response.json()
        return receipt


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, or skip (fail in CI)."""
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        unavailable("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("Playwright", "the playwright package is not installed")
    return CHROMIUM


@contextmanager
def running_hub(data_dir: Path, clock_start: datetime) -> Iterator[Hub]:
    """`mash up` in ``data_dir`` with its clock starting at ``clock_start``."""
    port = free_port()
    started = time.time()
    process = start(data_dir, port, clock_start=clock_start)
    try:
        credentials = json.loads((data_dir / "demo" / "credentials.json").read_text())
        yield Hub(f"http://127.0.0.1:{port}", data_dir, credentials, process, clock_start,
                  started)
    finally:
        stop(process)


@pytest.fixture(scope="session")
def hub(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One `mash up` for the whole browser suite, with the demo users, on a Friday
    evening."""
    with running_hub(tmp_path_factory.mktemp("e2e-hub"), FRIDAY_EVENING) as started:
        yield started


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Chromium, per test module: Playwright's sync API runs an event loop in this thread
    while it is open, so it must be closed before any asyncio test of another module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go: $MASH_E2E_ARTIFACTS, or a temporary directory."""
    given = os.environ.get("MASH_E2E_ARTIFACTS")
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="mash-e2e-"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory
