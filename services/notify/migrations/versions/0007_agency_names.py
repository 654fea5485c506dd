"""Agencies' names in the directory (organisations', for reports).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from shared.migration_ops import add_agency_directory_name, drop_agency_directory_name

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_agency_directory_name()


def downgrade() -> None:
    drop_agency_directory_name()
