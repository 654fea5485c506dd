"""Async database access: SQLite (WAL, on the loop's thread: see shared.sqlite_driver) or
PostgreSQL (asyncpg), chosen by URL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import JSON, DateTime, column, event, table, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import otel, sqlite_driver

CommitHook = Callable[[], None]


def new_id() -> str:
    """A random UUID as text: the primary key of most rows."""
    return str(uuid.uuid4())


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def compact_json(value: Any) -> str:
    """``value`` as JSON with no space after its separators."""
    return json.dumps(value, separators=(",", ":"))


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL and a busy timeout, PostgreSQL a pool.

    Any SQLite URL (``sqlite+aiosqlite://`` included) uses shared.sqlite_driver.
    """
    parsed = make_url(url)
    # JSON columns without the spaces json.dumps puts after separators, by default.
    kwargs.setdefault("json_serializer", compact_json)
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
        # Connections wait for the write lock in the process, not in the pool: room for
        # every concurrent request's unit of work and the background workers.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
        engine = create_async_engine(parsed, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        otel.instrument_engine(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    # asyncpg prepares every statement, and after five executions PostgreSQL may keep a
    # generic plan, made without the parameters' values: one made while the person index
    # was nearly empty scanned every blocking key for each new subject, and intake slowed
    # down with every referral (bench/intake.py mode (b): 167, 96, 65 req/s over three
    # rounds; 190 each with this). A custom plan costs a little planning per statement.
    # JIT off: once its tables had grown, the person index's batched candidate look-up
    # was estimated expensive enough to be compiled, 0.26 s each time for a statement that
    # runs in 0.15 s (`mash import`: 180 lines/s at 45,000 referrals and falling).
    kwargs.setdefault("connect_args", {"server_settings": {
        "plan_cache_mode": "force_custom_plan", "jit": "off"}})
    engine = create_async_engine(url, **kwargs)
    otel.instrument_engine(engine)
    return engine


def _read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _threaded_sqlite_engine(url: Any) -> AsyncEngine:
    """Read-only connections to the SQLite file at ``url``, each on a thread (aiosqlite)."""
    engine = create_async_engine(url.set(drivername="sqlite+aiosqlite"), pool_size=4,
                                 max_overflow=4)
    event.listen(engine.sync_engine, "connect", _read_only_pragmas)
    return engine


_ROWS = "$rows"  # a packed list's key names; its values are under "values"


def pack_json(value: Any) -> Any:
    """``value`` with each list of two or more dicts that have the same keys in the same
    order kept as the keys once and a list of each dict's values (see PackedJSON)."""
    if isinstance(value, dict):
        return {key: pack_json(item) for key, item in value.items()}
    if isinstance(value, list):
        keys = list(value[0]) if len(value) > 1 and isinstance(value[0], dict) else None
        if keys and all(isinstance(item, dict) and list(item) == keys for item in value):
            return {_ROWS: keys, "values": [[pack_json(item[key]) for key in keys]
                                            for item in value]}
        return [pack_json(item) for item in value]
    return value


def unpack_json(value: Any) -> Any:
    """What ``pack_json`` was given (JSON never packed reads back as it is)."""
    if isinstance(value, dict):
        if _ROWS in value and len(value) == 2 and "values" in value:
            keys = value[_ROWS]
            return [dict(zip(keys, (unpack_json(item) for item in row), strict=True))
                    for row in value["values"]]
        return {key: unpack_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unpack_json(item) for item in value]
    return value


class PackedJSON(TypeDecorator[Any]):
    """JSON whose lists of like dicts are stored with their keys once, not in every dict:
    a match's eight comparisons of six named values, say, written for every candidate
    link and review. Read back exactly as written; rows written as plain JSON before
    read back as they are."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return pack_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return unpack_json(value)


def dialect_insert(table: Any, *, sqlite: bool) -> Any:
    """An INSERT with the dialect's ``on_conflict_do_*`` (SQLite's or PostgreSQL's)."""
    return sqlite_insert(table) if sqlite else postgresql_insert(table)


class Database:
    """One service's database: the engine, its sessions, and hooks run after commits."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._commit_hooks: list[tuple[CommitHook, str | None]] = []
        self._reading: async_sessionmaker[AsyncSession] | None = None

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    def on_commit(self, hook: CommitHook, *, only: str | None = None) -> None:
        """Call ``hook`` after every unit of work that commits (e.g. to wake the relay);
        with ``only``, after those that noted writing it (``UnitOfWork.note``): a worker
        for rare rows is then not woken, to look for none, by every commit."""
        self._commit_hooks.append((hook, only))

    def committed(self, noted: Collection[str] = ()) -> None:
        """Tell the hooks a unit of work has committed (having noted ``noted``)."""
        for hook, only in self._commit_hooks:
            if only is None or only in noted:
                hook()

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work: one session, one transaction, committed explicitly."""
        return UnitOfWork(self)

    def long_read(self) -> UnitOfWork:
        """A unit of work for a long read (a year's report, an export), which writes
        nothing. On SQLite it runs on threads of its own (aiosqlite, read-only
        connections), not on the event loop's: the hub goes on answering meanwhile. On
        PostgreSQL the driver never blocks the loop, and it is an ordinary unit of work."""
        if self.file is None:  # PostgreSQL, or an in-memory database only its engine sees
            return UnitOfWork(self)
        if self._reading is None:
            self._reading = async_sessionmaker(_threaded_sqlite_engine(self.engine.url),
                                               class_=AsyncSession, expire_on_commit=False)
        return UnitOfWork(self, self._reading)

    @property
    def file(self) -> Path | None:
        """The SQLite database's file (None for PostgreSQL or an in-memory database)."""
        name = self.engine.url.database
        if not self.is_sqlite or not name or name == ":memory:":
            return None
        return Path(name)

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def probe_write(self, table_name: str, column_name: str) -> None:
        """Raise unless the database takes a write: every row of ``table_name`` is updated
        to its own value, and the transaction rolled back (nothing changes).

        A read answers from a database that is read-only (a standby after failover, a
        file mounted read-only) or refuses new transactions; this needs a write lock and,
        on PostgreSQL, a transaction id.
        """
        probed = table(table_name, column(column_name))
        async with self.engine.connect() as conn:
            transaction = await conn.begin()
            try:
                await conn.execute(update(probed).values(
                    {column_name: probed.c[column_name]}))
            finally:
                await transaction.rollback()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._reading is not None:
            await self._reading.kw["bind"].dispose()
            self._reading = None


class UnitOfWork:
    """A session whose changes are kept only if ``commit()`` is called; else rolled back."""

    def __init__(self, database: Database,
                 sessions: async_sessionmaker[AsyncSession] | None = None) -> None:
        self.database = database
        self.session: AsyncSession = (sessions or database.sessions)()
        self.noted: set[str] = set()

    def note(self, written: str) -> None:
        """Say this unit of work writes ``written`` (rows a worker waits for, woken by the
        commit: see ``Database.on_commit``)."""
        self.noted.add(written)

    async def commit(self) -> None:
        """Commit the transaction, then run the database's after-commit hooks."""
        await self.session.commit()
        self.database.committed(self.noted)

    async def rollback(self) -> None:
        """Throw away everything done in this unit of work."""
        await self.session.rollback()

    def insert(self, table: Any) -> Any:
        """An INSERT with this database's ``on_conflict_do_*`` (PostgreSQL or SQLite)."""
        return dialect_insert(table, sqlite=self.database.is_sqlite)

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing rolls back whatever was not committed; unlike rollback() it leaves
        # loaded objects readable (detached, not expired).
        await self.session.close()


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
