"""Upgrading a hub: the previous release, run from its own code, takes referrals and a
triage; the current code then migrates its databases to head and every record is there;
one migration of each service is undone and done again with the data still intact.

The previous release is a fixed commit: the first release's last commit before this
round's migrations (referral 0010, identity 0006, notify 0005). Its tree is taken from
git history (`git archive`), so the test needs a clone with history, as CI's is."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.auth import basic, current_otp, load_credentials
from tests.bodies import TEST_NHS_NUMBERS, referral_body
from tests.conftest import unavailable
from tests.helpers import free_port
from tests.mash_up import MASH

ROOT = Path(__file__).resolve().parents[2]
PREVIOUS_RELEASE = "e387879d899b6978ef20f0f8254841efcb0a2398"
PREVIOUS_HEADS = {"identity": "0006", "referral": "0010", "notify": "0005"}
SERVICES = ("identity", "referral", "notify")


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's source tree."""
    git = shutil.which("git")
    if git is None or subprocess.run([git, "-C", str(ROOT), "cat-file", "-e",
                                      f"{PREVIOUS_RELEASE}^{{commit}}"],
                                     capture_output=True).returncode != 0:
        unavailable("the previous release", f"commit {PREVIOUS_RELEASE[:7]} is not in this "
                    "clone's history (a shallow clone?)")
    assert git is not None
    tree = tmp_path_factory.mktemp("previous-release")
    archive = tree / "source.tar"
    with archive.open("wb") as out:
        subprocess.run([git, "-C", str(ROOT), "archive", PREVIOUS_RELEASE], stdout=out,
                       check=True)
    with tarfile.open(archive) as source:
        source.extractall(tree, filter="data")
    archive.unlink()
    return tree


# `mash up` always keeps its data in SQLite; on PostgreSQL the same hub (both releases have
# this Hub and create_hub_app) is started with the databases' URLs from the environment.
ON_POSTGRESQL = """
import sys
from pathlib import Path

import uvicorn

from mash.cli import embedded_settings
from mash.gateway import Hub, create_hub_app

data_dir, port = Path(sys.argv[1]), int(sys.argv[2])
settings = embedded_settings(data_dir, base_url=f"http://127.0.0.1:{port}",
                             broker_url="memory://")
uvicorn.run(create_hub_app(settings, hub=Hub(settings, demo=True)), host="127.0.0.1",
            port=port, log_config=None)
"""
LAST_CODE: dict[str, str] = {}


class Hub:
    """The embedded hub of one code tree (the previous release's, or None for this one),
    on SQLite (`mash up`) or on the PostgreSQL databases ``env`` names."""

    def __init__(self, data_dir: Path, env: dict[str, str], code: Path | None,
                 staff_user: str = "mash.practitioner") -> None:
        self.staff_user = staff_user
        self.data_dir, self.port = data_dir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
        environment.update(env)
        self.env = dict(environment)  # for this checkout's commands on the hub's data
        cwd = None
        if code is not None:
            # The old tree first on the path: its mash, services and shared packages are
            # imported, not this checkout's (installed in editable mode, after PYTHONPATH).
            environment["PYTHONPATH"] = cwd = str(code)
        if env:
            argv = [sys.executable, "-c", ON_POSTGRESQL, str(data_dir), str(self.port)]
        else:
            argv = [sys.executable, "-c", "import sys; from mash.cli import main; "
                    "sys.argv[0] = 'mash'; main()", "up", "--port", str(self.port),
                    "--data-dir", str(data_dir)]
        self.log = (data_dir.parent / f"{data_dir.name}.log").open("a")
        self.process = subprocess.Popen(argv, cwd=cwd, env=environment, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready in 90 s:\n" + self.output()
            time.sleep(0.3)
        self.staff: httpx.Client | None = None

    def output(self) -> str:
        return (self.data_dir.parent / f"{self.data_dir.name}.log").read_text()[-3000:]

    def stop(self) -> None:
        if self.staff is not None:
            self.staff.close()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)
        self.log.close()

    def police(self) -> dict[str, str]:
        entry = load_credentials(self.data_dir)["clients"][0]
        token = httpx.post(f"{self.url}/oauth2/token", data={"grant_type": "client_credentials"},
                           headers={"authorization": basic(entry["client_id"],
                                                           entry["client_secret"])})
        assert token.status_code == 200, token.text
        return {"authorization": f"Bearer {token.json()['access_token']}"}

    def practitioner(self) -> httpx.Client:
        if self.staff is None:
            user = next(u for u in load_credentials(self.data_dir)["users"]
                        if u["username"] == self.staff_user)
            client = httpx.Client(base_url=self.url, timeout=10, headers={"x-mash-csrf": "1"})
            # A TOTP code works once, and the last hub's sign-in may have used this one:
            # wait for the next code (every 30 s).
            while current_otp(user["totp_secret"]) == LAST_CODE.get(user["username"]):
                time.sleep(1)
            code = LAST_CODE[user["username"]] = current_otp(user["totp_secret"])
            signed_in = client.post("/api/v1/sessions", json={
                "username": user["username"], "password": user["password"], "otp": code})
            assert signed_in.status_code == 200, signed_in.text
            self.staff = client
        return self.staff

    def paths(self) -> set[str]:
        return set(httpx.get(f"{self.url}/openapi.json", timeout=10).json()["paths"])


