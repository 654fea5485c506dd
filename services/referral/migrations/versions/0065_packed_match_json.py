"""Person links' explanations and match reviews' comparisons written packed (each list of
like dicts as its keys once and rows of values: shared.db.PackedJSON), and without the
spaces after separators. Rows written before are rewritten so; they read back the same.

Revision ID: 0065
Revises: 0064
Create Date: 2026-12-05
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from shared.db import pack_json, unpack_json

revision: str = "0065"
down_revision: str | None = "0064"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = {"person_links": ("explanation",), "match_reviews": ("candidate", "comparisons")}
BATCH = 1000


def _rewrite(change: Callable[[Any], Any], separators: tuple[str, str]) -> None:
    bind = op.get_bind()
    for name, columns in COLUMNS.items():
        # Text in and out, so each value is written exactly as ``change`` and
        # ``separators`` make it (a JSON column's own serialiser would choose).
        table = sa.table(name, sa.column("id", sa.String()),
                         *(sa.column(c, sa.Text()) for c in columns))
        as_text = [sa.cast(table.c[c], sa.Text()).label(c) for c in columns]
        last = ""
        while True:
            rows = bind.execute(sa.select(table.c.id, *as_text).where(table.c.id > last)
                                .order_by(table.c.id).limit(BATCH)).all()
            if not rows:
                break
            for row in rows:
                values = {c: json.dumps(change(json.loads(getattr(row, c))),
                                        separators=separators)
                          for c in columns if getattr(row, c) is not None}
                if values:
                    bind.execute(table.update().where(table.c.id == row.id)
                                 .values({c: _json_value(bind, v) for c, v in values.items()}))
            last = rows[-1].id


def _json_value(bind: Any, text: str) -> Any:
    """``text`` for a JSON column: as it is on SQLite (TEXT), cast on PostgreSQL."""
    if bind.dialect.name == "postgresql":
        return sa.cast(sa.literal(text, sa.Text()), sa.JSON())
    return text


def upgrade() -> None:
    _rewrite(pack_json, (",", ":"))


def downgrade() -> None:
    _rewrite(unpack_json, (", ", ": "))
