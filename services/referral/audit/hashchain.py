"""The audit chain's arithmetic, in the standard library alone: an entry's hash, a seal's
HMAC, and the walk that checks the chain entry by entry.

chain.py and seals.py read and write the database with it. `mash audit verify` on a `mash
up` data directory walks the SQLite file with it directly (``verify_sqlite``), so the
command loads neither the ORM nor the settings and costs little more than the arithmetic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

GENESIS = "0" * 64
HASHED = ("prev_hash", "seq", "at", "actor", "actor_kind", "agency_id", "action",
          "record_type", "record_id", "purpose", "request_id")
# The columns walked: the hashed fields in order, then the detail and the stored hash.
WALKED = (*HASHED, "detail", "hash")
_AT = HASHED.index("at")
# Entries may wait this long for their seal before verification calls them unsealed.
SEAL_GRACE = timedelta(minutes=2)


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


def row_hash(row: Sequence[Any]) -> str:
    """``hash_of`` for a row of ``WALKED``."""
    fields = [*row[:_AT], row[_AT].isoformat(), *row[_AT + 1:len(HASHED)]]
    if row[len(HASHED)] is not None:
        fields.append(row[len(HASHED)])
    return _digest(fields)


def seal_key(secret: str) -> bytes:
    """The key of the seals, derived from the hub's secret (never stored with the data)."""
    return hmac.new(secret.encode(), b"mash audit chain seal v1", hashlib.sha256).digest()


def seal_mac(key: bytes, seq: int, chain_hash: str, sealed_at: datetime) -> str:
    """The HMAC of a chain head at a moment."""
    message = f"{seq}:{chain_hash}:{sealed_at.isoformat()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class Checkpoint(NamedTuple):
    """A sealed head of the chain, to be kept away from the hub. (Tuples, not dataclasses,
    here: `mash audit verify` then loads no more than it needs.)"""

    seq: int
    hash: str
    sealed_at: datetime
    mac: str

    def as_json(self) -> dict[str, Any]:
        """The checkpoint as written to a file or posted."""
        return {"seq": self.seq, "hash": self.hash, "sealed_at": self.sealed_at.isoformat(),
                "mac": self.mac}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        """A checkpoint read back; ValueError if it is not one."""
        try:
            return cls(int(data["seq"]), str(data["hash"]),
                       datetime.fromisoformat(str(data["sealed_at"])), str(data["mac"]))
        except (KeyError, TypeError) as exc:
            raise ValueError("not an audit checkpoint") from exc


def check_seal(key: bytes, seal: Checkpoint, hashes: dict[int, str]) -> str | None:
    """Why ``seal`` does not hold over the chain's ``hashes`` (by seq), or None."""
    if not hmac.compare_digest(seal.mac, seal_mac(key, seal.seq, seal.hash, seal.sealed_at)):
        return "its seal was not made with this hub's key"
    if hashes.get(seal.seq) != seal.hash:
        return "the chain up to here has been rewritten since it was sealed"
    return None


class ChainProblem(NamedTuple):
    """Where the chain does not hold, and how."""

    seq: int
    problem: str


class Walk:
    """One pass over the chain, oldest entry first: the count, the problems, and (for the
    seals) the hashes at the wanted positions and the times of the entries after ``top``.

    ``seals`` are the chain's stored seals, checked with ``key`` (no key: seals are not
    checked); a ``checkpoint`` kept elsewhere is checked against the chain as well.
    """

    def __init__(self, key: bytes | None, seals: list[Checkpoint],
                 checkpoint: Checkpoint | None = None) -> None:
        self.key, self.seals, self.checkpoint = key, seals, checkpoint
        self.count = 0
        self.problems: list[ChainProblem] = []
        self.hashes: dict[int, str] = {}
        self.unsealed: dict[int, datetime] = {}
        self.last_hash, self.last_seq = GENESIS, 0
        self.wanted = {seal.seq for seal in seals} | ({checkpoint.seq} if checkpoint else set())
        self.top = max((seal.seq for seal in seals), default=0) if key is not None else None

    def see(self, row: Sequence[Any]) -> None:
        """Check one entry (a row of ``WALKED``, ``at`` a datetime) against the one before."""
        prev_hash, seq, stored = row[0], row[1], row[-1]
        self.count += 1
        if seq != self.last_seq + 1:
            self.problems.append(ChainProblem(seq, f"entries {self.last_seq + 1}.."
                                              f"{seq - 1} are missing"))
        if prev_hash != self.last_hash:
            self.problems.append(ChainProblem(seq, "does not follow the entry before it"))
        if row_hash(row) != stored:
            self.problems.append(ChainProblem(seq, "has been changed since it was written"))
        if seq in self.wanted:
            self.hashes[seq] = stored
        if self.top is not None and seq > self.top:
            self.unsealed[seq] = row[_AT]
        self.last_hash, self.last_seq = stored, seq

    def finish(self, head: tuple[int, str] | None, now: datetime) -> list[ChainProblem]:
        """The problems, once every entry was seen and with the stored head (seq, hash)."""
        if head is not None and head != (self.last_seq, self.last_hash):
            self.problems.append(ChainProblem(head[0], "the newest entries have been removed "
                                              f"(head is at {head[0]}, entries end at "
                                              f"{self.last_seq})"))
        if self.key is not None:
            self.problems += self._seal_problems(self.key, now)
        return self.problems

    def _seal_problems(self, key: bytes, now: datetime) -> list[ChainProblem]:
        problems = [ChainProblem(seal.seq, why) for seal in self.seals
                    if (why := check_seal(key, seal, self.hashes)) is not None]
        if self.checkpoint is not None and (
                why := check_seal(key, self.checkpoint, self.hashes)) is not None:
            problems.append(ChainProblem(self.checkpoint.seq, f"checkpoint: {why}"))
        late = sorted(seq for seq, at in self.unsealed.items() if at < now - SEAL_GRACE)
        if late:
            problems.append(ChainProblem(late[0], f"{len(late)} entries from here on are not "
                                                  "sealed (seals removed, or the hub stopped "
                                                  "before sealing them)"))
        return problems


def stored_time(value: str) -> datetime:
    """A timestamp as SQLite holds it (UTC, often without its zone), timezone-aware: what
    shared.db.UTCDateTime reads back."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _entries(connection: sqlite3.Connection, batch: int = 5000) -> Iterable[list[Any]]:
    """Every entry as a row of ``WALKED`` (``at`` a datetime), oldest first, by keyset."""
    last = 0
    query = (f"SELECT {', '.join(WALKED)} FROM audit_entries WHERE seq > ? "  # noqa: S608
             "ORDER BY seq LIMIT ?")  # (the column names are ours, not input)
    while True:
        rows = connection.execute(query, (last, batch)).fetchall()
        if not rows:
            return
        for row in rows:
            entry = list(row)
            entry[_AT] = stored_time(entry[_AT])
            yield entry
        last = rows[-1][1]


def verify_sqlite(path: Path, key: bytes | None, checkpoint: Checkpoint | None,
                  now: datetime) -> tuple[int, list[ChainProblem]]:
    """``chain.verify_chain`` over a referral database's SQLite file, read-only."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        seals = [Checkpoint(seq, chain_hash, stored_time(at), mac)
                 for seq, chain_hash, at, mac in connection.execute(
                     "SELECT seq, hash, sealed_at, mac FROM audit_seals ORDER BY seq")
                 ] if key is not None else []
        walk = Walk(key, seals, checkpoint)
        for entry in _entries(connection):
            walk.see(entry)
        head = connection.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    finally:
        connection.close()
    return walk.count, walk.finish(head, now)
