"""Who submitted each referral: the referring agency and the user or system.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as referrals:
        referrals.add_column(sa.Column("referring_agency_id", sa.String(36), nullable=False,
                                       server_default=""))
        referrals.add_column(sa.Column("submitted_by", sa.String(100), nullable=False,
                                       server_default=""))
    op.create_index("ix_referrals_referring_agency_id", "referrals", ["referring_agency_id"])


def downgrade() -> None:
    op.drop_index("ix_referrals_referring_agency_id", "referrals")
    with op.batch_alter_table("referrals") as referrals:
        referrals.drop_column("submitted_by")
        referrals.drop_column("referring_agency_id")
