"""Seals and checkpoints: the audit chain keyed with a key the database does not hold.

The chain's hashes (service.py) show that no entry was changed or removed, but anyone who
can write the database could recompute them all. So, every few seconds, the sealer takes
the chain's head (its sequence number and hash) and stores its HMAC under a key derived
from the hub's secret, which lives outside the database. A seal commits to every entry
up to its head: changing one, or recomputing the chain, breaks every seal after it, and
a seal cannot be made again without the key. Removing the seals leaves sealed entries
unsealed, which verification reports as well.

A checkpoint is a seal taken out of the hub (``mash audit checkpoint``), to be kept
elsewhere: ``mash audit verify --checkpoint FILE`` then proves that nothing up to it was
rewritten, whatever happened to the database and its seals since.
"""

from __future__ import annotations

import logging

from sqlmodel import col, select

from services.referral.audit.hashchain import (
    SEAL_GRACE,
    Checkpoint,
    check_seal,
    seal_key,
    seal_mac,
)
from services.referral.audit.models import AuditHead, AuditSeal
from shared.db import Database, UnitOfWork, dialect_insert
from shared.events import utcnow
from shared.workers import PollingWorker

log = logging.getLogger(__name__)

__all__ = ["SEAL_GRACE", "AuditSealer", "Checkpoint", "check_seal", "checkpoint",
           "seal_head", "seal_key", "seal_mac", "seals"]


async def seal_head(uow: UnitOfWork, key: bytes) -> Checkpoint | None:
    """Seal the chain's head now, unless it is sealed already; the seal (None: no entries)."""
    head = await uow.session.get(AuditHead, 1)
    if head is None or head.seq == 0:
        return None
    sealed_at = utcnow()
    seal = Checkpoint(head.seq, head.hash, sealed_at,
                      seal_mac(key, head.seq, head.hash, sealed_at))
    statement = dialect_insert(AuditSeal.__table__,  # type: ignore[attr-defined]
                               sqlite=uow.database.is_sqlite)
    await uow.session.exec(statement.values(**{**seal.as_json(), "sealed_at": sealed_at})
                           .on_conflict_do_nothing())
    return seal


async def checkpoint(uow: UnitOfWork, key: bytes) -> Checkpoint | None:
    """A checkpoint of the chain as it is now (sealed, so verification knows it too)."""
    return await seal_head(uow, key)


async def seals(uow: UnitOfWork) -> list[Checkpoint]:
    """Every seal, oldest first."""
    rows = await uow.session.exec(select(AuditSeal).order_by(col(AuditSeal.seq)))
    return [Checkpoint(s.seq, s.hash, s.sealed_at, s.mac) for s in rows.all()]


class AuditSealer(PollingWorker):
    """Seals the chain's head every few seconds, and once more as it stops."""

    def __init__(self, database: Database, key: bytes, *, poll_seconds: float = 5.0) -> None:
        super().__init__("audit-sealer", poll_seconds=poll_seconds)
        self.database = database
        self.key = key

    async def step(self) -> None:
        """Seal the head if it has moved."""
        async with self.database.unit_of_work() as uow:
            await seal_head(uow, self.key)
            await uow.commit()

    async def stop(self) -> None:
        """Stop, sealing what was written since the last seal."""
        await super().stop()
        try:
            await self.step()
        except Exception:
            log.warning("the audit chain's last entries could not be sealed at stop",
                        exc_info=True)
