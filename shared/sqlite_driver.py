"""SQLite for the asyncio engine, run on the event loop's own thread.

aiosqlite runs each SQLite call on a thread of its own and hands the result back to
the loop: several hand-offs per statement (cursor, execute, fetch, close), each costing
far more than the statement itself (a few microseconds in SQLite, with WAL and
``synchronous=NORMAL`` a commit writes to the WAL without waiting for the disk). This
driver calls the stdlib ``sqlite3`` directly instead, under SQLAlchemy's asyncio
engine, so the API (AsyncSession, AsyncEngine) is unchanged.

A call on the loop's thread must never wait for SQLite's write lock: the loop could
not run the coroutine that holds it. So writers are serialised in the process: before
a connection's first write of a transaction (any statement that is not a read) it
takes the database file's ``WriteLock``, awaiting it like any other coroutine, then
opens the transaction with ``BEGIN IMMEDIATE``; commit, rollback or close gives the
lock to the next writer, first come first served. Reads never wait in WAL mode. Only
another *process* writing the same file (e.g. a maintenance command) can make a call
wait for SQLite's own busy timeout, on the loop.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_, in_greenlet

DRIVER = "mash"
# How long a writer waits for the in-process write lock before "database is locked".
LOCK_TIMEOUT = 30.0
# Statements that never start a write transaction (everything else takes the lock).
_READS = ("SELECT", "PRAGMA", "EXPLAIN", "COMMIT", "ROLLBACK", "RELEASE", "END", "VACUUM")


class WriteLock:
    """One writer at a time per database file in this process, in arrival order."""

    def __init__(self) -> None:
        self._owner: weakref.ref[Connection] | None = None
        self._waiters: deque[tuple[asyncio.Future[None], weakref.ref[Connection]]] = deque()

    def _free(self) -> bool:
        return self._owner is None or self._owner() is None

    def acquire(self, owner: Connection, timeout: float) -> None:
        """Take the lock for ``owner`` (inside SQLAlchemy's greenlet: awaits if held)."""
        ref = weakref.ref(owner)
        if self._free():
            self._owner = None
            self._hand_over()
            if self._owner is None:
                self._owner = ref
                return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((future, ref))
        try:
            await_(asyncio.wait_for(future, timeout))
        except BaseException as exc:
            if self._owner is ref:  # handed over just as the wait ended
                self.release(owner)
            else:
                self._waiters = deque(w for w in self._waiters if w[0] is not future)
            if isinstance(exc, TimeoutError):
                raise sqlite3.OperationalError("database is locked") from None
            raise

    def release(self, owner: Connection) -> None:
        """Give the lock to the next waiter still waiting, if ``owner`` holds it."""
        holder = self._owner() if self._owner is not None else None
        if holder is not None and holder is not owner:
            return
        self._owner = None
        self._hand_over()

    def _hand_over(self) -> None:
        while self._waiters:
            future, ref = self._waiters.popleft()
            if not future.done() and ref() is not None:
                self._owner = ref
                future.set_result(None)
                return


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriteLock]] = (
    weakref.WeakKeyDictionary())


def write_lock(path: str) -> WriteLock:
    """The write lock of database file ``path`` on the running event loop."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    lock = per_loop.get(path)
    if lock is None:
        lock = per_loop[path] = WriteLock()
    return lock


async def _done() -> None:
    """Nothing to wait for (see ``Cursor.execute``)."""


def _is_write(operation: str) -> bool:
    return not operation.lstrip()[:8].upper().startswith(_READS)


class Cursor(sqlite3.Cursor):
    """A cursor whose first write of a transaction waits its turn for the write lock."""

    connection: Connection

    def execute(self, operation: str, parameters: Any = (), /) -> Cursor:
        if in_greenlet():
            # AsyncConnection.execute checks that the driver awaited something; a
            # coroutine that is done at once costs two greenlet switches, no loop turn.
            await_(_done())
        return self._run(super().execute, operation, parameters)

    def executemany(self, operation: str, seq_of_parameters: Any, /) -> Cursor:
        if in_greenlet():
            await_(_done())  # as in execute
        return self._run(super().executemany, operation, seq_of_parameters)

    def _run(self, method: Callable[[str, Any], Cursor], operation: str, params: Any) -> Cursor:
        if self.connection.begin_write(operation):
            try:
                return method(operation, params)
            finally:
                self.connection.autocommit_done()
        return method(operation, params)

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio results; rows are read on the loop, so there
        is nothing to buffer."""


class Connection(sqlite3.Connection):
    """A sqlite3 connection that serialises its write transactions with the process's
    other connections to the same file (see the module's docstring)."""

    def __init__(self, database: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self.path = os.path.realpath(database) if database != ":memory:" else f"mem:{id(self)}"
        self._lock: WriteLock | None = None

    def cursor(self, factory: Any = Cursor) -> Any:
        return super().cursor(factory)

    def begin_write(self, operation: str) -> bool:
        """Before a write: take the lock and BEGIN IMMEDIATE unless this transaction
        already has. True if the statement runs in autocommit mode (lock to release)."""
        if self._lock is not None or not _is_write(operation):
            return False
        if self.in_transaction:  # begun by a statement this driver does not see
            return False
        lock = write_lock(self.path)
        lock.acquire(self, LOCK_TIMEOUT)
        self._lock = lock
        if self.isolation_level is None:  # autocommit: hold the lock for this statement
            return True
        try:
            super().execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise
        return False

    def autocommit_done(self) -> None:
        """After a statement run in autocommit mode."""
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release(self)
            self._lock = None

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def __del__(self) -> None:
        self._release()


class _DBAPI:
    """The sqlite3 module, with ``connect`` making this driver's connections."""

    paramstyle = "qmark"

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)

    @staticmethod
    def connect(database: str, **kwargs: Any) -> Connection:
        kwargs.setdefault("cached_statements", 256)
        return sqlite3.connect(database, factory=Connection, **kwargs)


class SQLiteDialect_mash(SQLiteDialect_pysqlite):
    """The pysqlite dialect under the asyncio engine, without a thread hop per call."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> Any:
        return _DBAPI()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        # Every call runs on the loop's thread, but a pooled connection may be closed
        # from another (garbage collection at exit); SQLite itself is serialised.
        kwargs["check_same_thread"] = False
        return args, kwargs


dialect = SQLiteDialect_mash
registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteDialect_mash")
