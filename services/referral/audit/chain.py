"""The audit log's hash chain in the database: checking it end to end.

Kept apart from the rest of the audit service (no web stack, no ORM objects per entry),
so the walk reads the rows as the database returns them; the arithmetic is hashchain.py's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.referral.audit.hashchain import (
    WALKED,
    ChainProblem,
    Checkpoint,
    Walk,
    hash_of,
)
from services.referral.audit.models import AuditEntry, AuditHead
from services.referral.audit.seals import seals
from shared.db import UnitOfWork
from shared.events import utcnow

__all__ = ["ChainProblem", "entry_hash", "hash_of", "verify_chain"]

_ENTRIES = AuditEntry.__table__  # type: ignore[attr-defined]
_WALKED = [_ENTRIES.c[name] for name in WALKED]


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the previous hash and every field of the entry."""
    return hash_of({name: getattr(entry, name) for name in WALKED[:-1]})


async def _rows(uow: UnitOfWork, batch: int = 5000) -> AsyncIterator[Sequence[Any]]:
    """Every entry as a row of ``WALKED``, oldest first (by keyset, ``batch`` at a time)."""
    last = 0
    seq = _ENTRIES.c.seq
    connection = await uow.session.connection()  # Core rows: no ORM objects to build
    while True:
        result = await connection.execute(select(*_WALKED).where(seq > last)
                                          .order_by(seq).limit(batch))
        rows = result.all()
        if not rows:
            return
        for row in rows:
            yield row
        last = rows[-1][1]


async def verify_chain(uow: UnitOfWork, key: bytes | None = None,
                       checkpoint: Checkpoint | None = None,
                       now: datetime | None = None) -> tuple[int, list[ChainProblem]]:
    """Check every entry against its predecessor and the head; with the seals' ``key``,
    every seal too, and that no entry older than SEAL_GRACE is unsealed; with a
    ``checkpoint``, that the chain up to it is the one it sealed. (entries, problems)"""
    walk = Walk(key, await seals(uow) if key is not None else [], checkpoint)
    async for row in _rows(uow):
        walk.see(row)
    head = await uow.session.get(AuditHead, 1)
    return walk.count, walk.finish(None if head is None else (head.seq, head.hash),
                                   now or utcnow())
