"""`mash up` as a newcomer runs it: a real process, stopped with Ctrl+C and started again."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx

from tests.auth import basic
from tests.bodies import referral_body
from tests.helpers import free_port
from tests.mash_up import start, stop


def count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def test_mash_up_starts_with_demo_logins_and_keeps_everything_across_a_restart(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "hub"
    port = free_port()
    process = start(data_dir, port)
    try:
        demo = json.loads((data_dir / "demo" / "credentials.json").read_text())
        entry = demo["clients"][0]
        token = httpx.post(
            f"http://127.0.0.1:{port}/oauth2/token", data={"grant_type": "client_credentials"},
            headers={"authorization": basic(entry["client_id"], entry["client_secret"])},
            timeout=10,
        ).json()["access_token"]
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/referrals",
                              json=referral_body(), timeout=10,
                              headers={"authorization": f"Bearer {token}"})
        assert response.status_code == 201
        referral_id = response.json()["id"]
        deadline = time.monotonic() + 10
        while count(data_dir / "notify.db", "deliveries") < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        output = stop(process)

    assert f"http://127.0.0.1:{port}/" in output
    credentials_path = data_dir / "demo" / "credentials.json"
    assert str(credentials_path.resolve()) in output
    credentials = json.loads(credentials_path.read_text())
    assert credentials["base_url"] == f"http://127.0.0.1:{port}"
    assert len(credentials["users"]) == 6 and len(credentials["clients"]) == 2
    assert sorted(p.name for p in data_dir.glob("*.db")) == [
        "identity.db", "notify.db", "referral.db"]
    assert count(data_dir / "notify.db", "deliveries") == 1

    process = start(data_dir, port)
    output = stop(process)
    assert json.loads(credentials_path.read_text()) == credentials, "demo data made once"
    assert "Demo sign-in details" in output
    with sqlite3.connect(data_dir / "referral.db") as conn:
        assert conn.execute("SELECT id FROM referrals").fetchall() == [(referral_id,)]
    assert count(data_dir / "notify.db", "deliveries") == 1, "nothing delivered twice"
