"""Looked-after children's placements and child protection plan status on subjects.

Revision ID: 0050
Revises: 0032
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0050"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral_subjects") as batch:
        batch.add_column(sa.Column("looked_after", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("child_protection_plan", sa.String(length=8),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_subjects") as batch:
        batch.drop_column("child_protection_plan")
        batch.drop_column("looked_after")
