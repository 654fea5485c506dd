"""Allocation: who is working on a referral, and the staff directory it is chosen from.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_directory",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("agency_id", sa.String(36), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("assignee_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("assignee_name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("assigned_at", UTCDateTime(), nullable=True))
    op.create_index("ix_referrals_assignee_id", "referrals", ["assignee_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_assignee_id", table_name="referrals")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("assigned_at")
        batch.drop_column("assignee_name")
        batch.drop_column("assignee_id")
    op.drop_table("staff_directory")
