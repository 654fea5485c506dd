"""The transactional outbox and the consumer inbox, on SQLite and on PostgreSQL.

Every test runs against a database migrated by the service's real Alembic history.
Events go through the real in-process broker, whose ``publish`` returns (the confirm)
only once its consumers have finished, so a consumer can look at the outbox *during*
publication.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select, update

from services.notify.app import MIGRATIONS as NOTIFY_MIGRATIONS
from services.notify.models import Delivery
from services.notify.service import record_delivery
from services.referral.app import MIGRATIONS as REFERRAL_MIGRATIONS
from services.referral.app import create_service as create_referral_service
from shared import outbox
from shared.broker import BrokerUnavailable
from shared.broker.memory import InProcessBroker
from shared.db import Database, UnitOfWork
from shared.events import CloudEvent, utcnow
from shared.migrations import upgrade_to_head
from shared.outbox import (
    InboxMessage,
    MessagePurger,
    OutboxMessage,
    OutboxRelay,
    add_to_outbox,
    dead_letter_counts,
    idempotent_consumer,
    purge_messages,
    replay_dead_letters,
)
from shared.rows import Rows
from shared.settings import Settings
from tests.helpers import eventually, hub_clock_at


def event(n: int = 0, type_: str = "mash.referral.received") -> CloudEvent:
    return CloudEvent(source="/tests/outbox", type=type_, data={"referral_id": f"r-{n}", "n": n})


async def migrated(url: str, migrations: Path, service: str) -> Database:
    database = Database(url)
    await upgrade_to_head(database, migrations, service)
    return database


@pytest.fixture
async def referral_db(database_url: str) -> AsyncIterator[Database]:
    database = await migrated(database_url, REFERRAL_MIGRATIONS, "referral")
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def notify_db(database_url: str) -> AsyncIterator[Database]:
    database = await migrated(database_url, NOTIFY_MIGRATIONS, "notify")
    try:
        yield database
    finally:
        await database.dispose()


class Published:
    """A consumer on every event type: what the broker has delivered, in order."""

    def __init__(self, broker: InProcessBroker) -> None:
        self.broker = broker
        self.events: list[CloudEvent] = []
        self.during: Callable[[CloudEvent], Awaitable[None]] | None = None

    async def handler(self, evt: CloudEvent) -> None:
        if self.during is not None:
            await self.during(evt)
        self.events.append(evt)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]


@pytest.fixture
async def broker() -> AsyncIterator[InProcessBroker]:
    broker = InProcessBroker(delivery_limit=3, retry_delay=0.0)
    await broker.connect()
    try:
        yield broker
    finally:
        await broker.close()


@pytest.fixture
async def published(broker: InProcessBroker) -> Published:
    published = Published(broker)
    await broker.subscribe("tests.everything", ["#"], published.handler)
    return published


async def write(database: Database, *events: CloudEvent) -> None:
    """Stage events in one unit of work and commit it."""
    async with database.unit_of_work() as uow:
        for evt in events:
            add_to_outbox(uow, evt)
        await uow.commit()


async def outbox_row(database: Database, event_id: str) -> OutboxMessage:
    async with database.unit_of_work() as uow:
        query = select(OutboxMessage).where(OutboxMessage.event_id == event_id)
        return (await uow.session.exec(query)).one()


async def count(database: Database, model: type, *where: object) -> int:
    async with database.unit_of_work() as uow:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)  # type: ignore[arg-type]
        return int((await uow.session.exec(query)).one())


class BuggyUntilFixed:
    """A consumer whose bug every event meets, until it is fixed."""

    fixed = False

    async def handle(self, uow: UnitOfWork, evt: CloudEvent) -> None:
        if not self.fixed:
            raise KeyError("a bug this event meets every time")
        await record_delivery(uow, evt)


# --- outbox relay -----------------------------------------------------------------------


async def test_event_staged_in_a_rolled_back_unit_of_work_is_never_published(
    referral_db: Database, broker: InProcessBroker, published: Published
) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral")
    rolled_back, abandoned, failed = event(1), event(2), event(3)

    async with referral_db.unit_of_work() as uow:
        add_to_outbox(uow, rolled_back)
        await uow.session.flush()
        await uow.rollback()
    async with referral_db.unit_of_work() as uow:
        add_to_outbox(uow, abandoned)
        await uow.session.flush()  # written, but the unit of work ends without commit()
    with pytest.raises(RuntimeError):
        async with referral_db.unit_of_work() as uow:
            add_to_outbox(uow, failed)
            await uow.session.flush()
            raise RuntimeError("the request failed after staging its event")

    assert await relay.drain() == 0
    assert published.events == []
    assert await count(referral_db, OutboxMessage) == 0


async def test_committed_event_is_published_and_marked_sent_only_after_the_confirm(
    referral_db: Database, broker: InProcessBroker, published: Published
) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral")
    committed = event(1)
    await write(referral_db, committed)
    assert (await outbox_row(referral_db, committed.id)).sent_at is None

    seen_while_publishing: list[OutboxMessage] = []

    async def look_at_the_outbox(evt: CloudEvent) -> None:
        seen_while_publishing.append(await outbox_row(referral_db, evt.id))

    published.during = look_at_the_outbox
    assert await relay.relay_once() == 1

    assert published.events == [committed]
    assert [row.sent_at for row in seen_while_publishing] == [None]
    row = await outbox_row(referral_db, committed.id)
    assert row.sent_at is not None
    assert row.sent_at >= row.created_at
    assert await relay.pending() == 0
    assert await relay.relay_once() == 0
    assert published.events == [committed], "a sent row was published again"


async def test_event_stays_unsent_while_the_broker_is_unavailable_and_goes_out_later(
    referral_db: Database, broker: InProcessBroker, published: Published
) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral")
    waiting = event(1)
    await write(referral_db, waiting)

    await broker.close()
    for _ in range(2):
        with pytest.raises(BrokerUnavailable):
            await relay.relay_once()
    row = await outbox_row(referral_db, waiting.id)
    assert row.sent_at is None
    assert row.attempts == 2
    assert await relay.pending() == 1

    await broker.connect()
    assert await relay.relay_once() == 1
    assert published.events == [waiting]
    assert (await outbox_row(referral_db, waiting.id)).sent_at is not None


async def test_a_relay_waiting_out_its_backoff_publishes_as_soon_as_the_broker_is_back(
    database_url: str, tmp_path: Path, published: Published,
) -> None:
    broker = published.broker
    settings = Settings(data_dir=tmp_path, referral_database_url=database_url,
                        outbox_poll_seconds=60.0)
    service = create_referral_service(settings, broker)
    await service.migrate()
    relay = service.relay
    relay.max_backoff = 600.0  # on its own, the relay would next look in minutes
    await broker.close()
    waiting = event(1)
    await write(service.database, waiting)
    relay.start()
    try:
        async def failed_once() -> bool:
            return (await outbox_row(service.database, waiting.id)).attempts >= 1

        await eventually(failed_once, within=5, interval=0.01)
        await broker.connect()  # the service wakes its relay on reconnection

        async def was_published() -> bool:
            return published.ids == [waiting.id]

        await eventually(was_published, within=5, interval=0.01)
    finally:
        await service.stop()


async def test_events_are_published_in_the_order_they_were_written(
    referral_db: Database, broker: InProcessBroker, published: Published
) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral", batch_size=7)
    written = [event(n) for n in range(30)]
    for start in range(0, len(written), 3):  # several units of work, several rows each
        await write(referral_db, *written[start:start + 3])

    assert await relay.drain() == len(written)
    assert published.ids == [e.id for e in written]


async def test_running_relay_publishes_a_commit_without_waiting_for_its_poll(
    referral_db: Database, broker: InProcessBroker, published: Published
) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral", poll_seconds=60.0)
    relay.start()
    try:
        await asyncio.sleep(0)  # let it make its first (empty) pass
        sent = event(1)
        await write(referral_db, sent)  # the commit wakes the relay

        async def was_published() -> bool:
            return published.ids == [sent.id]

        await eventually(was_published, within=5, interval=0.01)  # well before the poll
    finally:
        async with asyncio.timeout(5):
            await relay.stop()


async def test_only_commits_that_stage_events_wake_the_relay(referral_db: Database,
                                                             broker: InProcessBroker) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral", poll_seconds=60.0)
    async with referral_db.unit_of_work() as uow:  # a consumer's inbox row alone
        uow.session.add(InboxMessage(message_id="m-1", consumer="c", received_at=utcnow()))
        await uow.commit()
    assert not relay._wake.is_set()
    await write(referral_db, event(1))
    assert relay._wake.is_set()
    relay._wake.clear()
    async with referral_db.unit_of_work() as uow:  # as intake writes its batch's rows
        rows = Rows()
        outbox.outbox_row(rows, event(2))
        await rows.write(uow)
        await uow.commit()
    assert relay._wake.is_set()


async def test_relay_stops_promptly_even_when_woken_as_it_is_stopped(
    referral_db: Database, broker: InProcessBroker
) -> None:
    relay = OutboxRelay(referral_db, broker, name="referral", poll_seconds=60.0)
    relay.start()

    await asyncio.sleep(0.2)  # its first (empty) pass is done: it now waits to be woken

    relay.wake()  # e.g. the last request's commit, just as the service shuts down
    started = time.monotonic()
    async with asyncio.timeout(10):
        await relay.stop()
    assert time.monotonic() - started < 2, "stop() waited for the relay's next poll"


@pytest.mark.postgres
async def test_concurrent_relays_on_postgresql_publish_each_event_exactly_once(
    postgres_database: str, broker: InProcessBroker, published: Published
) -> None:
    writer = await migrated(postgres_database, REFERRAL_MIGRATIONS, "referral")
    # Two relays with their own engines, as two relay processes would have.
    first_db, second_db = Database(postgres_database), Database(postgres_database)
    try:
        written = [event(n) for n in range(300)]
        for start in range(0, len(written), 50):
            await write(writer, *written[start:start + 50])

        by_relay: Counter[str] = Counter()

        async def slow_consumer(evt: CloudEvent) -> None:
            await asyncio.sleep(0)  # let the other relay run while this one publishes

        published.during = slow_consumer
        first = OutboxRelay(first_db, broker, name="first", batch_size=10,
                            on_published=lambda n: by_relay.update(first=n))
        second = OutboxRelay(second_db, broker, name="second", batch_size=10,
                             on_published=lambda n: by_relay.update(second=n))
        totals = await asyncio.gather(first.drain(), second.drain())

        times_published = Counter(published.ids)
        assert set(times_published) == {e.id for e in written}
        assert max(times_published.values()) == 1, "an event was published twice"
        assert sum(totals) == len(written)
        assert by_relay["first"] > 0 and by_relay["second"] > 0, "the relays did not overlap"
        assert await first.pending() == 0
    finally:
        for database in (writer, first_db, second_db):
            await database.dispose()


# --- idempotent consumer ----------------------------------------------------------------


async def test_event_delivered_twice_has_its_effect_applied_once(notify_db: Database) -> None:
    handled: list[str] = []
    consume = idempotent_consumer(notify_db, "notify.partner-events", record_delivery,
                                  on_handled=lambda: handled.append("handled"))
    evt = event(7)

    await consume(evt)
    await consume(evt)

    assert await count(notify_db, Delivery, Delivery.event_id == evt.id) == 1
    assert await count(notify_db, InboxMessage, InboxMessage.message_id == evt.id) == 1
    assert handled == ["handled"]


async def test_event_delivered_twice_at_the_same_time_has_its_effect_applied_once(
    notify_db: Database,
) -> None:
    consume = idempotent_consumer(notify_db, "notify.partner-events", record_delivery)
    evt = event(8)

    await asyncio.gather(consume(evt), consume(evt))

    assert await count(notify_db, Delivery, Delivery.event_id == evt.id) == 1


async def test_each_consumer_applies_the_same_event_once(notify_db: Database) -> None:
    evt = event(9)
    for consumer in ("notify.partner-events", "notify.email", "notify.partner-events"):
        await idempotent_consumer(notify_db, consumer, record_delivery)(evt)

    assert await count(notify_db, Delivery, Delivery.event_id == evt.id) == 2


async def test_consumer_that_fails_leaves_no_trace_so_the_redelivery_applies_it(
    notify_db: Database,
) -> None:
    fail_next = True

    async def fails_after_writing(uow: UnitOfWork, evt: CloudEvent) -> None:
        await record_delivery(uow, evt)
        await uow.session.flush()
        if fail_next:
            raise RuntimeError("the partner endpoint lookup failed")

    consume = idempotent_consumer(notify_db, "notify.partner-events", fails_after_writing)
    evt = event(10)

    with pytest.raises(RuntimeError):
        await consume(evt)
    assert await count(notify_db, InboxMessage) == 0
    assert await count(notify_db, Delivery) == 0

    fail_next = False
    await consume(evt)
    await consume(evt)
    assert await count(notify_db, InboxMessage, InboxMessage.message_id == evt.id) == 1
    assert await count(notify_db, Delivery, Delivery.event_id == evt.id) == 1


async def test_broker_redelivery_after_a_failure_applies_the_effect_once(
    notify_db: Database, broker: InProcessBroker
) -> None:
    """End to end: relay -> broker -> idempotent consumer that fails on its first try."""
    failures = iter([RuntimeError("transient")])

    async def flaky_record(uow: UnitOfWork, evt: CloudEvent) -> None:
        await record_delivery(uow, evt)
        await uow.session.flush()
        if (failure := next(failures, None)) is not None:
            raise failure

    await broker.subscribe(
        "notify.partner-events", ["mash.referral.received"],
        idempotent_consumer(notify_db, "notify.partner-events", flaky_record),
    )
    evt = event(11)
    await broker.publish([evt])
    await broker.publish([evt])  # the relay published it again (e.g. crash before marking)

    assert await count(notify_db, Delivery, Delivery.event_id == evt.id) == 1
    assert await broker.dead_letters("notify.partner-events") == []


async def test_a_window_of_events_is_consumed_in_one_transaction(
    notify_db: Database, broker: InProcessBroker
) -> None:
    """The in-process broker hands a relay window to an idempotent consumer at once:
    one unit of work, one commit (one wake-up of the notify workers), every effect."""
    units_of_work: list[int] = []

    async def record(uow: UnitOfWork, evt: CloudEvent) -> None:
        units_of_work.append(id(uow))
        await record_delivery(uow, evt)

    commits: list[None] = []
    notify_db.on_commit(lambda: commits.append(None))
    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events", record))
    written = [event(n) for n in range(20, 26)]
    await broker.publish(written)  # as the relay publishes a window of the outbox

    assert len(units_of_work) == len(written)
    assert len(set(units_of_work)) == 1
    assert len(commits) == 1
    assert await count(notify_db, Delivery) == len(written)
    assert await count(notify_db, InboxMessage) == len(written)


async def test_a_failing_event_in_a_window_is_dead_lettered_alone_after_the_limit(
    notify_db: Database, broker: InProcessBroker
) -> None:
    """A window whose handling fails is rolled back and delivered one event at a time:
    the others are applied once, the poison one is tried delivery_limit times in all."""
    written = [event(n) for n in range(30, 35)]
    poison = written[2]
    attempts: Counter[str] = Counter()

    async def record(uow: UnitOfWork, evt: CloudEvent) -> None:
        attempts[evt.id] += 1
        await record_delivery(uow, evt)
        await uow.session.flush()
        if evt.id == poison.id:
            raise RuntimeError("cannot route this one")

    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events", record))
    await broker.publish(written)  # as the relay publishes a window of the outbox

    assert attempts[poison.id] == broker.delivery_limit
    # Kept in the consumer's database, not in the broker's memory.
    assert await replay_dead_letters(notify_db, dry_run=True) == [
        ("notify.partner-events", poison.id)]
    assert await broker.dead_letters("notify.partner-events") == []
    for evt in written:
        expected = 0 if evt is poison else 1
        assert await count(notify_db, Delivery, Delivery.event_id == evt.id) == expected
        assert await count(notify_db, InboxMessage, InboxMessage.message_id == evt.id) == expected


async def test_each_event_of_a_window_reads_what_the_ones_before_it_wrote(
    notify_db: Database, broker: InProcessBroker
) -> None:
    """One transaction, but a fresh identity map per event: a row one event changed by a
    Core statement is not served stale from the ORM objects an earlier event loaded."""
    seen: list[str] = []
    kept: list[OutboxMessage] = []

    async def handler(uow: UnitOfWork, evt: CloudEvent) -> None:
        step = evt.data["n"]
        if step == 0:
            add_to_outbox(uow, CloudEvent(source="/tests", type="t.row", id="row-1", data={}))
            await uow.session.flush()
        elif step == 1:
            table = OutboxMessage.__table__  # type: ignore[attr-defined]
            await uow.session.exec(update(table).where(  # type: ignore[call-overload]
                table.c.event_id == "row-1").values(event_type="t.changed"))
        row = (await uow.session.exec(
            select(OutboxMessage).where(OutboxMessage.event_id == "row-1"))).one()
        seen.append(row.event_type)
        kept.append(row)  # e.g. a cache: the object outlives its event

    await broker.subscribe("tests.window", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "tests.window", handler))
    await broker.publish([event(n) for n in range(3)])

    assert seen == ["t.row", "t.changed", "t.changed"]


# --- consumers' storage away, and dead letters (`mash up`) ------------------------------

def storage_away() -> OperationalError:
    """What SQLAlchemy raises when SQLite's disk is full."""
    return OperationalError("INSERT INTO deliveries ...", {},
                            sqlite3.OperationalError("database or disk is full"))


