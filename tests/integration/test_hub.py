"""The embedded hub (`mash up`): every service in one process behind the in-process gateway."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm
from sqlmodel import select

from mash.demo import create_demo_data, jwk_thumbprint, start_demo_secrets
from mash.gateway import Hub
from services.identity.models import ApiClient, User
from services.identity.passwords import password_hasher
from services.referral.referrals.models import Referral
from shared.events import CloudEvent
from shared.outbox import OutboxMessage
from tests.bodies import referral_body
from tests.helpers import eventually
from tests.integration.hub import BASE, RunningHub, hub_settings, start_hub


@pytest.fixture
async def running_hub(demo_data_dir: Path) -> AsyncIterator[RunningHub]:
    hub, client, running = await start_hub(hub_settings(demo_data_dir), demo=True)
    try:
        yield RunningHub(hub, client)
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_referral_is_stored_with_its_event_and_notify_records_a_delivery(
    running_hub: RunningHub,
) -> None:
    response = await running_hub.client.post(
        "/api/v1/referrals", json=referral_body()
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "received"
    assert receipt["reference"].startswith("MASH-")
    assert response.headers["location"] == f"/api/v1/referrals/{receipt['id']}"
    assert receipt["links"]["self"] == response.headers["location"]

    assert await running_hub.count("referral", Referral, Referral.id == receipt["id"]) == 1
    deliveries = await eventually(lambda: running_hub.deliveries_for(receipt["id"]))
    assert [d.event_type for d in deliveries] == ["mash.referral.received"]

    async def sent_outbox_row() -> OutboxMessage | None:
        # The consumer commits inside the in-process publish; the relay marks the row
        # sent just after, once the publish has returned (its "confirm").
        async with running_hub.hub.services["referral"].database.unit_of_work() as uow:
            row = (await uow.session.exec(select(OutboxMessage))).one()
        return row if row.sent_at is not None else None

    outbox = await eventually(sent_outbox_row)
    assert deliveries[0].event_id == outbox.event_id


async def test_references_count_up_within_the_year(running_hub: RunningHub) -> None:
    post = running_hub.client.post
    first = (await post("/api/v1/referrals", json=referral_body())).json()
    second = (await post("/api/v1/referrals", json=referral_body())).json()
    year = first["received_at"][:4]
    assert first["reference"] == f"MASH-{year}-000001"
    assert second["reference"] == f"MASH-{year}-000002"


async def test_event_is_thin_and_carries_the_callers_trace(running_hub: RunningHub) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    response = await running_hub.client.post(
        "/api/v1/referrals",
        json=referral_body(summary="Child known as Amelia; synthetic narrative"),
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
                 "x-request-id": "partner-request-0001"},
    )
    assert response.headers["x-request-id"] == "partner-request-0001"
    assert response.headers["traceparent"].split("-")[1] == trace_id
    async with running_hub.hub.services["referral"].database.unit_of_work() as uow:
        outbox = (await uow.session.exec(select(OutboxMessage))).one()
    event = CloudEvent.from_json(outbox.payload)
    assert event.specversion == "1.0"
    assert event.type == "mash.referral.received"
    assert event.source == "/services/referral"
    assert event.traceparent is not None and event.traceparent.split("-")[1] == trace_id
    assert "Amelia" not in outbox.payload, "events carry identifiers, never the narrative"


async def test_invalid_referral_gets_problem_json_naming_the_field_and_stores_nothing(
    running_hub: RunningHub,
) -> None:
    response = await running_hub.client.post(
        "/api/v1/referrals", json=referral_body(source="99", kind="gossip")
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert {"type", "title", "detail"} <= problem.keys()
    fields = {tuple(error["loc"]) for error in problem["errors"]}
    assert ("body", "source") in fields
    assert ("body", "kind") in fields
    assert await running_hub.count("referral", Referral) == 0
    assert await running_hub.count("referral", OutboxMessage) == 0


async def test_malformed_json_gets_problem_json(running_hub: RunningHub) -> None:
    response = await running_hub.client.post(
        "/api/v1/referrals", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"]


async def test_oversized_body_is_refused_with_413_before_anything_is_stored(
    running_hub: RunningHub,
) -> None:
    huge = referral_body(summary="x" * (1_048_576 + 10))
    response = await running_hub.client.post("/api/v1/referrals", json=huge)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await running_hub.count("referral", Referral) == 0


async def test_unknown_paths_get_problem_json_404(running_hub: RunningHub) -> None:
    for path in ("/api/v1/referrals/nope/elsewhere", "/no-such-page"):
        response = await running_hub.client.get(path)
        assert response.status_code in (404, 405), path
        assert response.headers["content-type"].startswith("application/problem+json"), path


async def test_gateway_serves_web_client_health_and_merged_openapi(
    running_hub: RunningHub,
) -> None:
    client = running_hub.client
    page = await client.get("/")
    assert page.status_code == 200 and "MASH referral hub" in page.text
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "identity.database": "ok", "referral.database": "ok", "notify.database": "ok",
        "disk": "ok", "broker": "ok"}
    openapi = (await client.get("/openapi.json")).json()
    assert "/api/v1/referrals" in openapi["paths"]
    assert "/healthz" not in openapi["paths"], "only public paths are merged"
    assert "partnerSystem" in openapi["components"]["securitySchemes"]
    assert "Idempotency-Key" in openapi["info"]["description"]
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    await client.post("/api/v1/referrals", json=referral_body())
    metrics = (await client.get("/metrics")).text
    assert 'mash_http_requests_total{method="POST",route="/api/v1/referrals",' \
           'service="referral",status="201"} 1.0' in metrics


async def test_api_docs_load_nothing_from_another_origin_so_the_hub_works_offline(
    running_hub: RunningHub,
) -> None:
    client = running_hub.client
    page = (await client.get("/docs")).text
    loaded = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', page)
    assert loaded and all(url.startswith("/") and not url.startswith("//") for url in loaded)
    for url in loaded:
        asset = await client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    assert "SwaggerUIBundle" in page


async def test_api_answers_with_personal_data_are_not_cached_or_sniffed(
    running_hub: RunningHub,
) -> None:
    created = await running_hub.client.post("/api/v1/referrals", json=referral_body())
    read = await running_hub.client.get(f"/api/v1/referrals/{created.json()['id']}")
    for response in (created, read):
        assert response.headers.get_list("cache-control") == ["no-store"]
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
        assert "strict-transport-security" not in response.headers, "the test hub is http"


async def test_every_service_app_has_health_readiness_and_metrics(
    running_hub: RunningHub,
) -> None:
    for name, service in running_hub.hub.services.items():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app),
                                     base_url=BASE) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": name}
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "disk": "ok", "broker": "ok"}
            metrics = await client.get("/metrics")
            assert metrics.headers["content-type"].startswith("text/plain")
            assert "mash_outbox_published_total" in metrics.text


async def test_readiness_fails_with_problem_json_when_the_broker_is_down(
    running_hub: RunningHub,
) -> None:
    await running_hub.hub.broker.close()
    response = await running_hub.client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["checks"]["broker"].startswith("unavailable")
    await running_hub.hub.broker.connect()


async def test_restart_publishes_what_was_left_unsent_and_loses_nothing(data_dir: Path) -> None:
    settings = hub_settings(data_dir)
    hub, client, running = await start_hub(settings, demo=True)
    try:
        assert hub.demo_created
        await hub.services["referral"].relay.stop()  # as if the process died before relaying
        receipt = (await client.post("/api/v1/referrals", json=referral_body())).json()
        credentials = hub.demo_credentials.read_text()
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]

    hub, client, running = await start_hub(settings, demo=True)
    try:
        assert not hub.demo_created, "demo data is made only for an empty database"
        again = RunningHub(hub, client)
        assert await again.count("referral", Referral, Referral.id == receipt["id"]) == 1
        deliveries = await eventually(lambda: again.deliveries_for(receipt["id"]))
        assert len(deliveries) == 1
        second = (await client.post("/api/v1/referrals", json=referral_body())).json()
        assert second["reference"].endswith("000002")
        assert hub.demo_credentials.read_text() == credentials
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_demo_data_is_created_once_with_working_credentials(data_dir: Path) -> None:
    hub = Hub(hub_settings(data_dir), demo=True)
    async with hub.running():
        identity = hub.services["identity"]
        assert hub.demo_created
        path = hub.demo_credentials
        assert path == data_dir / "demo" / "credentials.json"
        async with identity.database.unit_of_work() as uow:
            assert await create_demo_data(uow, data_dir, hub.settings) is None
            users = {u.username: u for u in (await uow.session.exec(select(User))).all()}
            clients = {c.id: c for c in (await uow.session.exec(select(ApiClient))).all()}

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    credentials = json.loads(path.read_text())
    assert credentials["base_url"] == BASE
    roles = {u["username"]: u["roles"] for u in credentials["users"]}
    assert sorted(r for rs in roles.values() for r in rs) == sorted([
        "admin", "mash_manager", "mash_practitioner", "partner_practitioner",
        "partner_practitioner", "auditor", "board_member"])
    agencies = {a["id"]: a["kind"] for a in credentials["agencies"]}
    assert sorted(agencies.values()) == ["health", "local_authority", "police", "school"]
    for user in credentials["users"]:
        stored = users[user["username"]]
        assert password_hasher.verify(user["password"], stored.password_hash)
        assert stored.password_hash != user["password"]
        assert stored.agency_id == user["agency_id"] and user["agency_id"] in agencies
        assert len(user["totp_secret"]) == 32
    assert len(credentials["clients"]) == 2
    for client in credentials["clients"]:
        key_path = data_dir / "demo" / client["private_key_file"]
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        public_jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))  # type: ignore[arg-type]
        assert jwk_thumbprint(public_jwk) == client["kid"]
        registered = json.loads(clients[client["client_id"]].jwks or "{}")["keys"][0]
        assert registered["kid"] == client["kid"] and registered["n"] == public_jwk["n"]
        assert password_hasher.verify(client["client_secret"],
                                      clients[client["client_id"]].secret_hash or "")
        assert client["roles"] == ["partner_system"]


async def test_a_first_start_makes_its_demo_logins_from_the_secrets_begun_before_it(
    data_dir: Path,
) -> None:
    """`mash up` begins hashing the demo's secrets before it imports the services; the
    logins written are made of exactly those, and they work."""
    begun = start_demo_secrets()
    hub = Hub(hub_settings(data_dir), demo=True, demo_secrets=begun)
    async with hub.running():
        assert hub.demo_created
        async with hub.services["identity"].database.unit_of_work() as uow:
            users = {u.username: u for u in (await uow.session.exec(select(User))).all()}
            clients = {c.id: c for c in (await uow.session.exec(select(ApiClient))).all()}
    made = begun.result()
    credentials = json.loads(hub.demo_credentials.read_text())
    assert [u["password"] for u in credentials["users"]] == made.passwords
    assert [c["client_secret"] for c in credentials["clients"]] == made.client_secrets
    assert [c["kid"] for c in credentials["clients"]] == [k.kid for k in made.signing_keys]
    for user, stored_hash in zip(credentials["users"], made.password_hashes, strict=True):
        assert users[user["username"]].password_hash == stored_hash
        assert password_hasher.verify(user["password"], stored_hash)
    for client in credentials["clients"]:
        assert password_hasher.verify(client["client_secret"],
                                      clients[client["client_id"]].secret_hash or "")
    assert len(set(made.passwords)) == len(made.passwords), "each login its own password"
