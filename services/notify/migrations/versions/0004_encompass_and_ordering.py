"""The agency directory (schools for Operation Encompass), directory mailboxes on
deliveries, and each delivery's place in its referral's sequence of events.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migration_ops import create_agency_directory_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_agency_directory_table()
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.add_column(sa.Column("address", sa.String(320), nullable=True))
        deliveries.add_column(sa.Column("sequence", sa.Integer(), nullable=True))
    # A referral's received is the first of its events: later ones wait for it to be seen.
    op.execute("UPDATE deliveries SET sequence = 1 "
               "WHERE event_type = 'mash.referral.received'")


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as deliveries:
        deliveries.drop_column("sequence")
        deliveries.drop_column("address")
    op.drop_table("agency_directory")