async def test_an_event_its_consumer_could_not_store_stays_unsent_and_is_delivered_after_restart(
    notify_db: Database, broker: InProcessBroker
) -> None:
    """(One database for the outbox and the consumer, as a service consuming its own.)"""
    attempts: Counter[str] = Counter()

    async def disk_full(uow: UnitOfWork, evt: CloudEvent) -> None:
        attempts[evt.id] += 1
        raise storage_away()

    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events", disk_full))
    relay = OutboxRelay(notify_db, broker, name="notify")
    waiting = event(40)
    await write(notify_db, waiting)

    # The hub stops (or is killed) while notify's disk is still full.
    publishing = asyncio.create_task(relay.relay_once())

    async def retried_past_the_limit() -> bool:
        return attempts[waiting.id] > broker.delivery_limit * 2

    await eventually(retried_past_the_limit)
    publishing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await publishing
    assert (await outbox_row(notify_db, waiting.id)).sent_at is None
    assert await dead_letter_counts(notify_db) == {}

    # Started again, with room on the disk: delivered, once, and only now marked sent.
    restarted = InProcessBroker(delivery_limit=3, retry_delay=0.0)
    await restarted.connect()
    await restarted.subscribe("notify.partner-events", ["mash.referral.received"],
                              idempotent_consumer(notify_db, "notify.partner-events",
                                                  record_delivery))
    assert await OutboxRelay(notify_db, restarted, name="notify").drain() == 1
    assert (await outbox_row(notify_db, waiting.id)).sent_at is not None
    assert await count(notify_db, Delivery, Delivery.event_id == waiting.id) == 1
    assert await dead_letter_counts(notify_db) == {}


