"""Every administrator's change to an agency, a user or an API client.

Revision ID: 0040
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0040"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
    )
    op.create_index("ix_admin_changes_at", "admin_changes", ["at"])
    op.create_index("ix_admin_changes_record_id", "admin_changes", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_admin_changes_record_id", "admin_changes")
    op.drop_index("ix_admin_changes_at", "admin_changes")
    op.drop_table("admin_changes")
