"""`mash up` as a newcomer runs it: a real process, stopped with Ctrl+C and started again."""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken

from shared.crypto import fernet_from_secret
from shared.settings import DEFAULT_SECRET
from tests.auth import basic, current_otp
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
    assert len(credentials["users"]) == 7 and len(credentials["clients"]) == 2
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


def modes(data_dir: Path) -> dict[str, int]:
    """The permission bits of the data directory ('.') and of everything in it."""
    found = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for path in data_dir.rglob("*"):
        found[str(path.relative_to(data_dir))] = stat.S_IMODE(path.stat().st_mode)
    return found


def stored(database: Path, query: str) -> list[tuple[str, ...]]:
    with sqlite3.connect(database) as conn:
        return [tuple(row) for row in conn.execute(query).fetchall()]


def sign_in(port: int, user: dict[str, str]) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/api/v1/sessions", timeout=10, json={
        "username": user["username"], "password": user["password"],
        "otp": current_otp(user["totp_secret"])})


def test_mash_up_keeps_its_files_from_other_local_users_and_repairs_looser_modes(
    tmp_path: Path,
) -> None:
    data_dir, log = tmp_path / "hub", tmp_path / "mash.log"
    port = free_port()
    process = start(data_dir, port, log=log)
    try:
        running = modes(data_dir)  # while SQLite has its -wal and -shm files open
        demo = json.loads((data_dir / "demo" / "credentials.json").read_text())
        assert sign_in(port, demo["users"][1]).status_code == 200
    finally:
        output = stop(process)

    assert any(name.endswith("-wal") for name in running), "the WAL files are checked too"
    assert {name: mode for name, mode in running.items()
            if mode != (0o700 if (data_dir / name).is_dir() else 0o600)} == {}
    # A local user who copies the identity database gets no second factor.
    for user in demo["users"]:
        assert user["totp_secret"] not in output, "the banner shows no TOTP secret"
        assert user["password"] not in output, "the banner shows no password"
    sealed = dict(stored(data_dir / "identity.db", "SELECT username, totp_secret FROM users"))
    for user in demo["users"]:
        assert user["totp_secret"] not in sealed[user["username"]]

    # Someone loosened the modes (a copy, an archive restored): the next start repairs them.
    (data_dir / "referral.db").chmod(0o644)
    data_dir.chmod(0o755)
    stop(start(data_dir, port, log=log))

    assert modes(data_dir)["referral.db"] == 0o600 and modes(data_dir)["."] == 0o700
    warnings = [json.loads(line) for line in log.read_text().splitlines()
                if '"WARNING"' in line and "made private" in line]
    assert {entry["path"] for entry in warnings} == {".", "referral.db"}


def signing_key_box(secret: str) -> Fernet:
    return fernet_from_secret(secret, "identity signing keys")


def test_mash_up_encrypts_its_signing_key_with_a_secret_of_its_own_not_the_placeholder(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "hub"
    port = free_port()
    process = start(data_dir, port)
    try:
        user = json.loads((data_dir / "demo" / "credentials.json").read_text())["users"][1]
        session = sign_in(port, user).cookies
    finally:
        stop(process)

    # The attack: decrypt the signing key with the placeholder and forge a manager's token.
    [(encrypted,)] = stored(data_dir / "identity.db",
                            "SELECT private_key_encrypted FROM signing_keys")
    with pytest.raises(InvalidToken):
        signing_key_box(DEFAULT_SECRET).decrypt(encrypted.encode())
    secret_file = data_dir / "secret_key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    signing_key_box(secret_file.read_text().strip()).decrypt(encrypted.encode())

    # The same secret after a restart: a session from before it still works.
    process = start(data_dir, port)
    try:
        me = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", cookies=session, timeout=10)
    finally:
        stop(process)
    assert me.status_code == 200 and me.json()["username"] == user["username"]


def test_mash_secret_key_wins_over_the_data_directorys_own_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "hub"
    chosen = "a secret the operator chose for this test"
    stop(start(data_dir, free_port(), env={"MASH_SECRET_KEY": chosen}))

    [(encrypted,)] = stored(data_dir / "identity.db",
                            "SELECT private_key_encrypted FROM signing_keys")
    signing_key_box(chosen).decrypt(encrypted.encode())
    assert not (data_dir / "secret_key").exists()
