"""Subscriptions, delivery scheduling columns and the attempt log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DELIVERY_COLUMNS = [
    sa.Column("subscription_id", sa.String(36), nullable=True),
    sa.Column("agency_id", sa.String(64), nullable=True),
    sa.Column("channel", sa.String(16), nullable=True),
    sa.Column("payload", sa.Text(), nullable=True),
    sa.Column("event_time", UTCDateTime(), nullable=True),
    sa.Column("attempt_count", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Column("dead_reason", sa.String(64), nullable=True),
]


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("address", sa.String(320), nullable=True),
        sa.Column("event_types", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", UTCDateTime(), nullable=True),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("disabled_reason", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_subscriptions_agency_id", "subscriptions", ["agency_id"])
    # Earlier deliveries were recorded without a subscription to send them to.
    op.execute("UPDATE deliveries SET status = 'no_subscription' WHERE status = 'pending'")
    for column in DELIVERY_COLUMNS:
        op.add_column("deliveries", column)
    op.create_index("ix_deliveries_agency_id", "deliveries", ["agency_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_deliveries_ordering", "deliveries",
                    ["subscription_id", "referral_id", "event_time"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
    )
    op.create_index("ix_delivery_attempts_delivery_id", "delivery_attempts", ["delivery_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_index("ix_deliveries_ordering", "deliveries")
    op.drop_index("ix_deliveries_due", "deliveries")
    op.drop_index("ix_deliveries_agency_id", "deliveries")
    for column in reversed(DELIVERY_COLUMNS):
        op.drop_column("deliveries", column.name)
    op.drop_table("subscriptions")
