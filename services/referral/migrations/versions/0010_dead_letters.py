"""Dead letters: messages a consumer of this database gave up on (`mash up`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

from shared.migration_ops import create_dead_letters_table

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_dead_letters_table()


def downgrade() -> None:
    op.drop_table("dead_letters")
