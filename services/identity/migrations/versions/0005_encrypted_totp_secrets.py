"""TOTP secrets kept encrypted, as signing keys are (a copy of the database gives no
second factor).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.crypto import fernet_from_secret
from shared.migrations import migration_secret_key

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# services.identity.passwords.TOTP_PURPOSE, as it was when this migration was written.
PURPOSE = "identity TOTP secrets"
# Every Fernet token starts so; a base32 TOTP secret (A-Z, 2-7) never does.
SEALED_PREFIX = "gAAAAA"


def _resize(length: int) -> None:
    # SQLite does not enforce a VARCHAR's length (and cannot ALTER a column's type without
    # rebuilding `users`, which other tables reference), so only PostgreSQL needs this.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("users", "totp_secret", type_=sa.String(length))


def upgrade() -> None:
    _resize(255)
    box = fernet_from_secret(migration_secret_key(), PURPOSE)
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, totp_secret FROM users")).all()
    for user_id, secret in rows:
        if not secret.startswith(SEALED_PREFIX):
            connection.execute(sa.text("UPDATE users SET totp_secret = :sealed WHERE id = :id"),
                               {"sealed": box.encrypt(secret.encode()).decode(),
                                "id": user_id})


def downgrade() -> None:
    box = fernet_from_secret(migration_secret_key(), PURPOSE)
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, totp_secret FROM users")).all()
    for user_id, sealed in rows:
        if sealed.startswith(SEALED_PREFIX):
            connection.execute(sa.text("UPDATE users SET totp_secret = :plain WHERE id = :id"),
                               {"plain": box.decrypt(sealed.encode()).decode(), "id": user_id})
    _resize(64)
