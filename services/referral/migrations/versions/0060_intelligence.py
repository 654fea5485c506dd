"""Safeguarding intelligence: referral contexts, the index of values by child, alerts;
a subject's missing-from-home flag.

Revision ID: 0060
Revises: 0032
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0060"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral_subjects") as table:
        table.add_column(sa.Column("missing_from_home", sa.Boolean(), nullable=True))
    op.create_table(
        "referral_contexts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
    )
    op.create_index("ix_referral_contexts_referral_id", "referral_contexts", ["referral_id"])
    op.create_table(
        "intelligence_index",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("child", sa.String(48), nullable=False),
        sa.Column("household", sa.String(10), nullable=True),
        sa.Column("subject_id", sa.String(36), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_intelligence_index_kind_value_seen", "intelligence_index",
                    ["kind", "value", "seen_at"])
    op.create_index("ix_intelligence_index_referral_id", "intelligence_index", ["referral_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("referral_ids", sa.JSON(), nullable=False),
        sa.Column("episode_ids", sa.JSON(), nullable=False),
        sa.Column("children", sa.JSON(), nullable=False),
        sa.Column("subject_ids", sa.JSON(), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_evidence", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("kind", "value", name="uq_alerts_kind_value"),
    )
    op.create_index("ix_alerts_status", "alerts", ["status"])
    op.create_index("ix_alerts_raised_at", "alerts", ["raised_at"])


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_table("intelligence_index")
    op.drop_table("referral_contexts")
    with op.batch_alter_table("referral_subjects") as table:
        table.drop_column("missing_from_home")
