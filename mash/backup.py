"""`mash backup` and `mash restore`: a `mash up` data directory, copied while the hub runs.

A backup is one gzipped tar archive (0600: it holds children's records and the hub's
keys) with:

- each service's SQLite database, copied with SQLite's online backup API, so each copy is
  consistent even while the hub writes (events a service had not yet published are in
  its copied outbox, and go out when the restored hub starts; consumers ignore what they
  had already handled);
- the audit chain's checkpoint, sealed just before the referral database is copied
  (``audit-checkpoint.json``): `mash audit verify --checkpoint` proves the restored log;
- the directory's other files: the hub's own secret (the keys derive from it), the demo
  credentials;
- ``manifest.json``: when, and each file's SHA-256, checked on restore.

For deployment mode (PostgreSQL), see docs/operations.md (pg_dump, point-in-time
recovery).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mash.datadir import PRIVATE_DIR, PRIVATE_FILE, make_private
from shared.settings import SERVICE_NAMES

CHECKPOINT = "audit-checkpoint.json"
MANIFEST = "manifest.json"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason for the operator."""


@dataclass(frozen=True)
class Backup:
    """What a backup holds."""

    path: Path
    databases: list[str]
    files: list[str]
    checkpoint_seq: int | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its WAL included), by the backup API."""
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def _is_database_file(name: str) -> bool:
    return name.endswith(".db") or any(name.endswith(f".db{side}") for side in SQLITE_SIDE_FILES)


def write_backup(data_dir: Path, target: Path, checkpoint: dict[str, object] | None) -> Backup:
    """Archive ``data_dir`` into ``target`` (databases by the backup API)."""
    if not data_dir.is_dir():
        raise BackupError(f"no data directory at {data_dir}")
    if target.exists():
        raise BackupError(f"{target} exists: give a new file name")
    databases, files = [], []
    with tempfile.TemporaryDirectory(prefix="mash-backup-") as work:
        staging = Path(work)
        for name in SERVICE_NAMES:
            source = data_dir / f"{name}.db"
            if source.exists():
                copy_database(source, staging / source.name)
                databases.append(source.name)
        for root, _, names in os.walk(data_dir):
            for name in sorted(names):
                path = Path(root) / name
                relative = path.relative_to(data_dir)
                if _is_database_file(name) and relative.parent == Path("."):
                    continue
                if path.is_file() and not path.is_symlink():
                    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                    (staging / relative).write_bytes(path.read_bytes())
                    files.append(str(relative))
        if checkpoint is not None:
            (staging / CHECKPOINT).write_text(json.dumps(checkpoint))
            files.append(CHECKPOINT)
        manifest = {"made_at": datetime.now(UTC).isoformat(), "databases": databases,
                    "files": files, "sha256": {name: _sha256(staging / name)
                                               for name in databases + files}}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        old = os.umask(0o077)
        try:
            with tarfile.open(target, "x:gz") as archive:
                for name in [MANIFEST, *databases, *files]:
                    archive.add(staging / name, arcname=name, recursive=False)
        finally:
            os.umask(old)
        target.chmod(PRIVATE_FILE)
    seq = checkpoint.get("seq") if checkpoint else None
    return Backup(target, databases, files, int(seq) if isinstance(seq, int) else None)


def restore_backup(archive_path: Path, data_dir: Path) -> dict[str, object]:
    """Unpack a backup into a new, empty ``data_dir``; every file's SHA-256 is checked.
    Returns the manifest."""
    if data_dir.exists() and any(data_dir.iterdir()):
        raise BackupError(f"{data_dir} is not empty: restore into a new directory")
    try:
        archive = tarfile.open(archive_path, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{archive_path} is not a mash backup ({exc})") from exc
    with archive:
        try:
            manifest = json.loads(_member(archive, MANIFEST))
        except (KeyError, ValueError) as exc:
            raise BackupError(f"{archive_path} has no readable {MANIFEST}") from exc
        expected: dict[str, str] = manifest.get("sha256", {})
        names = [*manifest.get("databases", []), *manifest.get("files", [])]
        contents = {}
        for name in names:
            if name.startswith("/") or ".." in Path(name).parts or name not in expected:
                raise BackupError(f"{archive_path} names a file it should not: {name!r}")
            data = _member(archive, name)
            if hashlib.sha256(data).hexdigest() != expected[name]:
                raise BackupError(f"{name} in {archive_path} is damaged (checksum differs)")
            contents[name] = data
    old = os.umask(0o077)
    try:
        data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        for name, data in contents.items():
            path = data_dir / name
            path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            path.write_bytes(data)
    finally:
        os.umask(old)
    make_private(data_dir)
    return dict(manifest)


def _member(archive: tarfile.TarFile, name: str) -> bytes:
    member = archive.getmember(name)
    if not member.isfile():
        raise BackupError(f"{name} in the backup is not a file")
    stream = archive.extractfile(member)
    if stream is None:
        raise BackupError(f"{name} in the backup cannot be read")
    with stream:
        return stream.read()
