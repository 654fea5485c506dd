"""The request's unit of work commits where the request ends: when the handler returns,
before the response is sent; when it raises, nothing it wrote is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from shared.db import Database
from shared.problems import Problem, install_problem_handlers
from shared.service import UnitOfWorkDep


class Recorder:
    """An ASGI wrapper that notes when the response starts, beside the commits."""

    def __init__(self, app: FastAPI, events: list[str]) -> None:
        self.app, self.events = app, events

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def noting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.events.append(f"response {message['status']}")
            await send(message)

        await self.app(scope, receive, noting_send)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    yield database
    await database.dispose()


def app_writing_notes(database: Database) -> FastAPI:
    app = FastAPI()
    app.state.service = SimpleNamespace(database=database)
    install_problem_handlers(app)

    @app.post("/notes", status_code=201)
    async def write(uow: UnitOfWorkDep, refuse: bool = False) -> dict[str, str]:
        connection = await uow.session.connection()
        await connection.execute(text("INSERT INTO notes (body) VALUES ('kept?')"))
        if refuse:
            raise Problem(409, "Refused after writing.")
        return {"status": "written"}

    return app


async def notes(database: Database) -> int:
    async with database.engine.connect() as connection:
        return (await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one()


def client_of(app: Any) -> httpx.AsyncClient:
    # An error the app answers with a 500 is re-raised by Starlette for the server's log;
    # the client here sees what a real one would.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://hub")


async def test_a_change_is_committed_before_the_response_is_sent(database: Database) -> None:
    events: list[str] = []
    database.on_commit(lambda: events.append("commit"))
    async with client_of(Recorder(app_writing_notes(database), events)) as client:
        answer = await client.post("/notes")
    assert answer.status_code == 201
    assert events == ["commit", "response 201"]
    assert await notes(database) == 1


async def test_a_refused_request_keeps_nothing_it_wrote(database: Database) -> None:
    events: list[str] = []
    database.on_commit(lambda: events.append("commit"))
    async with client_of(Recorder(app_writing_notes(database), events)) as client:
        answer = await client.post("/notes", params={"refuse": "true"})
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert events == ["response 409"]
    assert await notes(database) == 0


async def test_a_commit_that_fails_is_never_answered_with_a_2xx(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing_commit(self: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("shared.db.UnitOfWork.commit", failing_commit)
    events: list[str] = []
    app = app_writing_notes(database)
    async with client_of(Recorder(app, events)) as client:
        answer = await client.post("/notes")
    assert answer.status_code >= 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert events == [f"response {answer.status_code}"]
    assert await notes(database) == 0


async def test_a_hook_for_rare_rows_is_woken_only_by_commits_that_noted_them(
    database: Database,
) -> None:
    woken: list[str] = []
    database.on_commit(lambda: woken.append("every commit"))
    database.on_commit(lambda: woken.append("peer notices"), only="peer_notices")
    for noted in ((), ("peer_notices",), ("something else",)):
        async with database.unit_of_work() as uow:
            for written in noted:
                uow.note(written)
            await uow.session.exec(text("INSERT INTO notes VALUES ('a note')"))
            await uow.commit()
    assert woken == ["every commit", "every commit", "peer notices", "every commit"]
    async with database.unit_of_work() as uow:
        uow.note("peer_notices")  # noted, but rolled back: nothing to send, no wake-up
    assert len(woken) == 4
