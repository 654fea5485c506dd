"""Schools acknowledge reading an Operation Encompass notice.

Revision ID: 0066
Revises: 0065
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0066"
down_revision: str | None = "0065"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "encompass_acknowledgements",
        sa.Column("referral_id", sa.String(36), primary_key=True),
        sa.Column("agency_id", sa.String(64), primary_key=True),
        sa.Column("read_by", sa.String(64), nullable=False),
        sa.Column("read_by_name", sa.String(200), nullable=True),
        sa.Column("read_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_encompass_acknowledgements_read_at", "encompass_acknowledgements",
                    ["read_at"])


def downgrade() -> None:
    op.drop_index("ix_encompass_acknowledgements_read_at", "encompass_acknowledgements")
    op.drop_table("encompass_acknowledgements")
