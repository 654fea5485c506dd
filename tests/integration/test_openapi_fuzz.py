"""Schemathesis over the whole public OpenAPI of a real `mash up`: no input gets a 5xx.

Three runs: as a partner system (the demo police system's bearer token), as a MASH manager
and as the hub's administrator (session cookie and CSRF header), each through every phase:
the schema's examples, coverage, fuzzing, and stateful sequences along the links it infers.
Generation is deterministic, so a failure reproduces with the same command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth import basic, current_otp, demo_client, demo_user, load_credentials
from tests.bodies import referral_body
from tests.helpers import free_port
from tests.mash_up import start, stop

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
# Cases per operation and phase: about 1,800 cases a run over the 47 operations.
EXAMPLES_PER_OPERATION = 10
MINIMUM_CASES = 1000
SEEDED_REFERRALS = 3


@dataclass
class RunningHub:
    base_url: str
    credentials: dict[str, Any]
    cookies: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def running_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """`mash up` on a free port with its demo data, plus a few referrals to find."""
    data_dir = tmp_path_factory.mktemp("fuzzed-hub")
    port = free_port()
    process = start(data_dir, port)
    try:
        hub = RunningHub(f"http://127.0.0.1:{port}", load_credentials(data_dir))
        token = partner_token(hub)
        for _ in range(SEEDED_REFERRALS):
            response = httpx.post(f"{hub.base_url}/api/v1/referrals", json=referral_body(),
                                  headers={"authorization": f"Bearer {token}"}, timeout=10)
            assert response.status_code == 201, response.text
        # Signed in before any fuzzing: the runs' failed sign-ins may lock the account.
        hub.cookies = {username: session_cookie(hub, username)
                       for username in ("mash.manager", "admin")}
        yield hub
    finally:
        stop(process)


def partner_token(hub: RunningHub) -> str:
    """The demo police system's access token, by client_secret_basic."""
    entry = demo_client(hub.credentials)
    response = httpx.post(f"{hub.base_url}/oauth2/token",
                          data={"grant_type": "client_credentials"}, timeout=10,
                          headers={"authorization": basic(entry["client_id"],
                                                          entry["client_secret"])})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def session_cookie(hub: RunningHub, username: str) -> str:
    """A demo member of staff's session cookie value."""
    user = demo_user(hub.credentials, username)
    response = httpx.post(f"{hub.base_url}/api/v1/sessions", timeout=10, json={
        "username": username, "password": user["password"],
        "otp": current_otp(user["totp_secret"])})
    assert response.status_code == 200, response.text
    return str(response.cookies["mash_session"])


def fuzz(hub: RunningHub, workdir: Path, *options: str) -> tuple[int, str]:
    """Run schemathesis with the 5xx check; its exit code and output."""
    workdir.mkdir()
    finished = subprocess.run(
        [SCHEMATHESIS, "run", f"{hub.base_url}/openapi.json",
         "--checks", "not_a_server_error", "--generation-deterministic",
         "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "2",
         "--request-timeout", "30", "--no-color", "--output-truncate", "false", *options],
        cwd=workdir, capture_output=True, text=True, timeout=600, check=False,
    )
    return finished.returncode, finished.stdout + finished.stderr


def cases_run(output: str) -> int:
    """How many test cases schemathesis generated, from its summary."""
    found = re.search(r"Test cases:\s+(\d+) generated", output)
    assert found, output[-3000:]
    return int(found.group(1))


def assert_no_server_error(code: int, output: str) -> None:
    """Schemathesis passed, having run its stateful phase and enough cases."""
    assert code == 0, output
    cases = cases_run(output)
    print(f"schemathesis: {cases} cases, no failure")  # shown by pytest -rP
    assert "Scenarios:" in output and cases >= MINIMUM_CASES, output[-3000:]


def test_a_partner_system_gets_no_server_error_from_any_input(
    running_hub: RunningHub, tmp_path: Path,
) -> None:
    code, output = fuzz(running_hub, tmp_path / "partner",
                        "--header", f"Authorization: Bearer {partner_token(running_hub)}")
    assert_no_server_error(code, output)


def fuzz_as_staff(hub: RunningHub, workdir: Path, username: str) -> tuple[int, str]:
    """Fuzz with a member of staff's session cookie and the CSRF header."""
    return fuzz(hub, workdir, "--header", f"Cookie: mash_session={hub.cookies[username]}",
                "--header", "x-mash-csrf: 1",
                # Signing out would leave the rest of the run unauthenticated.
                "--exclude-path", "/api/v1/sessions/current")


def test_a_mash_manager_gets_no_server_error_from_any_input(
    running_hub: RunningHub, tmp_path: Path,
) -> None:
    code, output = fuzz_as_staff(running_hub, tmp_path / "manager", "mash.manager")
    assert_no_server_error(code, output)


# Last: the administrator's run may disable the clients and users the others run as.
def test_the_administrator_gets_no_server_error_from_any_input(
    running_hub: RunningHub, tmp_path: Path,
) -> None:
    code, output = fuzz_as_staff(running_hub, tmp_path / "admin", "admin")
    assert_no_server_error(code, output)