def child(name: str, nhs_number: str, reference: str) -> dict[str, Any]:
    body = referral_body(external_reference=reference)
    body["subjects"][0].update(given_name=name, nhs_number=nhs_number)
    return body


def seed(hub: Hub) -> dict[str, Any]:
    """Referrals and a triage, made through the hub's own API; what to look for later."""
    police = hub.police()
    made = {}
    for reference, name, nhs in (("UP-1", "Amy", TEST_NHS_NUMBERS[0]),
                                 ("UP-2", "Amy", TEST_NHS_NUMBERS[0]),
                                 ("UP-3", "Ben", TEST_NHS_NUMBERS[1])):
        answer = httpx.post(f"{hub.url}/api/v1/referrals", json=child(name, nhs, reference),
                            headers=police, timeout=10)
        assert answer.status_code == 201, answer.text
        made[reference] = answer.json()["id"]
    staff = hub.practitioner()
    first = staff.get(f"/api/v1/referrals/{made['UP-1']}")
    triaged = staff.post(f"/api/v1/referrals/{made['UP-1']}/triage",
                         json={"rag": "amber", "rationale": "Synthetic: seen before"},
                         headers={"if-match": first.headers["etag"]})
    assert triaged.status_code == 200, triaged.text
    return made


def check(hub: Hub, made: dict[str, Any]) -> None:
    """Every seeded record, read through the current API."""
    police = hub.police()
    for reference, referral_id in made.items():
        mine = httpx.get(f"{hub.url}/api/v1/referrals/{referral_id}", headers=police,
                         timeout=10)
        assert mine.status_code == 200, mine.text
        assert mine.json()["external_reference"] == reference
    staff = hub.practitioner()  # identity's users, passwords and TOTP secrets survived
    triaged = staff.get(f"/api/v1/referrals/{made['UP-1']}").json()
    assert triaged["status"] == "triaged" and triaged["rag"] == "amber"
    persons = {}
    for reference, referral_id in made.items():
        subjects = staff.get(f"/api/v1/referrals/{referral_id}").json()["subjects"]
        persons[reference] = next(s["person_id"] for s in subjects if s["role"] == "child")
    assert persons["UP-1"] == persons["UP-2"] != persons["UP-3"]
    queue = staff.get("/api/v1/referrals/queue").json()
    assert {item["id"] for item in queue["items"]} >= set(made.values())
    verified = subprocess.run([MASH, "audit", "verify", "--data-dir", str(hub.data_dir)],
                              env=hub.env, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def versions(data_dir: Path) -> dict[str, str]:
    """Each service's Alembic revision (ids start with their number)."""
    from mash.cli import _service, embedded_settings
    from shared.migrations import version_table

    settings = embedded_settings(data_dir)
    found = {}
    for name in SERVICES:
        service = _service(name, settings)
        async with service.database.engine.connect() as conn:
            # The table's name is the project's own (version_table), not input.
            query = text(f"SELECT version_num FROM {version_table(name)}")  # noqa: S608
            row = (await conn.execute(query)).one()
        found[name] = str(row[0])
        await service.database.dispose()
    return found


async def undo_latest_migration(data_dir: Path) -> None:
    from mash.cli import _service, embedded_settings
    from shared.migrations import downgrade

    settings = embedded_settings(data_dir)
    for name in SERVICES:
        service = _service(name, settings)
        await downgrade(service.database, service.migrations, name, "-1",
                        secret_key=settings.secret_key.get_secret_value())
        await service.database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """Where the hub keeps its data: `mash up`'s SQLite files, or PostgreSQL databases."""
    if request.param == "sqlite":
        yield {}
        return
    factory: Callable[[], AbstractContextManager[str]] = request.getfixturevalue(
        "postgres_database_factory")
    with ExitStack() as stack:
        yield {f"MASH_{name.upper()}_DATABASE_URL": stack.enter_context(factory())
               for name in SERVICES}


def test_the_previous_release_upgrades_to_head_and_one_step_back_and_forth(
    previous_release: Path, database_env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_dir = tmp_path / "hub"
    for key, value in database_env.items():
        monkeypatch.setenv(key, value)

    old = Hub(data_dir, database_env, previous_release)
    try:
        assert "/api/v1/alerts" not in old.paths(), "the previous release's code is running"
        made = seed(old)
    finally:
        old.stop()
    before = asyncio.run(versions(data_dir))
    assert {k: v[:4] for k, v in before.items()} == PREVIOUS_HEADS

    new = Hub(data_dir, database_env, None, "mash.manager")  # migrates to head as it starts
    try:
        assert "/api/v1/alerts" in new.paths()
        check(new, made)
    finally:
        new.stop()
    head = asyncio.run(versions(data_dir))
    assert all(head[name] != before[name] for name in SERVICES)

    asyncio.run(undo_latest_migration(data_dir))
    stepped_back = asyncio.run(versions(data_dir))
    assert all(stepped_back[name] != head[name] for name in SERVICES), stepped_back

    again = Hub(data_dir, database_env, None)
    try:
        check(again, made)
    finally:
        again.stop()
    assert asyncio.run(versions(data_dir)) == head
