"""The transactional outbox and the consumer inbox.

A service writes its state change and an ``OutboxMessage`` in one transaction; the
``OutboxRelay`` publishes unsent rows and marks them sent only after the broker has
confirmed them. Consumers record each message id in ``InboxMessage`` in the same
transaction as their effect, so a redelivered message changes nothing.

With the in-process broker (`mash up`), a message a consumer cannot process is kept as a
``DeadLetter`` in the consumer's database; ``replay_dead_letters`` puts it back in that
database's outbox, whose relay delivers it again (other queues' consumers ignore it:
their inbox may have forgotten it: the replayed event names its queue, and brokers give
it to no other).

Neither table grows for ever: ``MessagePurger`` deletes outbox rows published, and inbox
rows written, longer ago than the retention period (``message_retention_days``). A row
not yet published is never deleted, however old.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Index, Text, bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Field, SQLModel, col, select

from shared import otel
from shared.broker import Broker, BrokerUnavailable
from shared.db import Database, UnitOfWork, UTCDateTime, dialect_insert
from shared.events import CloudEvent, addressed_to, utcnow
from shared.rows import Rows
from shared.tracing import TraceContext, trace_var
from shared.workers import PollingWorker

log = logging.getLogger(__name__)

# What a unit of work notes when it stages events (the table's name, as Rows notes it),
# so the commit wakes the relay.
OUTBOX = "outbox_messages"


class OutboxMessage(SQLModel, table=True):
    """An event waiting to be published, written in the transaction that caused it."""

    __tablename__ = OUTBOX
    __table_args__ = (Index("ix_outbox_messages_unsent", "sent_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=128)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    attempts: int = 0


class InboxMessage(SQLModel, table=True):
    """A message a consumer has already handled (dedupe key: message id + consumer)."""

    __tablename__ = "inbox_messages"
    __table_args__ = (Index("ix_inbox_messages_received_at", "received_at"),)

    message_id: str = Field(max_length=64, primary_key=True)
    consumer: str = Field(max_length=128, primary_key=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


def _outbox_values(event: CloudEvent) -> dict[str, Any]:
    return {"event_id": event.id, "event_type": event.type,
            "payload": event.to_json().decode(), "created_at": utcnow()}


def add_to_outbox(uow: UnitOfWork, event: CloudEvent) -> None:
    """Stage ``event`` for publication in the unit of work's transaction."""
    uow.session.add(OutboxMessage(**_outbox_values(event)))
    uow.note(OUTBOX)


def outbox_row(rows: Rows, event: CloudEvent) -> None:
    """Stage ``event`` for publication as a row written with the others in ``rows``."""
    rows.add(OutboxMessage, **_outbox_values(event))


class DeadLetter(SQLModel, table=True):
    """A message a consumer of this database gave up on (`mash up`; RabbitMQ keeps its own)."""

    __tablename__ = "dead_letters"

    queue: str = Field(max_length=128, primary_key=True)
    event_id: str = Field(max_length=64, primary_key=True)
    event_type: str = Field(max_length=128)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    error_type: str = Field(max_length=128)
    dead_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]
_DEAD = DeadLetter.__table__  # type: ignore[attr-defined]
_INBOX = InboxMessage.__table__  # type: ignore[attr-defined]


@lru_cache(maxsize=2)
def _first_delivery(sqlite: bool) -> Any:
    return dialect_insert(_INBOX, sqlite=sqlite).on_conflict_do_nothing()


async def record_first_delivery(uow: UnitOfWork, message_id: str, consumer: str) -> bool:
    """Record that ``consumer`` has handled ``message_id``; False if it already had."""
    values = {"message_id": message_id, "consumer": consumer, "received_at": utcnow()}
    result = await uow.session.exec(_first_delivery(uow.database.is_sqlite), params=values)
    return bool(result.rowcount)


InboxHandler = Callable[[UnitOfWork, CloudEvent], Awaitable[None]]


