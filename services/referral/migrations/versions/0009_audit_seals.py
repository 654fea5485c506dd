"""The audit chain's seals (HMACs of its head with a key kept out of the database), and
the detail of an access (a search's terms).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (not a batch copy of the table): the append-only triggers stay.
    op.add_column("audit_entries", sa.Column("detail", sa.Text(), nullable=True))
    op.create_table(
        "audit_seals",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_seals")
    with op.batch_alter_table("audit_entries") as entries:
        entries.drop_column("detail")
