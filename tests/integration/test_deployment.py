"""Deployment mode, as deploy/README.md describes it: each service a process of its own with
its own PostgreSQL database, `mash relay`, RabbitMQ between them, nginx in front.

Everything is started once for the module (it takes a few seconds) and torn down at the
end, also when a test or the start-up fails. The rate-limit test runs last: it spends a
client address's allowance.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash.topology import PUBLIC_ROUTES, SERVICES
from mash.web import WEB_HEADERS
from shared.auth import CSRF_HEADER, SESSION_COOKIE
from shared.broker.rabbitmq import RabbitMQBroker
from shared.problems import problem_response
from tests.auth import client_token, current_otp, demo_user, load_credentials
from tests.bodies import referral_body
from tests.deployment import (
    EVENT_TIMEOUT,
    MASH,
    RATE_BURST,
    Deployment,
    delete_broker_objects,
    deployed,
    fetch,
    service_environment,
    start,
)
from tests.helpers import eventually

BURST_SIZE = 300

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.nginx]

@pytest.fixture(scope="module")
def deployment(
    postgres_database_factory: Callable[[], AbstractContextManager[str]],
    rabbitmq_server: str,
    nginx_binary: str,
) -> Iterator[Deployment]:
    with deployed(postgres_database_factory, rabbitmq_server, nginx_binary) as running:
        yield running


@pytest.fixture
async def client(deployment: Deployment) -> AsyncIterator[httpx.AsyncClient]:
    """A partner system's client of the gateway, signed in with its own access token."""
    async with httpx.AsyncClient(base_url=deployment.gateway, timeout=10) as client:
        token = await client_token(client, load_credentials(deployment.data_dir),
                                   deployment.data_dir)
        client.headers["authorization"] = f"Bearer {token}"
        yield client


