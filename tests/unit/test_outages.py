"""Storage outages are answered 503 with Retry-After, and the connection stays open."""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import AsyncIterator
from urllib.parse import quote

import asyncpg.exceptions
import pytest
import sqlalchemy.exc
from fastapi import FastAPI

from shared.outages import RETRY_AFTER_SECONDS, is_infrastructure_failure, is_outage
from shared.problems import install_problem_handlers
from tests.helpers import KeepAliveClient, served


def wrapped(orig: BaseException, *, invalidated: bool = False) -> sqlalchemy.exc.DBAPIError:
    """``orig`` as SQLAlchemy raises it from a statement."""
    error = sqlalchemy.exc.DBAPIError.instance(
        "UPDATE t SET x = 1", {}, orig, Exception, connection_invalidated=invalidated)
    assert isinstance(error, sqlalchemy.exc.DBAPIError)
    return error


def with_cause(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


OUTAGES = {
    "sqlite database is locked": wrapped(sqlite3.OperationalError("database is locked")),
    "sqlite disk full": wrapped(sqlite3.OperationalError("database or disk is full")),
    "sqlite busy, by code": sqlite3.OperationalError("busy"),
    "disk full": OSError(errno.ENOSPC, "No space left on device"),
    "connection refused": ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
    "pool timeout": sqlalchemy.exc.TimeoutError("QueuePool limit of size 10 reached"),
    "connection invalidated": wrapped(Exception("gone"), invalidated=True),
    "postgresql starting up": asyncpg.exceptions.CannotConnectNowError("starting up"),
    "postgresql shutting down": wrapped(asyncpg.exceptions.AdminShutdownError("shutdown")),
    "lock timeout": wrapped(asyncpg.exceptions.LockNotAvailableError("lock timeout")),
    "too many connections": asyncpg.exceptions.TooManyConnectionsError("too many"),
    "postgresql disk full": wrapped(asyncpg.exceptions.DiskFullError("no space")),
    "connection lost mid-statement": with_cause(
        wrapped(Exception("adapter error")),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")),
    "asyncpg connection closed": asyncpg.exceptions.InterfaceError("connection is closed"),
    "database closed to connections": asyncpg.exceptions.ObjectNotInPrerequisiteStateError(
        'database "referral" is not currently accepting connections'),
}
OUTAGES["sqlite busy, by code"].sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]

NOT_OUTAGES = {
    "unique violation": wrapped(asyncpg.exceptions.UniqueViolationError("duplicate key")),
    "sqlite constraint": wrapped(sqlite3.IntegrityError("UNIQUE constraint failed: t.x")),
    "sqlite missing table": wrapped(sqlite3.OperationalError("no such table: t")),
    "file not found": FileNotFoundError(errno.ENOENT, "No such file"),
    "a bug": ValueError("bad"),
    "asyncpg misuse": asyncpg.exceptions.InterfaceError("another operation is in progress"),
    "another 55000": wrapped(asyncpg.exceptions.ObjectNotInPrerequisiteStateError(
        'currval of sequence "s" is not yet defined in this session')),
}


@pytest.mark.parametrize("error", OUTAGES.values(), ids=OUTAGES.keys())
def test_a_storage_outage_is_recognised(error: BaseException) -> None:
    assert is_outage(error)


@pytest.mark.parametrize("error", NOT_OUTAGES.values(), ids=NOT_OUTAGES.keys())
def test_an_error_of_the_request_or_the_code_is_not_an_outage(error: BaseException) -> None:
    assert not is_outage(error)


def test_an_error_raised_while_handling_an_outage_is_not_one_itself() -> None:
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "refused")
        except OSError:
            raise ValueError("a bug in the fallback") from None
    except ValueError as error:
        assert error.__context__ is not None
        assert not is_outage(error)


def failing_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/outage/{name}")
    async def outage(name: str) -> None:
        raise OUTAGES[name]

    @app.get("/broken/{name}")
    async def broken(name: str) -> None:
        raise NOT_OUTAGES[name]

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
async def connection() -> AsyncIterator[KeepAliveClient]:
    async with served(failing_app()) as port:
        client = await KeepAliveClient.open(port)
        yield client
        await client.close()


@pytest.mark.parametrize("name", ["sqlite database is locked", "disk full",
                                  "connection refused", "pool timeout",
                                  "postgresql starting up", "lock timeout"])
async def test_an_outage_answers_503_with_retry_after_and_keeps_the_connection(
    connection: KeepAliveClient, name: str,
) -> None:
    status, headers, body = await connection.request("GET", f"/outage/{quote(name)}")

    assert status == 503
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert headers.get("connection") != "close"
    problem = json.loads(body)
    assert problem["status"] == 503 and "Idempotency-Key" in problem["detail"]
    # The same connection answers the next request.
    assert (await connection.request("GET", "/ok"))[0] == 200


async def test_a_database_error_that_is_no_outage_stays_500_without_retry_after(
    connection: KeepAliveClient,
) -> None:
    status, headers, body = await connection.request(
        "GET", f"/broken/{quote('unique violation')}")

    assert status == 500
    assert "retry-after" not in headers
    assert json.loads(body)["status"] == 500
    assert "duplicate" not in body.decode()
    assert (await connection.request("GET", "/ok"))[0] == 200


@pytest.mark.parametrize("error", [
    sqlalchemy.exc.OperationalError("INSERT ...", {}, Exception("server closed the connection")),
    wrapped(sqlite3.OperationalError("database or disk is full")),
    OSError(errno.ENOSPC, "No space left on device"),
    ConnectionRefusedError("connection refused"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
], ids=["operational-error", "sqlite-disk-full", "enospc", "refused", "asyncpg-starting"])
def test_a_consumer_failing_for_its_storage_is_not_the_messages_fault(
    error: BaseException,
) -> None:
    assert is_infrastructure_failure(error)


@pytest.mark.parametrize("error", [
    ValueError("bad JSON"), KeyError("referral_id"), RuntimeError("a bug"),
    sqlalchemy.exc.IntegrityError("INSERT ...", {}, Exception("duplicate key")),
], ids=["value-error", "key-error", "bug", "integrity-error"])
def test_a_consumer_failing_for_a_reason_of_the_messages_own_is_not_an_outage(
    error: BaseException,
) -> None:
    assert not is_infrastructure_failure(error)
