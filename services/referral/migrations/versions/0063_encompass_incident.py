"""A police notification's incident, and per child whether they were present and their
voice (Operation Encompass).

Revision ID: 0063
Revises: 0062
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0063"
down_revision: str | None = "0062"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as table:
        table.add_column(sa.Column("incident", sa.JSON(), nullable=True))
    with op.batch_alter_table("referral_subjects") as table:
        table.add_column(sa.Column("present_at_incident", sa.Boolean(), nullable=True))
        table.add_column(sa.Column("voice", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_subjects") as table:
        table.drop_column("voice")
        table.drop_column("present_at_incident")
    with op.batch_alter_table("referrals") as table:
        table.drop_column("incident")
