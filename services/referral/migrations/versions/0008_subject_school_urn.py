"""Subjects' school URN, and the agency directory learnt from identity's events.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.migration_ops import create_agency_directory_table

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referral_subjects") as subjects:
        subjects.add_column(sa.Column("school_urn", sa.String(6), nullable=True))
        subjects.create_index("ix_referral_subjects_school_urn", ["school_urn"])
    create_agency_directory_table()


def downgrade() -> None:
    op.drop_table("agency_directory")
    with op.batch_alter_table("referral_subjects") as subjects:
        subjects.drop_index("ix_referral_subjects_school_urn")
        subjects.drop_column("school_urn")
