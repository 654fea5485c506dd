"""Referrals, reference counters, outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migration_ops import create_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("reference", sa.String(32), nullable=False, unique=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("source", sa.String(4), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("immediate_risk", sa.Boolean(), nullable=False),
        sa.Column("external_reference", sa.String(100), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_referrals_status", "referrals", ["status"])
    op.create_index("ix_referrals_received_at", "referrals", ["received_at"])
    op.create_table(
        "reference_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
    )
    create_messaging_tables()


def downgrade() -> None:
    op.drop_table("inbox_messages")
    op.drop_table("outbox_messages")
    op.drop_table("reference_counters")
    op.drop_table("referrals")
