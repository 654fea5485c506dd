"""Peer hubs, the notices sent to them (the sharing ledger) and each attempt.

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0051"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peer_hubs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("la_code", sa.String(3), nullable=False, unique=True),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("client_id", sa.String(100), nullable=False),
        sa.Column("agency_id", sa.String(36), nullable=True, index=True),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "peer_notices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("peer_hub_id", sa.String(36), nullable=False, index=True),
        sa.Column("referral_id", sa.String(36), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("legal_basis", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("shares_summary", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("committed_at", UTCDateTime(), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("dead_reason", sa.String(64), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("remote_referral_id", sa.String(36), nullable=True),
        sa.Column("remote_reference", sa.String(32), nullable=True),
    )
    op.create_index("ix_peer_notices_due", "peer_notices", ["status", "next_attempt_at"])
    op.create_table(
        "peer_notice_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.String(36), nullable=False, index=True),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("peer_notice_attempts")
    op.drop_index("ix_peer_notices_due", table_name="peer_notices")
    op.drop_table("peer_notices")
    op.drop_table("peer_hubs")
