"""Notify's API through the embedded hub: subscriptions, the delivery log, replay, and a
referral's acknowledgement reaching a partner's webhook end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from services.notify.models import Delivery
from tests.bodies import referral_body
from tests.helpers import eventually
from tests.integration.hub import hub_settings, start_hub
from tests.integration.notify_hub import RECEIVED, NotifyHub
from tests.webhooks import Receiver, Reply


@pytest.fixture
async def notify_hub(demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch
                     ) -> AsyncIterator[NotifyHub]:
    monkeypatch.setenv("MASH_NOTIFY_POLL_SECONDS", "0.05")
    settings = hub_settings(demo_data_dir)
    hub, client, running = await start_hub(settings, demo=True)
    try:
        yield NotifyHub(hub, client, demo_data_dir)
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_partner_subscribes_and_hears_its_referral_acknowledged_by_signed_webhook(
    notify_hub: NotifyHub, receiver: Receiver,
) -> None:
    subscription = await notify_hub.subscribe(receiver.url)
    assert subscription["secret"].startswith("whsec_")

    referral = (await notify_hub.client.post("/api/v1/referrals", json=referral_body())).json()
    await eventually(lambda: _arrived(receiver))

    (request,) = receiver.received
    message = Webhook(subscription["secret"]).verify(request.body, request.headers)
    assert message["type"] == RECEIVED
    assert message["data"]["referral_id"] == referral["id"]
    assert message["data"]["links"]["self"].endswith(f"/api/v1/referrals/{referral['id']}")
    assert b"Amy" not in request.body and b"Example" not in request.body

    log = await eventually(lambda: _delivered_log(notify_hub, referral["id"]))
    (entry,) = log["items"]
    assert entry["id"] == request.headers["webhook-id"]
    assert entry["attempts"][0]["status_code"] == 204


async def _arrived(receiver: Receiver) -> bool:
    return bool(receiver.received)


async def _delivered_log(hub: NotifyHub, referral_id: str) -> dict[str, Any] | None:
    response = await hub.client.get("/api/v1/deliveries",
                                    params={"referral_id": referral_id, "status": "delivered"})
    body: dict[str, Any] = response.json()
    return body if body["items"] else None


async def test_secret_is_shown_once_and_rotation_signs_with_old_and_new(
    notify_hub: NotifyHub, receiver: Receiver,
) -> None:
    subscription = await notify_hub.subscribe(receiver.url)
    listed = (await notify_hub.client.get("/api/v1/subscriptions")).json()
    assert [s["id"] for s in listed] == [subscription["id"]]
    assert "secret" not in listed[0]

    rotated = await notify_hub.client.post(f"/api/v1/subscriptions/{subscription['id']}/secret")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    await notify_hub.client.post("/api/v1/referrals", json=referral_body())
    await eventually(lambda: _arrived(receiver))

    (request,) = receiver.received
    Webhook(subscription["secret"]).verify(request.body, request.headers)
    Webhook(new_secret).verify(request.body, request.headers)


async def test_webhook_url_inside_the_network_is_refused_when_loopback_is_not_allowed(
    demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MASH_NOTIFY_ALLOW_LOOPBACK_WEBHOOKS", "false")
    settings = hub_settings(demo_data_dir)
    _hub, client, running = await start_hub(settings, demo=True)
    try:
        for url in ("http://127.0.0.1:9000/hooks", "https://127.0.0.1/hooks",
                    "https://169.254.169.254/latest", "https://10.0.0.1/hooks"):
            response = await client.post("/api/v1/subscriptions", json={
                "channel": "webhook", "url": url, "event_types": [RECEIVED]})
            assert response.status_code == 422, (url, response.text)
            assert response.headers["content-type"] == "application/problem+json"
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_agencies_manage_only_their_own_subscriptions(
    notify_hub: NotifyHub, receiver: Receiver,
) -> None:
    police = await notify_hub.subscribe(receiver.url)
    health = await notify_hub.health_system()
    try:
        assert (await health.get(f"/api/v1/subscriptions/{police['id']}")).status_code == 404
        assert (await health.get("/api/v1/subscriptions")).json() == []
        other_agency = await health.post("/api/v1/subscriptions", json={
            "channel": "email", "address": "x@health.example", "event_types": [RECEIVED],
            "agency_id": police["agency_id"]})
        assert other_agency.status_code == 403
    finally:
        await health.aclose()
    overdue = await notify_hub.client.post("/api/v1/subscriptions", json={
        "channel": "email", "address": "duty@police.example",
        "event_types": ["mash.referral.decision_overdue"]})
    assert overdue.status_code == 403  # for MASH managers only
    admin = await notify_hub.staff("admin")
    try:
        assert len((await admin.get("/api/v1/subscriptions")).json()) == 1
        switched_off = await admin.patch(f"/api/v1/subscriptions/{police['id']}",
                                         json={"active": False})
        assert switched_off.json()["active"] is False
    finally:
        await admin.aclose()


async def test_delivery_log_is_scoped_paged_and_dead_letters_are_replayed_by_admins(
    notify_hub: NotifyHub, receiver: Receiver,
) -> None:
    await notify_hub.subscribe(receiver.url)
    receiver.answer(*[Reply(500)] * 3)
    ids = []
    for n in range(3):
        response = await notify_hub.client.post(
            "/api/v1/referrals", json=referral_body(external_reference=f"NP-{n}"))
        ids.append(response.json()["id"])
    await eventually(lambda: _attempted_three(receiver))
    notify = notify_hub.hub.services["notify"]
    async with notify.database.unit_of_work() as uow:  # as if three days had passed
        await uow.session.exec(update(Delivery).values(status="dead",
                                                       dead_reason="retries_exhausted",
                                                       next_attempt_at=None))
        await uow.session.commit()

    first = (await notify_hub.client.get("/api/v1/deliveries", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["links"]["next"]
    rest = (await notify_hub.client.get(first["links"]["next"])).json()
    seen = [d["referral_id"] for d in first["items"] + rest["items"]]
    assert sorted(seen) == sorted(ids)
    dead = (await notify_hub.client.get("/api/v1/deliveries", params={"status": "dead"})).json()
    assert len(dead["items"]) == 3

    health = await notify_hub.health_system()
    practitioner = await notify_hub.staff("mash.practitioner")
    admin = await notify_hub.staff("admin")
    try:
        assert (await health.get("/api/v1/deliveries")).json()["items"] == []
        assert len((await practitioner.get("/api/v1/deliveries")).json()["items"]) == 3
        target = dead["items"][0]["id"]
        refused = await notify_hub.client.post(f"/api/v1/deliveries/{target}/retry")
        assert refused.status_code == 403
        replayed = await admin.post(f"/api/v1/deliveries/{target}/retry")
        assert replayed.status_code == 200, replayed.text
        await eventually(lambda: _got(receiver, target))
        again = await admin.post(f"/api/v1/deliveries/{target}/retry")
        assert again.status_code == 409
    finally:
        for client in (health, practitioner, admin):
            await client.aclose()


async def _attempted_three(receiver: Receiver) -> bool:
    return len(receiver.received) >= 3


async def _got(receiver: Receiver, delivery_id: str) -> bool:
    return receiver.ids().count(delivery_id) >= 2