class IdempotentConsumer:
    """A broker handler running ``handler`` once per event, its effect and the event's
    inbox row committed together.

    Called with one event (any broker), or by the in-process broker with a window of
    events (``handle_batch``): those are handled in one transaction, with one commit.
    """

    def __init__(self, database: Database, consumer: str, handler: InboxHandler, *,
                 on_handled: Callable[[], None] | None = None) -> None:
        self.database = database
        self.consumer = consumer
        self.handler = handler
        self.on_handled = on_handled

    async def __call__(self, event: CloudEvent) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: Sequence[CloudEvent]) -> None:
        """Handle ``events`` in one unit of work; if any fails, none is kept.

        Each event's handler starts with an empty identity map, as with a session of its
        own: what one event changed by a Core statement is read afresh by the next.
        """
        handled = 0
        async with self.database.unit_of_work() as uow:
            for position, event in enumerate(events):
                if position:
                    await uow.session.flush()
                    uow.session.expunge_all()
                handled += await self._handle(uow, event)
            if not handled:
                return
            await uow.commit()
        if self.on_handled:
            for _ in range(handled):
                self.on_handled()

    async def dead_letter(self, queue: str, event: CloudEvent, error_type: str) -> None:
        """Keep ``event`` as given up on by ``queue`` (the in-process broker calls this)."""
        values = {"queue": queue, "event_id": event.id, "event_type": event.type,
                  "payload": event.to_json().decode(), "error_type": error_type,
                  "dead_at": utcnow()}
        async with self.database.unit_of_work() as uow:
            await uow.session.exec(
                dialect_insert(_DEAD, sqlite=self.database.is_sqlite).on_conflict_do_nothing(),
                params=values)
            await uow.commit()

    async def _handle(self, uow: UnitOfWork, event: CloudEvent) -> bool:
        with otel.span(f"{event.type} process", event.traceparent, "consumer",
                       {"messaging.consumer.group.name": self.consumer,
                        "messaging.message.id": event.id}) as traced:
            token = trace_var.set(traced or TraceContext.continue_from(event.traceparent))
            try:
                if not await record_first_delivery(uow, event.id, self.consumer):
                    log.info("duplicate delivery ignored",
                             extra={"event_id": event.id, "consumer": self.consumer})
                    return False
                await self.handler(uow, event)
                return True
            finally:
                trace_var.reset(token)


def idempotent_consumer(
    database: Database,
    consumer: str,
    handler: InboxHandler,
    *,
    on_handled: Callable[[], None] | None = None,
) -> IdempotentConsumer:
    """Wrap ``handler`` so each event's effect and its inbox row commit together, once."""
    return IdempotentConsumer(database, consumer, handler, on_handled=on_handled)


async def outbox_backlog(database: Database) -> tuple[int, datetime | None]:
    """How many outbox rows wait to be published, and when the oldest was written."""
    from sqlalchemy import func

    query: Any = sa_select(func.count(), func.min(col(OutboxMessage.created_at))).where(
        col(OutboxMessage.sent_at).is_(None))
    async with database.unit_of_work() as uow:
        count, oldest = (await uow.session.exec(query)).one()
    return int(count), oldest


async def dead_letter_counts(database: Database) -> dict[str, int]:
    """How many dead letters each queue consuming into ``database`` has."""
    from sqlalchemy import func

    query: Any = sa_select(_DEAD.c.queue, func.count()).group_by(_DEAD.c.queue)
    async with database.unit_of_work() as uow:
        return {queue: int(count) for queue, count in (await uow.session.exec(query)).all()}


async def replay_dead_letters(database: Database, queue: str | None = None, *,
                              dry_run: bool = False) -> list[tuple[str, str]]:
    """Move ``database``'s dead letters (of ``queue``, or all) back to its outbox, oldest
    first, and return (queue, event id) of each. With ``dry_run``, only list them."""
    query: Any = sa_select(_DEAD.c.queue, _DEAD.c.event_id, _DEAD.c.payload).order_by(
        _DEAD.c.dead_at, _DEAD.c.event_id)
    if queue is not None:
        query = query.where(_DEAD.c.queue == queue)
    async with database.unit_of_work() as uow:
        rows = (await uow.session.exec(query)).all()
        if dry_run or not rows:
            return [(q, event_id) for q, event_id, _ in rows]
        for dead_queue, event_id, payload in rows:
            await _back_to_outbox(uow, addressed_to(CloudEvent.from_json(payload), dead_queue))
            await uow.session.exec(_DEAD.delete().where(_DEAD.c.queue == dead_queue,
                                                        _DEAD.c.event_id == event_id))
        await uow.commit()
    return [(q, event_id) for q, event_id, _ in rows]


async def _back_to_outbox(uow: UnitOfWork, event: CloudEvent) -> None:
    """Stage ``event`` for publication again: a new row, or its own row (an event this
    database published itself) marked unsent."""
    values = _outbox_values(event)
    uow.note(OUTBOX)
    sqlite = uow.database.is_sqlite
    statement = dialect_insert(_OUTBOX, sqlite=sqlite).values(**values).on_conflict_do_update(
        index_elements=[_OUTBOX.c.event_id],
        set_={"sent_at": None, "payload": values["payload"]})
    await uow.session.exec(statement)


@lru_cache(maxsize=2)
def _unsent(sqlite: bool) -> Any:
    """The oldest unsent rows (ids and payloads); claimed with SKIP LOCKED on PostgreSQL,
    so several relays can share a database."""
    query = (sa_select(_OUTBOX.c.id, _OUTBOX.c.payload).where(_OUTBOX.c.sent_at.is_(None))
             .order_by(_OUTBOX.c.id).limit(bindparam("window")))
    return query if sqlite else query.with_for_update(skip_locked=True)


RELAY_MAX_BACKOFF = 5.0

_MARK_SENT = (update(_OUTBOX).where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
              .values(sent_at=bindparam("now")))