def new_traceparent() -> tuple[str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, f"00-{trace_id}-{span_id}-01"


def trace_id_of(traceparent: str | None) -> str:
    assert traceparent, "no traceparent"
    return traceparent.split("-")[1]


async def test_referral_submitted_through_the_gateway_is_stored_published_and_reaches_notify(
    deployment: Deployment, client: httpx.AsyncClient
) -> None:
    trace_id, traceparent = new_traceparent()

    response = await client.post("/api/v1/referrals", json=referral_body(),
                                 headers={"traceparent": traceparent})

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert {"id", "reference", "status", "received_at", "links"} <= set(receipt)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert len(response.headers.get_list("x-request-id")) == 1
    assert trace_id_of(response.headers.get("traceparent")) == trace_id

    referral_db = deployment.databases["referral"]
    stored = await fetch(referral_db, "SELECT reference, status FROM referrals WHERE id = $1",
                         receipt["id"])
    assert stored == [{"reference": receipt["reference"], "status": "received"}]

    async def published() -> dict[str, Any]:
        rows = await fetch(referral_db,
                           "SELECT event_id, payload, sent_at FROM outbox_messages "
                           "WHERE event_type = 'mash.referral.received' "
                           "AND payload::jsonb -> 'data' ->> 'referral_id' = $1", receipt["id"])
        return rows[0] if rows and rows[0]["sent_at"] else {}

    try:
        outbox = await eventually(published, within=EVENT_TIMEOUT, interval=0.1)
    except AssertionError as exc:
        raise AssertionError(f"not published: {exc}\n{deployment.outputs()}") from None
    # One trace from the partner's request to the event on the broker.
    assert trace_id_of(json.loads(outbox["payload"]).get("traceparent")) == trace_id

    async def delivered() -> list[dict[str, Any]]:
        return await fetch(deployment.databases["notify"],
                           "SELECT event_id, event_type FROM deliveries WHERE referral_id = $1",
                           receipt["id"])

    try:
        deliveries = await eventually(delivered, within=EVENT_TIMEOUT, interval=0.1)
    except AssertionError as exc:
        raise AssertionError(f"not delivered: {exc}\n{deployment.outputs()}") from None
    assert deliveries == [{"event_id": outbox["event_id"],
                           "event_type": "mash.referral.received"}]


def test_events_published_before_any_service_starts_wait_in_the_queues_migrate_declared(
    postgres_database_factory: Callable[[], AbstractContextManager[str]],
    rabbitmq_server: str, tmp_path: Path,
) -> None:
    exchange = f"t{uuid.uuid4().hex[:10]}.events"
    with ExitStack() as cleanup:
        cleanup.callback(delete_broker_objects, rabbitmq_server, exchange)
        databases = {name: cleanup.enter_context(postgres_database_factory())
                     for name in SERVICES}
        env = service_environment(rabbitmq_server, exchange, databases,
                                  "http://127.0.0.1:9", tmp_path / "data")
        for argv in (["migrate"], ["demo", "--data-dir", str(tmp_path / "data")]):
            done = subprocess.run([MASH, *argv], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-4000:]
        relay = start("relay", [MASH, "relay", "identity"], tmp_path, env)
        cleanup.callback(relay.stop)
        unsent = "SELECT count(*) AS n FROM outbox_messages WHERE sent_at IS NULL"
        deadline = time.monotonic() + EVENT_TIMEOUT
        while asyncio.run(fetch(databases["identity"], unsent))[0]["n"]:
            assert time.monotonic() < deadline, relay.output()
            time.sleep(0.2)
        relay.stop()  # nothing has consumed anything yet

        naming = RabbitMQBroker(rabbitmq_server, exchange=exchange)
        for queue in ("notify.agency-directory", "referral.agency-directory"):
            depth = asyncio.run(queue_depth(rabbitmq_server, naming.queue_name(queue)))
            assert depth == 4, queue  # the four demo agencies


async def queue_depth(rabbitmq_url: str, queue: str) -> int:
    import aio_pika

    connection = await aio_pika.connect(rabbitmq_url, timeout=5)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return int(declared.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def test_agencies_registered_before_the_services_start_reach_their_directories(
    deployment: Deployment,
) -> None:
    # Identity's agency events (from `mash demo`) reach both directories through RabbitMQ.
    school = next(a for a in load_credentials(deployment.data_dir)["agencies"]
                  if a["kind"] == "school")

    for service in ("notify", "referral"):
        async def known(service: str = service) -> list[dict[str, Any]]:
            return await fetch(deployment.databases[service],
                               "SELECT school_urn, safeguarding_lead_email FROM "
                               "agency_directory WHERE agency_id = $1", school["id"])

        try:
            rows = await eventually(known, within=EVENT_TIMEOUT, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f"{service}: {exc}\n{deployment.outputs()}") from None
        assert rows == [{"school_urn": "999001",
                         "safeguarding_lead_email": "dsl@riverside-academy.example"}]


async def test_the_callers_request_id_and_trace_are_kept_end_to_end(
    client: httpx.AsyncClient,
) -> None:
    trace_id, traceparent = new_traceparent()

    response = await client.post("/api/v1/referrals", json={},
                                 headers={"X-Request-ID": "partner-req-000123",
                                          "traceparent": traceparent})

    assert response.status_code == 422
    assert response.headers.get_list("x-request-id") == ["partner-req-000123"]
    assert response.json()["request_id"] == "partner-req-000123"  # what the service saw
    assert trace_id_of(response.headers.get("traceparent")) == trace_id
    assert response.headers["traceparent"] != traceparent  # the service's own span


async def test_the_gateway_gives_a_request_id_to_requests_without_a_usable_one(
    client: httpx.AsyncClient,
) -> None:
    for headers in ({}, {"X-Request-ID": "not an id; has spaces"}):
        response = await client.post("/api/v1/referrals", json={}, headers=headers)

        assert response.status_code == 422
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert response.json()["request_id"] == request_id


async def test_a_body_over_one_mebibyte_is_refused_by_the_gateway_as_a_problem(
    deployment: Deployment, client: httpx.AsyncClient
) -> None:
    body = b'{"source":"6","summary":"' + b"x" * 1_048_576 + b'"}'

    response = await client.post("/api/v1/referrals", content=body,
                                 headers={"Content-Type": "application/json"})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    # The same problem the services' own body limit gives.
    services_problem = json.loads(bytes(problem_response(413, "").body))
    assert {k: problem[k] for k in ("type", "title", "status")} == \
        {k: services_problem[k] for k in ("type", "title", "status")}
    assert problem["detail"]
    request_id = response.headers["x-request-id"]
    assert problem["request_id"] == request_id
    assert (await deployment.log_entry(request_id))["upstream"] == ""  # no service saw it


async def test_unknown_paths_and_the_services_operational_endpoints_are_not_public(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/no/such/page", "/api/v1/referralsX", "/metrics", "/readyz",
                 "/api/v1/unknown"):
        response = await client.get(path)

        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json", path
        assert response.json()["status"] == 404

    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    web = await client.get("/")
    assert web.status_code == 200
    assert web.headers["content-type"].startswith("text/html")
    for name, value in WEB_HEADERS.items():
        assert web.headers[name] == value, name
    assert web.headers["x-request-id"]


async def test_every_public_route_reaches_the_service_that_owns_it(
    deployment: Deployment, client: httpx.AsyncClient
) -> None:
    for prefix, service in PUBLIC_ROUTES.items():
        base = prefix.rstrip("/")
        for path in {prefix, f"{base}/route-check"}:
            request_id = f"route-check-{uuid.uuid4().hex}"

            await client.get(path, headers={"X-Request-ID": request_id})

            entry = await deployment.log_entry(request_id)
            assert entry["upstream"] == f"127.0.0.1:{deployment.ports[service]}", \
                f"{path} went to {entry['upstream'] or 'no service'}, not {service}"


async def test_access_log_is_json_and_leaves_out_query_strings(
    deployment: Deployment, client: httpx.AsyncClient
) -> None:
    request_id = f"log-check-{uuid.uuid4().hex}"

    await client.get("/api/v1/referrals", params={"q": "Amy Jones", "dob": "2011-04-02"},
                     headers={"X-Request-ID": request_id})

    entry = await deployment.log_entry(request_id)
    assert entry["path"] == "/api/v1/referrals"
    assert entry["method"] == "GET"
    log_text = deployment.access_log.read_text()
    for secret in ("Amy", "Jones", "2011-04-02", "q="):
        assert secret not in log_text


async def test_a_production_service_refuses_to_start_with_the_default_secret(
    deployment: Deployment,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASH_")}
    env.update({"MASH_ENVIRONMENT": "production",
                "MASH_REFERRAL_DATABASE_URL": deployment.databases["referral"]})

    migrate = await asyncio.create_subprocess_exec(
        MASH, "migrate", "referral", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(migrate.communicate(), timeout=60)

    assert migrate.returncode != 0
    assert b"MASH_SECRET_KEY" in stderr


async def test_staff_session_works_across_services_and_sign_out_reaches_them_all(
    deployment: Deployment,
) -> None:
    officer = demo_user(load_credentials(deployment.data_dir), "police.officer")
    async with httpx.AsyncClient(base_url=deployment.gateway, timeout=10) as browser:
        signed_in = await browser.post("/api/v1/sessions", json={
            "username": officer["username"], "password": officer["password"],
            "otp": current_otp(officer["totp_secret"])})
        assert signed_in.status_code == 200, signed_in.text
        # The referral process verifies the identity process's session token itself.
        referral = await browser.post("/api/v1/referrals", json=referral_body(),
                                      headers={CSRF_HEADER: "1"})
        assert referral.status_code == 201, referral.text
        cookie = browser.cookies[SESSION_COOKIE]
        signed_out = await browser.delete("/api/v1/sessions/current",
                                          headers={CSRF_HEADER: "1"})
        assert signed_out.status_code == 204
        browser.cookies.set(SESSION_COOKIE, cookie)

        async def referral_refuses_the_ended_session() -> bool:
            response = await browser.post("/api/v1/referrals", json=referral_body(),
                                          headers={CSRF_HEADER: "1"})
            return response.status_code == 401

        assert await eventually(referral_refuses_the_ended_session, within=EVENT_TIMEOUT)
        assert (await browser.get("/api/v1/me")).status_code == 401


async def test_a_referral_is_triaged_and_decided_and_the_referrer_sees_the_outcome(
    deployment: Deployment, client: httpx.AsyncClient,
) -> None:
    referral_id = (await client.post("/api/v1/referrals", json=referral_body())).json()["id"]
    practitioner = demo_user(load_credentials(deployment.data_dir), "mash.manager")
    async with httpx.AsyncClient(base_url=deployment.gateway, timeout=10) as browser:
        signed_in = await browser.post("/api/v1/sessions", json={
            "username": practitioner["username"], "password": practitioner["password"],
            "otp": current_otp(practitioner["totp_secret"])})
        assert signed_in.status_code == 200, signed_in.text
        csrf = {CSRF_HEADER: "1"}
        for path, body in (("triage", {"rag": "green", "rationale": "low risk"}),
                           ("decision", {"outcome": "advice_signposting", "rationale": "ok"})):
            tag = (await browser.get(f"/api/v1/referrals/{referral_id}")).headers["etag"]
            changed = await browser.post(f"/api/v1/referrals/{referral_id}/{path}", json=body,
                                         headers={**csrf, "If-Match": tag})
            assert changed.status_code == 200, changed.text
        full = (await browser.get(f"/api/v1/referrals/{referral_id}")).json()
        assert [t["what"] for t in full["timeline"]] == ["received", "triaged", "decided"]
    seen_by_referrer = (await client.get(f"/api/v1/referrals/{referral_id}")).json()
    assert seen_by_referrer["outcome"] == "advice_signposting"
    assert seen_by_referrer["view"] == "limited"


async def burst(gateway: str, source_address: str, count: int) -> list[httpx.Response]:
    """``count`` requests back to back (one connection) from one client address."""
    transport = httpx.AsyncHTTPTransport(local_address=source_address)
    async with httpx.AsyncClient(base_url=gateway, transport=transport, timeout=10) as client:
        return [await client.get("/api/v1/referrals") for _ in range(count)]


async def test_a_burst_from_one_address_gets_429_problems_while_other_addresses_are_served(
    deployment: Deployment,
) -> None:
    # Any 127.x.y.z reaches the loopback listener: each is a client address of its own.
    responses = await burst(deployment.gateway, "127.0.0.2", BURST_SIZE)

    limited = [r for r in responses if r.status_code == 429]
    served = [r for r in responses if r.status_code != 429]
    assert limited, f"none of {BURST_SIZE} requests was limited"
    assert len(served) >= RATE_BURST  # the allowance itself is served
    assert {r.status_code for r in served} == {401}  # the referral service: sign in first
    problem = limited[0].json()
    assert limited[0].headers["content-type"] == "application/problem+json"
    assert problem["status"] == 429
    assert problem["type"] == json.loads(bytes(problem_response(429, "").body))["type"]
    assert limited[0].headers["retry-after"]

    other = await burst(deployment.gateway, "127.0.0.3", 1)
    assert other[0].status_code == 401
