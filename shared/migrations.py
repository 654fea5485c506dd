"""Running a service's own Alembic history against its own database.

Alembic is imported only when a migration is to run: a start whose database is already
at the history's head (every restart) finds that out from the scripts' text and the
version table, without importing Alembic or loading the scripts (Alembic's no-op upgrade
of the referral database alone took about 90 ms in a fresh process, this check 2 ms).
The tables and indexes the services' migrations share are in shared.migration_ops."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from shared.db import Database

if TYPE_CHECKING:
    from alembic.config import Config


def version_table(service: str) -> str:
    """The table holding ``service``'s migration version (one row, in its own database)."""
    return f"alembic_version_{service}"


def alembic_config(
    script_location: Path, service: str, connection: Connection | None = None,
    *, secret_key: str | None = None,
) -> Config:
    """An Alembic config for one service; no ini file needed.

    ``secret_key`` is for migrations that encrypt what was kept in plain text.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["version_table"] = version_table(service)
    if connection is not None:
        config.attributes["connection"] = connection
    if secret_key is not None:
        config.attributes["secret_key"] = secret_key
    return config


def migration_secret_key() -> str:
    """The hub's secret, inside a migration run by ``upgrade_to_head``."""
    from alembic import context

    secret: str | None = context.config.attributes.get("secret_key")
    if secret is None:
        raise RuntimeError("this migration encrypts secrets: run it with `mash migrate`, "
                           "which supplies MASH_SECRET_KEY")
    return secret


async def upgrade_to_head(database: Database, script_location: Path, service: str,
                          *, secret_key: str | None = None) -> None:
    """Apply every migration of ``service`` that ``database`` has not had yet."""
    if await at_head(database, script_location, service):
        return
    await _migrate(database, script_location, service, "upgrade", "head", secret_key)


# A script's own revision and the one it revises, as `alembic revision` writes them.
_REVISION = re.compile(r"^revision(?:\s*:[^=\n]*)?\s*=\s*['\"]([^'\"\n]+)['\"]\s*$", re.M)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:[^=\n]*)?\s*=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")
_BRANCHING = re.compile(r"^(?:branch_labels|depends_on)(?:\s*:[^=\n]*)?\s*=\s*(.+?)\s*$", re.M)


@cache
def script_heads(script_location: Path) -> frozenset[str] | None:
    """The heads of ``script_location``'s history, read from its scripts' text without
    importing them; None if any script is not in the plain form (one revision, revising
    one or none, no branch labels or dependencies): Alembic then works it out."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (script_location / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(text), _DOWN_REVISION.findall(text)
        if (len(revision) != 1 or len(down) != 1
                or any(value != "None" for value in _BRANCHING.findall(text))):
            return None
        if down[0] != "None":
            parent = _QUOTED.fullmatch(down[0])
            if parent is None:  # a merge, or something else Alembic should read
                return None
            revised.add(parent.group(1))
        revisions.add(revision[0])
    heads = revisions - revised
    return frozenset(heads) if heads else None


async def at_head(database: Database, script_location: Path, service: str) -> bool:
    """Whether ``database`` has had every migration of ``service``: its version table holds
    exactly the history's heads. False if that cannot be told without Alembic (no version
    table yet, or scripts :func:`script_heads` does not read)."""
    heads = script_heads(script_location)
    if heads is None:
        return False
    try:
        async with database.engine.connect() as conn:
            rows = await conn.exec_driver_sql(
                f"SELECT version_num FROM {version_table(service)}")  # noqa: S608 (a constant)
            found = {row[0] for row in rows}
    except DBAPIError:  # no version table: a new database
        return False
    return found == heads


async def downgrade(database: Database, script_location: Path, service: str, revision: str,
                    *, secret_key: str | None = None) -> None:
    """Undo ``service``'s migrations down to ``revision`` ("-1": the latest one only)."""
    await _migrate(database, script_location, service, "downgrade", revision, secret_key)


async def _migrate(database: Database, script_location: Path, service: str,
                   direction: str, revision: str, secret_key: str | None) -> None:
    """Run Alembic in one transaction. On SQLite, a batch migration rebuilds a table
    (copy, drop, rename), and dropping a table other rows refer to fails while foreign keys
    are enforced: they are off while it runs (as Alembic's documentation advises), checked
    before the commit, and on again after."""

    from alembic import command

    def run(connection: Connection) -> None:
        config = alembic_config(script_location, service, connection, secret_key=secret_key)
        getattr(command, direction)(config, revision)
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"{service}: {len(broken)} rows refer to missing rows "
                                   f"after the migration (first: table {broken[0][0]})")

    async with database.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # a PRAGMA, not a write: runs before the transaction begins
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()  # ends SQLAlchemy's autobegun transaction (no BEGIN was sent)
        try:
            async with conn.begin():
                await conn.run_sync(run)
        finally:
            if sqlite:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()


def run_migrations_in_env() -> None:
    """The body of every service's ``env.py``: migrate the connection we were given."""
    from alembic import context

    config = context.config
    connection: Any = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `mash migrate`, which supplies the connection")
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
