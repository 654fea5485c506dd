"""Partners decline a question or ask for more time; a referrer withdraws a referral.

Revision ID: 0040
Revises: 0063
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0040"
down_revision: str | None = "0063"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("information_requests") as table:
        table.add_column(sa.Column("declined_at", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("declined_by", sa.String(100), nullable=True))
        table.add_column(sa.Column("decline_reason", sa.String(16), nullable=True))
        table.add_column(sa.Column("decline_detail", sa.Text(), nullable=True))
        table.add_column(sa.Column("held_by_agency_id", sa.String(36), nullable=True))
        table.add_column(sa.Column("extension_until", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        table.add_column(sa.Column("extension_requested_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("referrals") as table:
        table.add_column(sa.Column("withdrawn_at", UTCDateTime(), nullable=True))
        table.add_column(sa.Column("withdrawal_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as table:
        table.drop_column("withdrawal_reason")
        table.drop_column("withdrawn_at")
    with op.batch_alter_table("information_requests") as table:
        for name in ("extension_requested_at", "extension_reason", "extension_until",
                     "held_by_agency_id", "decline_detail", "decline_reason", "declined_by",
                     "declined_at"):
            table.drop_column(name)
