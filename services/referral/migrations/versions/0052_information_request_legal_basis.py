"""The lawful basis for each information request, for the sharing ledger.

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0052"
down_revision: str | None = "0051"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("information_requests") as batch:
        batch.add_column(sa.Column("legal_basis", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("information_requests") as batch:
        batch.drop_column("legal_basis")
