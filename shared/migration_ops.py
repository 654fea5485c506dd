"""Tables and indexes more than one service's migrations create: called from inside a
migration (Alembic's ``op`` is bound there), never at run time."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime


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