async def test_a_poison_event_is_kept_in_the_consumers_database_and_replay_delivers_it_once(
    notify_db: Database, broker: InProcessBroker
) -> None:
    consumer = BuggyUntilFixed()
    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events",
                                               consumer.handle))
    poison, fine = event(50), event(51, "mash.referral.accepted")
    await write(notify_db, poison)
    relay = OutboxRelay(notify_db, broker, name="notify")
    assert await relay.drain() == 1
    assert await dead_letter_counts(notify_db) == {"notify.partner-events": 1}
    assert await relay.pending() == 0  # sent: the dead letter is kept durably instead

    listed = await replay_dead_letters(notify_db, dry_run=True)
    assert listed == [("notify.partner-events", poison.id)]
    assert await dead_letter_counts(notify_db) == {"notify.partner-events": 1}
    assert await relay.pending() == 0

    consumer.fixed = True
    assert await replay_dead_letters(notify_db) == listed
    assert await dead_letter_counts(notify_db) == {}
    # Back in the consumer database's outbox; its relay delivers it (once, by its id).
    await write(notify_db, fine)
    assert await relay.drain() == 2
    assert await count(notify_db, Delivery, Delivery.event_id == poison.id) == 1
    assert await replay_dead_letters(notify_db) == []


# --- retention ----------------------------------------------------------------------------

