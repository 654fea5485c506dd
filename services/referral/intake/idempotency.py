"""Idempotency-Key for POST (IETF httpapi idempotency-key draft semantics).

The same client sending the same key with the same body gets the first response again;
with a different body, 422; while the first request is still being processed, 409.
Keys are kept for KEY_LIFETIME. A claim whose request died mid-way (no answer after
STALE_AFTER) may be taken over by a retry, so a crash never blocks a key for a day.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as sa_select
from sqlmodel import col, delete, select, update

from services.referral.intake.models import IdempotencyKey
from shared.db import Database, UnitOfWork, dialect_insert
from shared.events import utcnow

KEY_LIFETIME = timedelta(hours=24)
STALE_AFTER = timedelta(seconds=60)
PURGE_EVERY = timedelta(seconds=60)


def fingerprint(payload: Any) -> str:
    """A hash of the request body's JSON, independent of key order and spacing."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: do the work, then ``complete``."""


@dataclass(frozen=True)
class Replay:
    """The key was used for this same request before: answer as then."""

    status: int
    body: str


@dataclass(frozen=True)
class InFlight:
    """The first request with this key is still being processed."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used before for a different request body."""


Claim = Claimed | Replay | InFlight | Mismatch


async def claim(database: Database, client: str, key: str, print_: str,
                expired: ExpiredKeys | None = None) -> Claim:
    """Try to take ``key`` for this request, in a transaction of its own."""
    async with database.unit_of_work() as uow:
        outcome = await claim_in(uow, client, key, print_, expired)
        if isinstance(outcome, Claimed):
            await uow.commit()
        return outcome


async def claim_in(uow: UnitOfWork, client: str, key: str, print_: str,
                   expired: ExpiredKeys | None = None) -> Claim:
    """Try to take ``key`` in the caller's transaction, which then does the work and
    ``complete``s the key: if it rolls back, the key is free again. A concurrent first
    request with the same key in another transaction makes this one wait (PostgreSQL)
    until that one has committed or rolled back."""
    now = utcnow()
    await (expired or ExpiredKeys()).purge(uow, now)
    connection = await uow.session.connection()
    inserted = await connection.execute(_take(uow.database.is_sqlite), {
        "client": client, "key": key, "fingerprint": print_, "state": "in_flight",
        "started_at": now, "expires_at": now + KEY_LIFETIME})
    if inserted.rowcount:
        return Claimed()
    existing = (await uow.session.exec(select(IdempotencyKey).where(
        col(IdempotencyKey.client) == client, col(IdempotencyKey.key) == key)
        .execution_options(populate_existing=True))).first()
    if existing is None:  # expired and purged between the two statements
        return InFlight()
    if existing.expires_at <= now:  # not purged yet: the key is free again
        renewed = await uow.session.exec(
            update(IdempotencyKey)
            .where(col(IdempotencyKey.client) == client, col(IdempotencyKey.key) == key,
                   col(IdempotencyKey.expires_at) == existing.expires_at)
            .values(fingerprint=print_, state="in_flight", started_at=now,
                    expires_at=now + KEY_LIFETIME, response_status=None, response_body=None,
                    referral_id=None))
        return Claimed() if renewed.rowcount else InFlight()
    if existing.fingerprint != print_:
        return Mismatch()
    if existing.state == "done" and existing.response_status and existing.response_body:
        return Replay(existing.response_status, existing.response_body)
    if existing.started_at < now - STALE_AFTER:
        taken = await uow.session.exec(
            update(IdempotencyKey)
            .where(col(IdempotencyKey.client) == client, col(IdempotencyKey.key) == key,
                   col(IdempotencyKey.state) == "in_flight",
                   col(IdempotencyKey.started_at) == existing.started_at)
            .values(started_at=now))
        if taken.rowcount:
            return Claimed()
    return InFlight()


async def known_keys(uow: UnitOfWork, wanted: list[tuple[str, str]],
                     expired: ExpiredKeys | None = None) -> set[tuple[str, str]]:
    """Which of these (client, key) pairs are held (expired or not): one statement. The
    rest are new, and may be kept with their answer by ``kept_row``."""
    if not wanted:
        return set()
    await (expired or ExpiredKeys()).purge(uow, utcnow())
    connection = await uow.session.connection()
    found = await connection.execute(_HELD, {"keys": sorted({key for _, key in wanted})})
    return {(client, key) for client, key in found.all()} & set(wanted)


def kept_row(client: str, key: str, print_: str, status: int, body: str,
             referral_id: str) -> dict[str, Any]:
    """A new key with its answer, to be inserted in the transaction of the work it
    answers for. If another transaction took the key meanwhile, the INSERT fails and
    the work with it, so the key's first answer stands."""
    now = utcnow()
    return {"client": client, "key": key, "fingerprint": print_, "state": "done",
            "started_at": now, "expires_at": now + KEY_LIFETIME, "response_status": status,
            "response_body": body, "referral_id": referral_id}


class ExpiredKeys:
    """Deletes expired keys, at most once a ``PURGE_EVERY`` (one for each intake writer)."""

    def __init__(self) -> None:
        self.purged_at = datetime.min.replace(tzinfo=UTC)

    async def purge(self, uow: UnitOfWork, now: datetime) -> None:
        """Delete the keys expired by ``now``, unless that was done less than a minute ago."""
        if self.purged_at > now - PURGE_EVERY:
            return
        self.purged_at = now
        await uow.session.exec(delete(IdempotencyKey)
                               .where(col(IdempotencyKey.expires_at) < now))



_KEYS = IdempotencyKey.__table__  # type: ignore[attr-defined]


@cache
def _take(sqlite: bool) -> Any:
    return dialect_insert(_KEYS, sqlite=sqlite).on_conflict_do_nothing()


_HELD = (sa_select(_KEYS.c.client, _KEYS.c.key)
         .where(_KEYS.c.key.in_(bindparam("keys", expanding=True))))
_COMPLETE = (update(_KEYS)
             .where(_KEYS.c.client == bindparam("b_client"), _KEYS.c.key == bindparam("b_key"))
             .values(state="done", response_status=bindparam("b_status"),
                     response_body=bindparam("b_body"), referral_id=bindparam("b_referral")))


async def complete(uow: UnitOfWork, client: str, key: str, status: int, body: str,
                   referral_id: str) -> None:
    """Store the answer, in the same transaction as the work it answers for."""
    connection = await uow.session.connection()
    await connection.execute(_COMPLETE, {"b_client": client, "b_key": key, "b_status": status,
                                         "b_body": body, "b_referral": referral_id})
