"""Running a service's own Alembic history against its own database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.engine import Connection

from shared.db import Database, UTCDateTime


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
    secret: str | None = context.config.attributes.get("secret_key")
    if secret is None:
        raise RuntimeError("this migration encrypts secrets: run it with `mash migrate`, "
                           "which supplies MASH_SECRET_KEY")
    return secret


async def upgrade_to_head(database: Database, script_location: Path, service: str,
                          *, secret_key: str | None = None) -> None:
    """Apply every migration of ``service`` that ``database`` has not had yet."""
    await _migrate(database, script_location, service, "upgrade", "head", secret_key)


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


def create_messaging_tables() -> None:
    """The outbox and inbox tables every service has (see shared.outbox)."""
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_outbox_messages_unsent", "outbox_messages", ["sent_at", "id"])
    op.create_table(
        "inbox_messages",
        sa.Column("message_id", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(128), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )


def create_revoked_sessions_table() -> None:
    """The ended staff sessions a service refuses (see shared.auth.RevokedSession)."""
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_revoked_sessions_expires_at", "revoked_sessions", ["expires_at"])


def create_agency_directory_table() -> None:
    """A service's copy of the agency directory (see shared.agencies)."""
    op.create_table(
        "agency_directory",
        sa.Column("agency_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("school_urn", sa.String(6), nullable=True),
        sa.Column("safeguarding_lead_email", sa.String(320), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_agency_directory_school_urn", "agency_directory", ["school_urn"])


def add_agency_directory_name() -> None:
    """Agencies' names in a service's directory (organisations', for reports)."""
    with op.batch_alter_table("agency_directory") as table:
        table.add_column(sa.Column("name", sa.String(200), nullable=True))


def drop_agency_directory_name() -> None:
    with op.batch_alter_table("agency_directory") as table:
        table.drop_column("name")


INBOX_AGE_INDEX = "ix_inbox_messages_received_at"


def create_inbox_age_index() -> None:
    """Inbox rows by age, for the purger (shared.outbox.purge_messages)."""
    op.create_index(INBOX_AGE_INDEX, "inbox_messages", ["received_at"])


def drop_inbox_age_index() -> None:
    op.drop_index(INBOX_AGE_INDEX, table_name="inbox_messages")


def create_dead_letters_table() -> None:
    """Messages a consumer gave up on, under `mash up` (see shared.outbox.DeadLetter)."""
    op.create_table(
        "dead_letters",
        sa.Column("queue", sa.String(128), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error_type", sa.String(128), nullable=False),
        sa.Column("dead_at", UTCDateTime(), nullable=False),
    )
