"""The board report: agencies' names in the directory; referrals by decision time and
information requests by time asked, indexed.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from shared.migration_ops import add_agency_directory_name, drop_agency_directory_name

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_agency_directory_name()
    op.create_index("ix_referrals_decided_at", "referrals", ["decided_at"])
    op.create_index("ix_information_requests_created_at", "information_requests",
                    ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_information_requests_created_at", table_name="information_requests")
    op.drop_index("ix_referrals_decided_at", table_name="referrals")
    drop_agency_directory_name()
