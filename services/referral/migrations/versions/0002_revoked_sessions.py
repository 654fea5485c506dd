"""Ended staff sessions, learnt from identity's mash.session.ended events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

from alembic import op

from shared.migration_ops import create_revoked_sessions_table

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_revoked_sessions_table()


def downgrade() -> None:
    op.drop_table("revoked_sessions")
