"""Schools' DfE URN and designated safeguarding lead's mailbox on agencies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index, not a batch rebuild of the table: on SQLite a
    # rebuild drops `agencies`, which users and API clients reference, and fails on a hub
    # that already has them.
    op.add_column("agencies", sa.Column("school_urn", sa.String(6), nullable=True))
    op.add_column("agencies", sa.Column("safeguarding_lead_email", sa.String(320),
                                        nullable=True))
    op.create_index("uq_agencies_school_urn", "agencies", ["school_urn"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_agencies_school_urn", table_name="agencies")
    with op.batch_alter_table("agencies") as agencies:
        agencies.drop_column("safeguarding_lead_email")
        agencies.drop_column("school_urn")
