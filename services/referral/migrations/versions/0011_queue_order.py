"""The queue's order in one index of the open referrals: urgency (immediate risk, then
red, amber, green, not yet rated) kept as a column, then the decision deadline, the time
received and the id.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# The open statuses (workflow.lifecycle.OPEN_STATUSES), as the queue's query spells them.
OPEN = sa.text("status IN ('received', 'triaged', 'awaiting_information', "
               "'awaiting_approval')")

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("urgency", sa.Integer(), nullable=False,
                                   server_default="4"))
    op.execute("UPDATE referrals SET urgency = CASE WHEN immediate_risk THEN 0 "
               "WHEN rag = 'red' THEN 1 WHEN rag = 'amber' THEN 2 WHEN rag = 'green' THEN 3 "
               "ELSE 4 END")
    op.create_index("ix_referrals_queue_order", "referrals",
                    ["urgency", "decision_due_at", "received_at", "id"],
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_referrals_queue_order", table_name="referrals")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("urgency")
