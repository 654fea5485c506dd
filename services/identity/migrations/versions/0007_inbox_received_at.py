"""Inbox rows by age: the purger deletes those past the retention period.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from shared.migration_ops import create_inbox_age_index, drop_inbox_age_index

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_inbox_age_index()


def downgrade() -> None:
    drop_inbox_age_index()
