"""Missing episodes, with their return interview's deadline.

Revision ID: 0062
Revises: 0061
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0062"
down_revision: str | None = "0061"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "missing_episodes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("subject", sa.JSON(), nullable=True),
        sa.Column("went_missing_at", UTCDateTime(), nullable=False),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.Column("found_at_place", sa.String(200), nullable=True),
        sa.Column("return_interview_due_at", UTCDateTime(), nullable=True),
        sa.Column("return_interview_at", UTCDateTime(), nullable=True),
        sa.Column("return_interview_overdue_at", UTCDateTime(), nullable=True),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("agency_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_missing_episodes_person_id", "missing_episodes", ["person_id"])
    op.create_index("ix_missing_episodes_went_missing_at", "missing_episodes",
                    ["went_missing_at"])
    op.create_index("ix_missing_episodes_return_interview_due_at", "missing_episodes",
                    ["return_interview_due_at"])


def downgrade() -> None:
    op.drop_table("missing_episodes")
