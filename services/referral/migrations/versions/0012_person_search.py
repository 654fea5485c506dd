"""Person search: the index's records by date of birth, postcode and name (lower case).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_person_records_date_of_birth", "person_records", ["date_of_birth"])
    op.create_index("ix_person_records_postcode", "person_records", ["postcode"])
    op.create_index("ix_person_records_family_lower", "person_records",
                    [sa.text("lower(family_name)")])
    op.create_index("ix_person_records_given_lower", "person_records",
                    [sa.text("lower(given_name)")])


def downgrade() -> None:
    for name in ("ix_person_records_given_lower", "ix_person_records_family_lower",
                 "ix_person_records_postcode", "ix_person_records_date_of_birth"):
        op.drop_index(name, table_name="person_records")
