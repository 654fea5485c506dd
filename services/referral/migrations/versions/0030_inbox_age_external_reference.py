"""Inbox rows by age, for the purger; referrals by the sender's own reference, for
`mash import` to resume without duplicates.

Revision ID: 0030
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from shared.migration_ops import create_inbox_age_index, drop_inbox_age_index

revision: str = "0030"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_inbox_age_index()
    op.create_index("ix_referrals_external_reference", "referrals", ["external_reference"])


def downgrade() -> None:
    op.drop_index("ix_referrals_external_reference", table_name="referrals")
    drop_inbox_age_index()
