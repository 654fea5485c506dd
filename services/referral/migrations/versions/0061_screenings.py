"""Structured risk screenings; a referral's latest CSE level.

Revision ID: 0061
Revises: 0060
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0061"
down_revision: str | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as table:
        table.add_column(sa.Column("cse_level", sa.String(8), nullable=True))
    op.create_table(
        "screenings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("tool", sa.String(16), nullable=False),
        sa.Column("tool_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("category_scores", sa.JSON(), nullable=False),
        sa.Column("computed_level", sa.String(8), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("screened_by", sa.String(100), nullable=False),
        sa.Column("screened_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_screenings_referral_id", "screenings", ["referral_id"])


def downgrade() -> None:
    op.drop_table("screenings")
    with op.batch_alter_table("referrals") as table:
        table.drop_column("cse_level")