WEEK = timedelta(days=7)
MONDAY = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


async def test_purging_deletes_published_and_handled_rows_past_retention_and_never_an_unsent_one(
    notify_db: Database, broker: InProcessBroker, published: Published
) -> None:
    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events",
                                               record_delivery))
    relay = OutboxRelay(notify_db, broker, name="notify")
    old_sent, stuck, recent_unsent, recent_sent = event(60), event(61), event(62), event(63)
    with hub_clock_at(MONDAY):
        await write(notify_db, old_sent)
        assert await relay.drain() == 1
        await broker.close()
        await write(notify_db, stuck)  # the broker is away: it stays unsent
        with pytest.raises(BrokerUnavailable):
            await relay.drain()
    with hub_clock_at(MONDAY + WEEK + timedelta(days=1)):
        await write(notify_db, recent_unsent, recent_sent)
        async with notify_db.unit_of_work() as uow:
            await uow.session.exec(update(OutboxMessage)
                                   .where(OutboxMessage.event_id == recent_sent.id)  # type: ignore[arg-type]
                                   .values(sent_at=MONDAY + WEEK + timedelta(days=1)))
            await uow.commit()
        assert await count(notify_db, InboxMessage) == 1  # old_sent's, a week and a day old
        assert await purge_messages(notify_db, older_than=WEEK) == (1, 1)

    kept = {e.id: (await outbox_row(notify_db, e.id)).sent_at is None
            for e in (stuck, recent_unsent, recent_sent)}
    assert kept == {stuck.id: True, recent_unsent.id: True, recent_sent.id: False}
    assert await count(notify_db, OutboxMessage, OutboxMessage.event_id == old_sent.id) == 0
    assert await count(notify_db, InboxMessage) == 0

    # Nothing unsent was lost: the stuck events go out when the broker is back, once each.
    await broker.connect()
    assert await relay.drain() == 2
    assert published.ids == [old_sent.id, stuck.id, recent_unsent.id]
    assert await count(notify_db, Delivery, Delivery.event_id == stuck.id) == 1
    with hub_clock_at(MONDAY + WEEK + timedelta(days=1, hours=1)):
        assert await purge_messages(notify_db, older_than=WEEK) == (0, 0)


