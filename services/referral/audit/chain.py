"""The audit log's hash chain: each entry's hash, and checking the chain end to end.

Kept apart from the rest of the audit service (no web stack, no ORM objects per entry),
so `mash audit verify` loads little and walks the rows as the database returns them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.referral.audit.models import GENESIS, AuditEntry, AuditHead
from services.referral.audit.seals import SEAL_GRACE, Checkpoint, check_seal, seals
from shared.db import UnitOfWork
from shared.events import utcnow

HASHED = ("prev_hash", "seq", "at", "actor", "actor_kind", "agency_id", "action",
          "record_type", "record_id", "purpose", "request_id")
_AT = HASHED.index("at")
_ENTRIES = AuditEntry.__table__  # type: ignore[attr-defined]
# The hashed fields in order, then the detail and the stored hash.
_WALKED = [_ENTRIES.c[name] for name in (*HASHED, "detail", "hash")]


def _digest(fields: list[Any]) -> str:
    return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()


def hash_of(values: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and every field of an entry (its detail, when it has
    one: entries written before details existed keep their hashes)."""
    fields = [values[name] for name in HASHED]
    fields[_AT] = values["at"].isoformat()
    if values.get("detail") is not None:
        fields.append(values["detail"])
    return _digest(fields)


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the previous hash and every field of the entry."""
    return hash_of({name: getattr(entry, name) for name in (*HASHED, "detail")})


def _row_hash(row: Sequence[Any]) -> str:
    """``hash_of`` for a row of ``_WALKED``."""
    fields = [*row[:_AT], row[_AT].isoformat(), *row[_AT + 1:len(HASHED)]]
    if row[len(HASHED)] is not None:
        fields.append(row[len(HASHED)])
    return _digest(fields)


@dataclass(frozen=True)
class ChainProblem:
    """Where the chain does not hold, and how."""

    seq: int
    problem: str


async def _rows(uow: UnitOfWork, batch: int = 5000) -> AsyncIterator[Sequence[Any]]:
    """Every entry as a row of ``_WALKED``, oldest first (by keyset, ``batch`` at a time)."""
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


@dataclass
class _Walk:
    """What one pass over the chain found: the count, the problems, and (for the seals)
    the hashes at the wanted positions and the times of the entries after ``top``."""

    wanted: set[int]
    top: int | None
    count: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    hashes: dict[int, str] = field(default_factory=dict)
    unsealed: dict[int, datetime] = field(default_factory=dict)
    last_hash: str = GENESIS
    last_seq: int = 0

    def see(self, row: Sequence[Any]) -> None:
        """Check one entry (a row of ``_WALKED``) against the one before it."""
        prev_hash, seq, stored = row[0], row[1], row[-1]
        self.count += 1
        if seq != self.last_seq + 1:
            self.problems.append(ChainProblem(seq, f"entries {self.last_seq + 1}.."
                                              f"{seq - 1} are missing"))
        if prev_hash != self.last_hash:
            self.problems.append(ChainProblem(seq, "does not follow the entry before it"))
        if _row_hash(row) != stored:
            self.problems.append(ChainProblem(seq, "has been changed since it was written"))
        if seq in self.wanted:
            self.hashes[seq] = stored
        if self.top is not None and seq > self.top:
            self.unsealed[seq] = row[_AT]
        self.last_hash, self.last_seq = stored, seq


async def verify_chain(uow: UnitOfWork, key: bytes | None = None,
                       checkpoint: Checkpoint | None = None,
                       now: datetime | None = None) -> tuple[int, list[ChainProblem]]:
    """Check every entry against its predecessor and the head; with the seals' ``key``,
    every seal too, and that no entry older than SEAL_GRACE is unsealed; with a
    ``checkpoint``, that the chain up to it is the one it sealed. (entries, problems)"""
    sealed = await seals(uow) if key is not None else []
    walk = _Walk({seal.seq for seal in sealed} | ({checkpoint.seq} if checkpoint else set()),
                 max((seal.seq for seal in sealed), default=0) if key is not None else None)
    async for row in _rows(uow):
        walk.see(row)
    head = await uow.session.get(AuditHead, 1)
    if head is not None and (head.seq != walk.last_seq or head.hash != walk.last_hash):
        walk.problems.append(ChainProblem(head.seq, "the newest entries have been removed "
                                          f"(head is at {head.seq}, entries end at "
                                          f"{walk.last_seq})"))
    if key is not None:
        walk.problems += _seal_problems(key, sealed, checkpoint, walk.hashes, walk.unsealed,
                                        now or utcnow())
    return walk.count, walk.problems


def _seal_problems(key: bytes, sealed: list[Checkpoint], checkpoint: Checkpoint | None,
                   hashes: dict[int, str], unsealed: dict[int, datetime],
                   now: datetime) -> list[ChainProblem]:
    problems = [ChainProblem(seal.seq, why) for seal in sealed
                if (why := check_seal(key, seal, hashes)) is not None]
    if checkpoint is not None and (why := check_seal(key, checkpoint, hashes)) is not None:
        problems.append(ChainProblem(checkpoint.seq, f"checkpoint: {why}"))
    late = sorted(seq for seq, at in unsealed.items() if at < now - SEAL_GRACE)
    if late:
        problems.append(ChainProblem(late[0], f"{len(late)} entries from here on are not "
                                              "sealed (seals removed, or the hub stopped "
                                              "before sealing them)"))
    return problems