class OutboxRelay(PollingWorker):
    """Publishes a database's unsent outbox rows in windows, oldest first.

    On PostgreSQL, rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several relays
    can run against one database. On SQLite (one process) claiming is not needed.
    """

    def __init__(
        self,
        database: Database,
        broker: Broker,
        *,
        name: str,
        batch_size: int = 100,
        poll_seconds: float = 1.0,
        on_published: Callable[[int], None] | None = None,
    ) -> None:
        # Backing off at most a few seconds: a broker that is back should not wait for a
        # long backoff to end (and a reconnection wakes the relay at once: see Service).
        super().__init__(f"outbox-relay-{name}", poll_seconds=poll_seconds,
                         max_backoff=RELAY_MAX_BACKOFF)
        self.database = database
        self.broker = broker
        self.relay_name = name
        self.batch_size = batch_size
        self.on_published = on_published
        # Woken by the commits that stage events (add_to_outbox, outbox_row through Rows,
        # a replay), not by every commit: a consumer's inbox row alone is no news here.
        database.on_commit(self.wake, only=OUTBOX)

    async def relay_once(self) -> int:
        """Publish one window of unsent rows; return how many were confirmed."""
        async with self.database.unit_of_work() as uow:
            rows = (await uow.session.exec(_unsent(self.database.is_sqlite),
                                           params={"window": self.batch_size})).all()
            if not rows:
                return 0
            ids = [row_id for row_id, _ in rows]
            events = [CloudEvent.from_json(payload) for _, payload in rows]
            try:
                await self.broker.publish(events)
            except BrokerUnavailable:
                await uow.rollback()
                await self._count_failed_attempt(ids)
                raise
            await uow.session.exec(_MARK_SENT, params={"ids": ids, "now": utcnow()})
            await uow.session.commit()
        if self.on_published:
            self.on_published(len(rows))
        return len(rows)

    async def _count_failed_attempt(self, ids: list[int]) -> None:
        async with self.database.unit_of_work() as uow:
            await uow.session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(ids))
                .values(attempts=OutboxMessage.attempts + 1)
            )
            await uow.session.commit()

    async def drain(self) -> int:
        """Publish until nothing is left unsent; return how many were published.

        On SQLite (one process) a window shorter than ``batch_size`` was the last: a row
        committed since has woken the relay again (the commit hook), so it does not look
        once more. Other processes' commits wake nobody here: PostgreSQL looks until empty.
        """
        total = 0
        while True:
            count = await self.relay_once()
            total += count
            if not count or (count < self.batch_size and self.database.is_sqlite):
                return total

    async def pending(self) -> int:
        """How many rows wait to be published."""
        from sqlalchemy import func

        async with self.database.unit_of_work() as uow:
            query = select(func.count()).select_from(OutboxMessage).where(
                col(OutboxMessage.sent_at).is_(None)
            )
            return int((await uow.session.exec(query)).one())

    async def step(self) -> None:
        """Publish everything unsent."""
        await self.drain()

    def step_failed(self, exc: Exception) -> None:
        """The broker being away is expected; anything else is a bug to see."""
        if isinstance(exc, BrokerUnavailable):
            log.warning("outbox relay waiting for the broker",
                        extra={"relay": self.relay_name, "error": str(exc)})
        else:
            log.error("outbox relay failed", exc_info=exc, extra={"relay": self.relay_name})


PURGE_BATCH = 5_000


async def _delete_in_batches(database: Database, key: Any, condition: Any) -> int:
    """Delete the rows matching ``condition``, a batch of ``key`` values per transaction,
    so that no transaction holds the database (SQLite has one writer) for long."""
    table = key.table
    total = 0
    while True:
        async with database.unit_of_work() as uow:
            batch: Any = sa_select(key).where(condition).limit(PURGE_BATCH)
            keys = list((await uow.session.exec(batch)).scalars())
            if not keys:
                return total
            result = await uow.session.exec(table.delete().where(condition, key.in_(keys)))
            await uow.commit()
        total += int(result.rowcount or 0)
        if len(keys) < PURGE_BATCH:
            return total


async def purge_messages(database: Database, *, older_than: timedelta) -> tuple[int, int]:
    """Delete outbox rows published, and inbox rows written, more than ``older_than`` ago;
    return how many of each. An unsent outbox row stays, however old."""
    cutoff = utcnow() - older_than
    sent = await _delete_in_batches(
        database, _OUTBOX.c.id, _OUTBOX.c.sent_at.is_not(None) & (_OUTBOX.c.sent_at < cutoff))
    handled = await _delete_in_batches(database, _INBOX.c.message_id,
                                       _INBOX.c.received_at < cutoff)
    return sent, handled


class MessagePurger(PollingWorker):
    """Deletes a database's old outbox and inbox rows now and then (``purge_messages``)."""

    def __init__(self, database: Database, *, name: str, retention: timedelta,
                 every_seconds: float) -> None:
        super().__init__(f"message-purger-{name}", poll_seconds=every_seconds,
                         max_backoff=every_seconds)
        self.database = database
        self.retention = retention

    async def step(self) -> None:
        sent, handled = await purge_messages(self.database, older_than=self.retention)
        if sent or handled:
            log.info("old messages purged", extra={"relay": self.name, "outbox_rows": sent,
                                                  "inbox_rows": handled})
