"""SQLite on the event loop's thread: writers of one database take turns in the process.

A unit of work may hold a write transaction across an await (a broker publish, an HTTP
call); another coroutine's write must then wait its turn on the loop, not in SQLite's
busy handler (which would block the loop and with it the holder), and must go ahead as
soon as the holder commits or rolls back.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared import sqlite_driver
from shared.db import Database


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE log (n INTEGER NOT NULL, who TEXT NOT NULL)"))
    try:
        yield db
    finally:
        await db.dispose()


async def rows(db: Database) -> list[tuple[int, str]]:
    async with db.engine.connect() as conn:
        result = await conn.execute(text("SELECT n, who FROM log ORDER BY rowid"))
        return [(int(n), str(who)) for n, who in result.all()]


async def test_a_second_writer_waits_for_the_first_to_commit(database: Database) -> None:
    holder_wrote = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with database.unit_of_work() as uow:
            await uow.session.exec(text("INSERT INTO log VALUES (1, 'holder')"))  # type: ignore[call-overload]
            holder_wrote.set()
            await release.wait()  # the write transaction stays open across an await
            await uow.commit()

    async def second() -> None:
        await holder_wrote.wait()
        async with database.unit_of_work() as uow:
            await uow.session.exec(text("INSERT INTO log VALUES (2, 'second')"))  # type: ignore[call-overload]
            await uow.commit()

    first_task = asyncio.create_task(holder())
    second_task = asyncio.create_task(second())
    await holder_wrote.wait()
    await asyncio.sleep(0.05)
    # The loop still runs (this coroutine does), the second writer waits, and readers
    # see the committed state only.
    assert not second_task.done()
    assert await rows(database) == []
    release.set()
    await asyncio.gather(first_task, second_task)
    assert await rows(database) == [(1, "holder"), (2, "second")]


async def test_a_rollback_hands_the_lock_on(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.exec(text("INSERT INTO log VALUES (1, 'rolled back')"))  # type: ignore[call-overload]
        waiting = asyncio.create_task(_write(database, 2, "after"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await uow.rollback()
    await asyncio.wait_for(waiting, 5)
    assert await rows(database) == [(2, "after")]


async def test_writers_go_in_arrival_order(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.exec(text("INSERT INTO log VALUES (0, 'first')"))  # type: ignore[call-overload]
        waiting = []
        for n in range(1, 6):
            waiting.append(asyncio.create_task(_write(database, n, "queued")))
            await asyncio.sleep(0.01)
        await uow.commit()
    await asyncio.gather(*waiting)
    assert [n for n, _ in await rows(database)] == [0, 1, 2, 3, 4, 5]


async def test_a_writer_kept_waiting_too_long_gets_database_is_locked(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "LOCK_TIMEOUT", 0.1)
    async with database.unit_of_work() as uow:
        await uow.session.exec(text("INSERT INTO log VALUES (1, 'holder')"))  # type: ignore[call-overload]
        with pytest.raises(OperationalError, match="database is locked"):
            await _write(database, 2, "impatient")
        await uow.commit()
    # The lock was not left behind by the writer that gave up.
    await asyncio.wait_for(_write(database, 3, "later"), 5)
    assert await rows(database) == [(1, "holder"), (3, "later")]


async def test_a_cancelled_waiter_does_not_keep_the_lock(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.exec(text("INSERT INTO log VALUES (1, 'holder')"))  # type: ignore[call-overload]
        cancelled = asyncio.create_task(_write(database, 2, "cancelled"))
        await asyncio.sleep(0.05)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await uow.commit()
    await asyncio.wait_for(_write(database, 3, "later"), 5)
    assert await rows(database) == [(1, "holder"), (3, "later")]


def test_write_transactions_begin_immediate(tmp_path: Path) -> None:
    """The lock is taken, and SQLite's RESERVED lock with it, at the first write."""
    path = tmp_path / "plain.db"
    conn = sqlite_driver.SQLiteDialect_mash.import_dbapi().connect(str(path))
    conn.execute("CREATE TABLE t (n INTEGER)")
    other = sqlite3.connect(path, timeout=0)

    async def write() -> None:
        conn.execute("INSERT INTO t VALUES (1)")  # outside a greenlet: lock is free
        assert conn.in_transaction
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # another process's writer is kept out
        conn.commit()
        assert not conn.in_transaction
        other.execute("BEGIN IMMEDIATE")
        other.rollback()

    try:
        asyncio.run(write())
    finally:
        conn.close()
        other.close()


async def _write(database: Database, n: int, who: str) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.exec(text(f"INSERT INTO log VALUES ({n}, '{who}')"))  # type: ignore[call-overload]  # noqa: S608
        await uow.commit()


# A query that keeps SQLite busy for a good while (a few hundred ms or more here).
SLOW_COUNT = text("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                  "WHERE x < 2000000) SELECT count(*) FROM c")


async def ticks_while(query: object) -> int:
    """How often a 2 ms timer fired on the event loop while ``query`` ran."""
    task = asyncio.ensure_future(query)  # type: ignore[call-overload]
    ticks = 0
    while not task.done():
        await asyncio.sleep(0.002)
        ticks += 1
    await task
    return ticks


async def test_a_long_read_runs_off_the_event_loop_and_writes_nothing(database: Database) -> None:
    async def slow(uow_factory: object) -> int:
        async with uow_factory() as uow:  # type: ignore[operator]
            return int((await uow.session.exec(SLOW_COUNT)).scalar_one())

    # On the loop's own thread the query holds the loop: the timer fires once, after it.
    assert await ticks_while(slow(database.unit_of_work)) <= 1
    # A long read leaves the loop free: the timer keeps firing while SQLite works.
    assert await ticks_while(slow(database.long_read)) >= 10

    async with database.long_read() as reading:
        assert (await reading.session.exec(text("SELECT count(*) FROM log"))).scalar_one() == 0
        with pytest.raises(OperationalError, match=r"readonly|read-only|query_only"):
            await reading.session.exec(text("INSERT INTO log VALUES (1, 'reader')"))
    assert await rows(database) == []
