"""The deadline worker's two queries by partial indexes: only what may still fall due.

Every referral's decision is due at some time, and the index on ``decision_due_at`` held
them all: the worker's poll walked every referral ever due (at 175,000 referrals, 30-50
ms on SQLite, on the event loop, every 30 s) to find none. These indexes hold only the
open referrals not yet overdue, and the open questions not yet overdue.

Revision ID: 0064
Revises: 0040
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0064"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# services.referral.workflow.lifecycle.OPEN_STATUSES, as they are today (the worker's
# query names them in the same order, as literals, so the planner can match the index).
OPEN = ("received", "triaged", "awaiting_information", "awaiting_approval")
AWAITING_DECISION = sa.text(f"decision_overdue_at IS NULL AND status IN "
                            f"({', '.join(repr(s) for s in OPEN)})")
AWAITING_ANSWER = sa.text("overdue_at IS NULL AND status = 'open'")


def upgrade() -> None:
    op.create_index("ix_referrals_awaiting_decision", "referrals", ["decision_due_at"],
                    sqlite_where=AWAITING_DECISION, postgresql_where=AWAITING_DECISION)
    op.create_index("ix_information_requests_awaiting_answer", "information_requests",
                    ["due_at"], sqlite_where=AWAITING_ANSWER, postgresql_where=AWAITING_ANSWER)


def downgrade() -> None:
    op.drop_index("ix_information_requests_awaiting_answer", "information_requests")
    op.drop_index("ix_referrals_awaiting_decision", "referrals")
