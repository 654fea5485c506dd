"""Schools' DfE URN and designated safeguarding lead's mailbox on agencies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agencies") as agencies:
        agencies.add_column(sa.Column("school_urn", sa.String(6), nullable=True))
        agencies.add_column(sa.Column("safeguarding_lead_email", sa.String(320),
                                      nullable=True))
        agencies.create_unique_constraint("uq_agencies_school_urn", ["school_urn"])


def downgrade() -> None:
    with op.batch_alter_table("agencies") as agencies:
        agencies.drop_constraint("uq_agencies_school_urn", type_="unique")
        agencies.drop_column("safeguarding_lead_email")
        agencies.drop_column("school_urn")
