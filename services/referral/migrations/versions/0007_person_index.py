"""Person index: people, the details and identifiers each subject gave, blocking keys,
link decisions and match reviews.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "person_records",
        sa.Column("subject_id", sa.String(36), sa.ForeignKey("referral_subjects.id"),
                  primary_key=True),
        sa.Column("person_id", sa.String(36), sa.ForeignKey("people.id"), nullable=True),
        sa.Column("referral_id", sa.String(36), sa.ForeignKey("referrals.id"), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("agency_id", sa.String(36), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("match_status", sa.String(8), nullable=False),
        sa.Column("review_id", sa.String(36), nullable=True),
        sa.Column("given_name", sa.String(100), nullable=True),
        sa.Column("family_name", sa.String(100), nullable=True),
        sa.Column("other_names", sa.JSON(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("address_line1", sa.String(200), nullable=True),
        sa.Column("nhs_number", sa.String(10), nullable=True),
        sa.Column("upn", sa.String(13), nullable=True),
    )
    op.create_index("ix_person_records_person_id", "person_records", ["person_id"])
    op.create_index("ix_person_records_referral_id", "person_records", ["referral_id"])
    op.create_table(
        "person_identifiers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("value", sa.String(50), nullable=False),
        sa.Column("source_agency_id", sa.String(36), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_person_identifiers_type_value", "person_identifiers", ["type", "value"])
    op.create_index("ix_person_identifiers_person_id", "person_identifiers", ["person_id"])
    op.create_index("ix_person_identifiers_subject_id", "person_identifiers", ["subject_id"])
    # The primary key (key, subject_id) is the index candidates are found by; on SQLite
    # without a rowid the table is that index.
    op.create_table(
        "person_blocking_keys",
        sa.Column("key", sa.String(40), primary_key=True),
        sa.Column("subject_id", sa.String(36), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "person_links",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("explanation", sa.JSON(), nullable=True),
        sa.Column("review_id", sa.String(36), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("undone_at", UTCDateTime(), nullable=True),
        sa.Column("undone_by", sa.String(100), nullable=True),
        sa.Column("undo_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_person_links_subject_id", "person_links", ["subject_id"])
    op.create_index("ix_person_links_person_id", "person_links", ["person_id"])
    op.create_table(
        "match_reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("candidate_person_id", sa.String(36), nullable=False),
        sa.Column("candidate", sa.JSON(), nullable=False),
        sa.Column("total_weight", sa.Float(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("comparisons", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(9), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    for column in ("status", "created_at", "referral_id", "subject_id"):
        op.create_index(f"ix_match_reviews_{column}", "match_reviews", [column])


def downgrade() -> None:
    for table in ("match_reviews", "person_links", "person_blocking_keys",
                  "person_identifiers", "person_records", "people"):
        op.drop_table(table)
