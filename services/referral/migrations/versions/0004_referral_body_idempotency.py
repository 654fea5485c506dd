"""The full referral body, its subjects, and Idempotency-Key records.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as referrals:
        referrals.add_column(sa.Column("rag", sa.String(8), nullable=True))
        referrals.add_column(sa.Column("concerns", sa.JSON(), nullable=False,
                                       server_default="[]"))
        referrals.add_column(sa.Column("referrer", sa.JSON(), nullable=False,
                                       server_default="{}"))
        referrals.add_column(sa.Column("consent_status", sa.String(16), nullable=False,
                                       server_default="not_sought"))
        referrals.add_column(sa.Column("consent_reason", sa.Text(), nullable=True))
        referrals.add_column(sa.Column("outcome", sa.String(32), nullable=True))
        referrals.add_column(sa.Column("decided_at", UTCDateTime(), nullable=True))
    op.create_index("ix_referrals_rag", "referrals", ["rag"])
    op.create_index("ix_referrals_source", "referrals", ["source"])
    op.create_table(
        "referral_subjects",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("given_name", sa.String(100), nullable=True),
        sa.Column("family_name", sa.String(100), nullable=True),
        sa.Column("other_names", sa.JSON(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("expected_date_of_birth", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("nhs_number", sa.String(10), nullable=True),
        sa.Column("upn", sa.String(13), nullable=True),
        sa.Column("police_reference", sa.String(50), nullable=True),
        sa.Column("local_id", sa.String(50), nullable=True),
        sa.Column("address", sa.JSON(), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("school", sa.String(200), nullable=True),
    )
    for column in ("referral_id", "family_name", "nhs_number", "upn", "postcode"):
        op.create_index(f"ix_referral_subjects_{column}", "referral_subjects", [column])
    op.create_table(
        "idempotency_keys",
        sa.Column("client", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("referral_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("referral_subjects")
    op.drop_index("ix_referrals_source", "referrals")
    op.drop_index("ix_referrals_rag", "referrals")
    with op.batch_alter_table("referrals") as referrals:
        for column in ("decided_at", "outcome", "consent_reason", "consent_status",
                       "referrer", "concerns", "rag"):
            referrals.drop_column(column)
