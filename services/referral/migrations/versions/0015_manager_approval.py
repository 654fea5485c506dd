"""Manager approval: a practitioner's decision that needs a manager waits, with who
proposed it, until a manager (from their token) approves or returns it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("proposed_outcome", "proposed_rationale", "proposed_by", "proposed_at",
           "approved_by", "approved_by_name")


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("proposed_outcome", sa.String(32), nullable=True))
        batch.add_column(sa.Column("proposed_rationale", sa.Text(), nullable=True))
        batch.add_column(sa.Column("proposed_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("proposed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("approved_by_name", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