async def test_purging_in_batches_deletes_every_old_row(notify_db: Database,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.outbox.PURGE_BATCH", 3)
    broker = InProcessBroker()
    await broker.connect()
    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events",
                                               record_delivery))
    with hub_clock_at(MONDAY):
        await write(notify_db, *[event(70 + n) for n in range(7)])
        assert await OutboxRelay(notify_db, broker, name="notify").drain() == 7
    with hub_clock_at(MONDAY + WEEK + timedelta(minutes=1)):
        assert await purge_messages(notify_db, older_than=WEEK) == (7, 7)
    assert await count(notify_db, OutboxMessage) == 0


async def test_the_purger_runs_in_the_background_until_stopped(notify_db: Database) -> None:
    with hub_clock_at(MONDAY):
        await write(notify_db, event(80))
        async with notify_db.unit_of_work() as uow:
            await uow.session.exec(update(OutboxMessage).values(sent_at=MONDAY))
            await uow.commit()
    purger = MessagePurger(notify_db, name="notify", retention=timedelta(seconds=1),
                           every_seconds=0.05)
    purger.start()
    try:
        async def emptied() -> bool:
            return await count(notify_db, OutboxMessage) == 0

        await eventually(emptied)
    finally:
        await purger.stop()


async def test_a_replayed_dead_letter_goes_only_to_the_queue_that_gave_up_on_it(
    notify_db: Database, broker: InProcessBroker, published: Published
) -> None:
    """Other queues handled it the first time and may since have forgotten that they did
    (their inbox rows purged): the replay is addressed to its own queue alone."""
    consumer = BuggyUntilFixed()
    await broker.subscribe("notify.partner-events", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.partner-events",
                                               consumer.handle))
    other: list[str] = []

    async def other_consumer(uow: UnitOfWork, evt: CloudEvent) -> None:
        other.append(evt.id)

    await broker.subscribe("notify.other", ["mash.referral.received"],
                           idempotent_consumer(notify_db, "notify.other", other_consumer))
    relay = OutboxRelay(notify_db, broker, name="notify")
    with hub_clock_at(MONDAY):
        poison = event(90)
        await write(notify_db, poison)
        assert await relay.drain() == 1
    assert other == [poison.id]
    assert await dead_letter_counts(notify_db) == {"notify.partner-events": 1}
    with hub_clock_at(MONDAY + 2 * WEEK):
        assert await purge_messages(notify_db, older_than=WEEK) == (1, 1)
        consumer.fixed = True
        assert await replay_dead_letters(notify_db) == [("notify.partner-events", poison.id)]
        assert await relay.drain() == 1
    assert other == [poison.id]  # not handled a second time
    assert await count(notify_db, Delivery, Delivery.event_id == poison.id) == 1
    assert published.ids.count(poison.id) == 1  # the catch-all queue saw only the first
