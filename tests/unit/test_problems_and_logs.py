"""Errors are problem+json and logs never carry personal data."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from shared.logs import JsonFormatter
from shared.middleware import RequestContextMiddleware
from shared.problems import Problem, install_problem_handlers

CHILD_NAME = "Amelia Jones-Smith"


class Body(BaseModel):
    age: int


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError(f"row for {CHILD_NAME} refused")

    @app.get("/gone")
    async def gone() -> None:
        raise HTTPException(410, "That record was withdrawn.")

    @app.get("/conflict")
    async def conflict() -> None:
        raise Problem(409, "The referral has changed since you read it.",
                      type_="https://mash.example/problems/stale")

    @app.post("/typed")
    async def typed(body: Body) -> Body:
        return body

    @app.get("/search")
    async def search(q: str) -> dict[str, int]:
        return {"results": 0}

    app.add_middleware(RequestContextMiddleware, service="test", registry=CollectorRegistry())
    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def test_unhandled_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/boom", headers={"x-request-id": "req-00000001"})
    body = assert_problem(response, 500)
    assert CHILD_NAME not in response.text and "Traceback" not in response.text
    assert body["request_id"] == "req-00000001"
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert any('"error_type": "RuntimeError"' in line for line in formatted)
    assert not any(CHILD_NAME in line for line in formatted)


async def test_http_errors_validation_and_domain_problems_share_one_format(
    client: httpx.AsyncClient,
) -> None:
    assert assert_problem(await client.get("/gone"), 410)["detail"] == "That record was withdrawn."
    assert assert_problem(await client.get("/conflict"), 409)["type"] == (
        "https://mash.example/problems/stale")
    assert_problem(await client.get("/nowhere"), 404)
    assert_problem(await client.delete("/gone"), 405)
    invalid = assert_problem(await client.post("/typed", json={"age": CHILD_NAME}), 422)
    assert invalid["errors"] == [{"loc": ["body", "age"], "msg": invalid["errors"][0]["msg"]}]  # type: ignore[index]
    assert CHILD_NAME not in json.dumps(invalid), "validation errors do not echo the input"


async def test_access_log_names_the_route_but_never_the_query_string(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mash.access")
    await client.get("/search", params={"q": CHILD_NAME})
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "mash.access"]
    assert lines, "one access line per request"
    entry = json.loads(lines[-1])
    assert entry["route"] == "/search" and entry["status"] == 200
    assert "Amelia" not in lines[-1]


def test_formatter_drops_extra_fields_that_are_not_on_the_allow_list() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "referral stored", None, None)
    record.referral_id = "r-1"
    record.given_name = "Amelia"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["referral_id"] == "r-1"
    assert "given_name" not in entry
