"""Signing keys, staff sessions, used client assertions, sign-in attempts, lockout.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=False,
                                   server_default="0"))
        users.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
        users.add_column(sa.Column("last_totp_step", sa.BigInteger(), nullable=False,
                                   server_default="0"))
    with op.batch_alter_table("api_clients") as clients:
        clients.add_column(sa.Column("assertion_algorithms", sa.JSON(), nullable=False,
                                     server_default='["RS512", "RS256", "ES256"]'))
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("algorithm", sa.String(8), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("private_key_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("signs_from", UTCDateTime(), nullable=False),
        sa.Column("unpublish_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("ended_reason", sa.String(32), nullable=True),
    )
    op.create_index("ix_staff_sessions_user_id", "staff_sessions", ["user_id"])
    op.create_table(
        "used_client_assertions",
        sa.Column("client_id", sa.String(100), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_used_client_assertions_expires_at", "used_client_assertions",
                    ["expires_at"])
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_sign_in_attempts_user_id", "sign_in_attempts", ["user_id"])


def downgrade() -> None:
    op.drop_table("sign_in_attempts")
    op.drop_table("used_client_assertions")
    op.drop_table("staff_sessions")
    op.drop_table("signing_keys")
    with op.batch_alter_table("api_clients") as clients:
        clients.drop_column("assertion_algorithms")
    with op.batch_alter_table("users") as users:
        users.drop_column("last_totp_step")
        users.drop_column("locked_until")
        users.drop_column("failed_sign_ins")
