"""Workflow: triage, deadlines, decisions, information requests, the chronology, census flags.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFERRAL_COLUMNS = [
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("rag_rationale", sa.Text(), nullable=True),
    sa.Column("triaged_at", UTCDateTime(), nullable=True),
    sa.Column("triaged_by", sa.String(100), nullable=True),
    sa.Column("response_due_at", UTCDateTime(), nullable=True),
    sa.Column("decision_due_at", UTCDateTime(), nullable=True),
    sa.Column("decision_overdue_at", UTCDateTime(), nullable=True),
    sa.Column("decided_by", sa.String(100), nullable=True),
    sa.Column("decision_rationale", sa.Text(), nullable=True),
    sa.Column("signed_off_by", sa.String(100), nullable=True),
    sa.Column("same_day_as", sa.String(36), nullable=True),
    sa.Column("is_re_referral", sa.Boolean(), nullable=False, server_default=sa.false()),
]


def upgrade() -> None:
    with op.batch_alter_table("referrals") as referrals:
        for column in REFERRAL_COLUMNS:
            referrals.add_column(column)
    op.create_index("ix_referrals_decision_due_at", "referrals", ["decision_due_at"])
    op.create_table(
        "information_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("agency_id", sa.String(36), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(100), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
    )
    for column in ("referral_id", "agency_id", "status", "due_at"):
        op.create_index(f"ix_information_requests_{column}", "information_requests", [column])
    op.create_table(
        "referral_timeline",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("what", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(100), nullable=True),
        sa.Column("agency_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_referral_timeline_referral_id", "referral_timeline", ["referral_id"])


def downgrade() -> None:
    op.drop_table("referral_timeline")
    op.drop_table("information_requests")
    op.drop_index("ix_referrals_decision_due_at", "referrals")
    with op.batch_alter_table("referrals") as referrals:
        for column in reversed(REFERRAL_COLUMNS):
            referrals.drop_column(column.name)
