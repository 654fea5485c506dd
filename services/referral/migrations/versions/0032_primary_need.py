"""A decision's primary need (CIN census N0-N9).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as table:
        table.add_column(sa.Column("primary_need", sa.String(2), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as table:
        table.drop_column("primary_need")
