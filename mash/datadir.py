"""`mash up`'s data directory: private to its owner, and home of the hub's own secret.

The directory holds children's records (the SQLite files), keys and demo credentials, so
it is 0700 and every file in it 0600. Looser modes found on start are repaired, with a
warning naming the file (never its content).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# Files SQLite and the hub create are made private from the start (SQLite gives its -wal
# and -shm files the database file's mode; the umask covers everything else).
PRIVATE_UMASK = 0o077
SECRET_FILE = "secret_key"  # noqa: S105 - a file name
SECRET_ENV = "MASH_SECRET_KEY"  # noqa: S105 - a variable name


def make_private(data_dir: Path) -> None:
    """Create ``data_dir`` 0700, and take group and other access off everything in it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _repair(data_dir, PRIVATE_DIR, data_dir)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _repair(Path(root) / name, PRIVATE_DIR, data_dir)
        for name in files:
            _repair(Path(root) / name, PRIVATE_FILE, data_dir)


def _repair(path: Path, mode: int, data_dir: Path) -> None:
    try:
        current = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:  # an SQLite -shm file can go while we walk
        return
    if path.is_symlink() or not current & 0o077:
        return
    path.chmod(current & mode)
    log.warning("a file in the data directory was open to other users: made private",
                extra={"path": str(path.relative_to(data_dir)) if path != data_dir else "."})


def hub_secret(data_dir: Path) -> str | None:
    """The secret the hub's keys derive from: ``DIR/secret_key``, made on first start.

    None when MASH_SECRET_KEY is set (it wins), or when the directory predates the secret
    file (its keys were encrypted with the placeholder and still are: see README).
    """
    if os.environ.get(SECRET_ENV):
        return None
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    if any(data_dir.glob("*.db")):
        log.warning("this data directory was made before `mash up` generated a secret of its "
                    "own: it keeps the placeholder secret; start a new data directory (or set "
                    "MASH_SECRET_KEY when starting afresh) to leave it behind")
        return None
    secret = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret
