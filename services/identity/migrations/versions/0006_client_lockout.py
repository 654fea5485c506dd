"""API clients are locked out after many wrong secrets in a row, as users are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch rebuild (see 0003).
    op.add_column("api_clients", sa.Column("failed_secrets", sa.Integer(), nullable=False,
                                           server_default="0"))
    op.add_column("api_clients", sa.Column("locked_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as api_clients:
        api_clients.drop_column("locked_until")
        api_clients.drop_column("failed_secrets")
