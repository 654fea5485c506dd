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
from datetime import timedelta
from typing import Any

from sqlmodel import col, delete, update

from services.referral.models import IdempotencyKey
from shared.db import Database, UnitOfWork
from shared.events import utcnow

KEY_LIFETIME = timedelta(hours=24)
STALE_AFTER = timedelta(seconds=60)


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


async def claim(database: Database, client: str, key: str, print_: str) -> Claim:
    """Try to take ``key`` for this request, in a transaction of its own."""
    now = utcnow()
    async with database.unit_of_work() as uow:
        await uow.session.exec(delete(IdempotencyKey).where(
            col(IdempotencyKey.expires_at) < now))
        inserted = await uow.session.exec(
            uow.insert(IdempotencyKey).values(
                client=client, key=key, fingerprint=print_, state="in_flight",
                started_at=now, expires_at=now + KEY_LIFETIME,
            ).on_conflict_do_nothing()
        )
        if inserted.rowcount:
            await uow.commit()
            return Claimed()
        existing = await uow.session.get(IdempotencyKey, (client, key))
        if existing is None:  # expired and purged between the two statements
            return InFlight()
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
                await uow.commit()
                return Claimed()
        return InFlight()


async def complete(uow: UnitOfWork, client: str, key: str, status: int, body: str,
                   referral_id: str) -> None:
    """Store the answer, in the same transaction as the work it answers for."""
    await uow.session.exec(
        update(IdempotencyKey)
        .where(col(IdempotencyKey.client) == client, col(IdempotencyKey.key) == key)
        .values(state="done", response_status=status, response_body=body,
                referral_id=referral_id))


async def release(database: Database, client: str, key: str) -> None:
    """Give the key up after the request failed, so a retry can use it."""
    async with database.unit_of_work() as uow:
        await uow.session.exec(delete(IdempotencyKey).where(
            col(IdempotencyKey.client) == client, col(IdempotencyKey.key) == key,
            col(IdempotencyKey.state) == "in_flight"))
        await uow.commit()
