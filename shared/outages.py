"""Which errors mean "a dependency is away for a moment", not "this request is wrong".

A database that refuses connections, a full disk or a lock wait that timed out says
nothing about the request: the same request a few seconds later may well succeed. Such
errors are answered 503 with ``Retry-After`` (see shared.problems), so that a partner's
system retries them (with the same Idempotency-Key) instead of giving up on a 500.
"""

from __future__ import annotations

import errno
import socket
import sqlite3
from collections.abc import Iterator

import asyncpg
import sqlalchemy.exc

# How long a client should wait before retrying: a failover, a restarted database or a
# lock released takes seconds, and clients retrying sooner only add to the load.
RETRY_AFTER_SECONDS = 3

# Errors raised where several kinds of error arrive: the handler decides by ``is_outage``.
CANDIDATES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.DBAPIError,
    sqlalchemy.exc.TimeoutError,
    OSError,
    sqlite3.Error,
    # asyncpg raises its own errors, unwrapped, while a pooled connection is being made.
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

_OS_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED,
    errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPIPE,
})
# PostgreSQL SQLSTATEs: connection exceptions (class 08), insufficient resources (53:
# disk full, out of memory, too many connections), the server shutting down or starting
# (57P01-57P03), a statement or lock timeout (57014, 55P03), a standby that cannot
# write (25006) and the two a transaction may simply be retried after (40001, 40P01).
_SQLSTATE_CLASSES = ("08", "53")
_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "57014", "55P03", "25006", "40001", "40P01"})
# A database closed to connections (ALTER DATABASE ... ALLOW_CONNECTIONS false, as during
# maintenance) answers 55000 "... is not currently accepting connections"; 55000 means
# other things too, so the message is checked.
_NOT_ACCEPTING = "55000"
_SQLITE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL,
                           sqlite3.SQLITE_IOERR})
_SQLITE_MESSAGES = ("database is locked", "database table is locked",
                    "database or disk is full", "disk i/o error")


def is_outage(exc: BaseException) -> bool:
    """True if ``exc`` (or an error it wraps) means storage is unavailable for a while."""
    return any(_is_outage_itself(link) for link in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps, and their causes, each once."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        link = pending.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        orig = getattr(link, "orig", None)
        # Not __context__: an error raised while handling an outage is not one itself.
        pending += [orig if isinstance(orig, BaseException) else None, link.__cause__]


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # no pooled connection came free
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OSError):
        return isinstance(exc, ConnectionError | TimeoutError | socket.gaierror) \
            or exc.errno in _OS_ERRNOS
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF in _SQLITE_CODES) \
            or str(exc).lower().startswith(_SQLITE_MESSAGES)
    sqlstate = getattr(exc, "sqlstate", None)  # asyncpg's errors, and SQLAlchemy's adapter
    if isinstance(sqlstate, str):
        return (sqlstate in _SQLSTATES or sqlstate.startswith(_SQLSTATE_CLASSES)
                or (sqlstate == _NOT_ACCEPTING and "accepting connections" in str(exc)))
    # asyncpg's "connection is closed": the connection was lost between statements.
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def is_infrastructure_failure(exc: BaseException) -> bool:
    """True if a consumer failed because a dependency is away, not because of the message:
    an outage, or any ``OperationalError`` (the DB-API's "not under the programmer's
    control": a lost connection, a full disk, a missing table before a migration).

    Such a failure is retried after a pause and never counts toward a message's delivery
    limit; only a message that fails for any other reason is dead-lettered."""
    return is_outage(exc) or any(
        isinstance(link, sqlalchemy.exc.OperationalError | sqlite3.OperationalError)
        for link in _chain(exc))
