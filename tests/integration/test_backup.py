"""`mash backup` of a running `mash up` while referrals come in, and `mash restore` into a
new directory: the restored hub starts, its audit log verifies against the backup's
checkpoint, and no referral acknowledged before the backup is missing."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import tarfile
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.auth import client_token, load_credentials
from tests.bodies import referral_body
from tests.helpers import free_port
from tests.mash_up import MASH, start, stop


def token(base_url: str, data_dir: Path) -> str:
    """A demo partner's token from the hub at ``base_url`` (a restored hub may run on
    another port than the one its demo credentials were written for)."""
    credentials = {**load_credentials(data_dir), "base_url": base_url}

    async def fetch() -> str:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            return await client_token(client, credentials, data_dir)
    return asyncio.run(fetch())


def post(base_url: str, bearer: str, reference: str) -> str | None:
    """A police referral; its id once acknowledged (201), else None."""
    answer = httpx.post(f"{base_url}/api/v1/referrals", timeout=10,
                        json=referral_body(external_reference=reference),
                        headers={"authorization": f"Bearer {bearer}"})
    return str(answer.json()["id"]) if answer.status_code == 201 else None


def mash(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MASH, *args], capture_output=True, text=True, timeout=120)


def test_a_running_hub_is_backed_up_under_load_and_restored_with_nothing_acknowledged_lost(
    tmp_path: Path,
) -> None:
    live, restored, archive = tmp_path / "live", tmp_path / "restored", tmp_path / "hub.tgz"
    port = free_port()
    hub = start(live, port)
    base_url = f"http://127.0.0.1:{port}"
    stop_load = threading.Event()
    during: list[str | None] = []
    try:
        bearer = token(base_url, live)
        before = [post(base_url, bearer, f"backup-before-{n}") for n in range(15)]
        assert all(before)

        def keep_referring() -> None:
            n = 0
            while not stop_load.is_set():
                during.append(post(base_url, bearer, f"backup-during-{n}"))
                n += 1

        load = threading.Thread(target=keep_referring)
        load.start()
        made = mash("backup", "--data-dir", str(live), "--to", str(archive))
        stop_load.set()
        load.join(timeout=30)
        assert made.returncode == 0, made.stderr
        assert "referral.db" in made.stdout and "sealed at entry" in made.stdout
    finally:
        stop_load.set()
        stop(hub)
    assert during, "referrals were coming in while the backup ran"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as contents:
        names = set(contents.getnames())
    assert {"manifest.json", "identity.db", "referral.db", "notify.db", "secret_key",
            "audit-checkpoint.json"} <= names
    assert not any(name.endswith(("-wal", "-shm")) for name in names)

    done = mash("restore", "--from", str(archive), "--data-dir", str(restored))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(restored.stat().st_mode) == 0o700
    verified = mash("audit", "verify", "--data-dir", str(restored), "--checkpoint",
                    str(restored / "audit-checkpoint.json"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "matches the checkpoint" in verified.stdout

    port = free_port()
    again = start(restored, port)
    try:
        base_url = f"http://127.0.0.1:{port}"
        bearer = token(base_url, restored)
        for referral_id in before:
            answer = httpx.get(f"{base_url}/api/v1/referrals/{referral_id}", timeout=10,
                               headers={"authorization": f"Bearer {bearer}"})
            assert answer.status_code == 200, answer.text
        assert post(base_url, bearer, "after-restore")  # it takes new referrals too
    finally:
        stop(again)


def test_restore_refuses_a_damaged_backup_and_a_directory_in_use(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "referral.db").write_bytes(b"")
    damaged = tmp_path / "damaged.tgz"
    payload = tmp_path / "payload"
    payload.mkdir()
    (payload / "referral.db").write_bytes(b"one thing")
    manifest: dict[str, Any] = {"made_at": "2026-12-04T00:00:00+00:00",
                                "databases": ["referral.db"], "files": [],
                                "sha256": {"referral.db": "0" * 64}}
    (payload / "manifest.json").write_text(json.dumps(manifest))
    with tarfile.open(damaged, "w:gz") as out:
        for name in ("manifest.json", "referral.db"):
            out.add(payload / name, arcname=name)

    refused = mash("restore", "--from", str(damaged), "--data-dir", str(tmp_path / "new"))
    assert refused.returncode == 2 and "damaged" in refused.stderr
    assert not (tmp_path / "new" / "referral.db").exists()
    in_use = mash("restore", "--from", str(damaged), "--data-dir", str(used))
    assert in_use.returncode == 2 and "not empty" in in_use.stderr


def test_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "referral.db").write_bytes(b"")
    target = tmp_path / "old.tgz"
    target.write_bytes(b"an earlier backup")
    refused = mash("backup", "--data-dir", str(tmp_path / "hub"), "--to", str(target))
    assert refused.returncode == 2
    assert target.read_bytes() == b"an earlier backup"
