"""The audit log: who read or changed which record, when and why, chained by hashes."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert, or_, update
from sqlmodel import col, select

from services.referral.audit.chain import ChainProblem, entry_hash, hash_of, verify_chain
from services.referral.audit.models import GENESIS, AuditEntry, AuditHead
from services.referral.audit.seals import Checkpoint, seals
from services.referral.people.models import SubjectDetails
from shared.auth import Principal
from shared.db import UnitOfWork, dialect_insert
from shared.events import utcnow
from shared.pagination import after as keyset_after
from shared.tracing import request_id_var

__all__ = ["ChainProblem", "entry_hash", "verify_chain"]  # kept importable from here

_HEAD = AuditHead.__table__  # type: ignore[attr-defined]
_ENTRIES = AuditEntry.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=2)
def _claim(sqlite: bool) -> Any:
    """Take the head row (its lock, on PostgreSQL) and the next ``n`` sequence numbers;
    returns the last of them and the hash of the entry before the first.

    Core statements on the tables, built once: no ORM bulk path, no cache-key walk.
    """
    statement = dialect_insert(_HEAD, sqlite=sqlite).values(id=1, seq=bindparam("n"), hash=GENESIS)
    return (statement.on_conflict_do_update(
        index_elements=["id"], set_={"seq": _HEAD.c.seq + statement.excluded.seq})
        .returning(_HEAD.c.seq, _HEAD.c.hash))


_APPEND = insert(_ENTRIES)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("new_hash"))


class AuditBatch:
    """Entries made during a unit of work, appended to the chain together at its end:
    the head (and on PostgreSQL its lock) is taken once, just before the commit."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, who: Principal, action: str, record_type: str, record_id: str,
            purpose: str, detail: Mapping[str, Any] | None = None) -> None:
        """An entry to append (its time and request id are taken now); ``detail`` what else
        identifies the access (a search's terms), kept as JSON."""
        self.entries.append({
            "at": utcnow(), "actor": who.subject, "actor_kind": who.kind,
            "agency_id": who.agency_id, "action": action, "record_type": record_type,
            "record_id": record_id[:64], "purpose": purpose[:100],
            "request_id": request_id_var.get(),
            "detail": _detail_json(detail)})

    async def append(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        """Chain the entries after the head, in the caller's transaction; the rows."""
        entries, self.entries = self.entries, []
        if not entries:
            return []
        connection = await uow.session.connection()
        claimed = await connection.execute(_claim(uow.database.is_sqlite), {"n": len(entries)})
        last, prev_hash = claimed.one()
        for seq, entry in enumerate(entries, start=last - len(entries) + 1):
            entry["seq"], entry["prev_hash"] = seq, prev_hash
            entry["hash"] = prev_hash = hash_of(entry)
        await connection.execute(_APPEND, entries)
        await connection.execute(_MOVE_HEAD, {"new_hash": prev_hash})
        return entries


async def record_refusal(uow: UnitOfWork, who: Principal, record_type: str, record_id: str,
                         purpose: str) -> None:
    """A refused read (no such record, or not the reader's to see), written at once in a
    transaction of its own: the request's own is rolled back with the refusal."""
    async with uow.database.unit_of_work() as own:
        await record(own, who, "refused", record_type, record_id, purpose)
        await own.commit()


def _detail_json(detail: Mapping[str, Any] | None) -> str | None:
    if not detail:
        return None
    given = {name: value for name, value in detail.items() if value is not None}
    return json.dumps(given, sort_keys=True, separators=(",", ":"), default=str) if given else None


async def record(uow: UnitOfWork, who: Principal, action: str, record_type: str,
                 record_id: str, purpose: str,
                 detail: Mapping[str, Any] | None = None) -> AuditEntry:
    """Append an entry to the chain, in the caller's transaction."""
    batch = AuditBatch()
    batch.add(who, action, record_type, record_id, purpose, detail)
    (entry,) = await batch.append(uow)
    return AuditEntry(**entry)


@dataclass(frozen=True)
class AuditFilters:
    """What GET /api/v1/audit may filter by."""

    record_id: str | None = None
    actor: str | None = None
    action: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None
    agency_id: str | None = None
    purpose: str | None = None
    # A person in the index: the reads of their record and of every referral they are in.
    person_id: str | None = None

    def given(self) -> dict[str, str]:
        """The filters given, as text (an export's audit entry records them)."""
        return {name: value.isoformat() if isinstance(value, datetime) else str(value)
                for name, value in dataclasses.asdict(self).items() if value is not None}


async def audit_entries(uow: UnitOfWork, filters: AuditFilters, before: tuple[int] | None,
                        limit: int) -> list[AuditEntry]:
    """Audit entries, newest first."""
    entry = AuditEntry
    query = select(entry)
    if filters.person_id:
        referrals = select(SubjectDetails.referral_id).where(
            SubjectDetails.person_id == filters.person_id)
        query = query.where(or_(col(entry.record_id).in_(referrals),
                                col(entry.record_id) == filters.person_id))
    if filters.agency_id:
        query = query.where(entry.agency_id == filters.agency_id)
    if filters.purpose:
        query = query.where(entry.purpose == filters.purpose)
    if filters.record_id:
        query = query.where(entry.record_id == filters.record_id)
    if filters.actor:
        query = query.where(entry.actor == filters.actor)
    if filters.action:
        query = query.where(entry.action == filters.action)
    if filters.at_from:
        query = query.where(col(entry.at) >= filters.at_from)
    if filters.at_to:
        query = query.where(col(entry.at) < filters.at_to)
    if before is not None:
        query = query.where(keyset_after([col(entry.seq)], before, descending=True))
    query = query.order_by(col(entry.seq).desc()).limit(limit)
    return list((await uow.session.exec(query)).all())


EXPORT_LIMIT = 10_000
EXPORT_COLUMNS = ("seq", "at", "actor", "actor_kind", "agency_id", "action", "record_type",
                  "record_id", "purpose", "request_id", "hash")


async def export_extract(uow: UnitOfWork, who: Principal, filters: AuditFilters) -> str:
    """An extract of the log as CSV (newest first, at most EXPORT_LIMIT entries); the export
    is itself audited, with the filters it used."""
    entries = await audit_entries(uow, filters, None, EXPORT_LIMIT)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for e in entries:
        writer.writerow([e.at.isoformat() if name == "at" else getattr(e, name) or ""
                         for name in EXPORT_COLUMNS])
    await record(uow, who, "export", "audit", "extract", "audit",
                 {**filters.given(), "entries": len(entries)})
    return out.getvalue()


@dataclass(frozen=True)
class Verification:
    """The chain checked end to end just now, and its newest seal."""

    entries: int
    problems: list[ChainProblem]
    last_checkpoint: Checkpoint | None
    verified_at: datetime


async def verification(uow: UnitOfWork, key: bytes | None) -> Verification:
    """Verify the whole chain (and its seals, given the key) and name its newest seal."""
    count, problems = await verify_chain(uow, key)
    sealed = await seals(uow)
    return Verification(count, problems, sealed[-1] if sealed else None, utcnow())
