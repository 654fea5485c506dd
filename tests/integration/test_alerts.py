"""Pattern alerts: the same adult, vehicle, place, phone or online account in referrals
about different children raises one alert per value, explained, decided by staff, hidden
from partners, and every read audited. Against the referral service on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from services.referral.audit.models import AuditEntry
from services.referral.intelligence import alerts
from services.referral.intelligence.models import IntelligenceEntry
from shared.events import utcnow
from shared.outbox import OutboxMessage
from shared.rows import Rows
from tests.auth import load_credentials
from tests.bodies import referral_body
from tests.integration.hub import hub_settings, start_hub
from tests.integration.partners import HEALTH, POLICE, Intake

ALERTS = "/api/v1/alerts"
# Five children of five homes; all synthetic.
CHILDREN = [
    ("Amy", "Brook", "2010-02-11", "S60 1AA", "1 Test Street"),
    ("Bella", "Cole", "2009-07-23", "S61 2BB", "2 Elm Road"),
    ("Chloe", "Dunn", "2011-01-05", "S62 3CC", "3 Oak Avenue"),
    ("Dana", "Ellis", "2010-09-30", "S63 4DD", "4 Pine Close"),
    ("Erin", "Frost", "2008-12-17", "S64 5EE", "5 Ash Grove"),
]
# One adult, written differently by each agency; one car, likewise.
ADULT_SPELLINGS = ["Daniel", "Danny", "DANIEL", "Dan", "daniel"]
CAR_SPELLINGS = ["AB12 CDE", "ab12cde", "AB-12 CDE", "ab12 cde", " AB12CDE "]
# Three agencies: police and health by their systems, the school by its lead.
SENDERS = [POLICE, HEALTH, "school.dsl", POLICE, HEALTH]


def child(index: int, **more: Any) -> dict[str, Any]:
    given, family, born, postcode, line1 = CHILDREN[index]
    return {"role": "child", "given_name": given, "family_name": family,
            "date_of_birth": born, "sex": "F",
            "address": {"line1": line1, "town": "Northshire", "postcode": postcode}, **more}


def adult(given: str = "Daniel") -> dict[str, Any]:
    return {"role": "adult_of_concern", "given_name": given, "family_name": "Harker",
            "date_of_birth": "1988-03-14", "sex": "M",
            "address": {"line1": "9 Canal Wharf", "postcode": "S70 9ZZ"}}


@pytest.fixture
async def hub(demo_data_dir: Path, database_url: str) -> AsyncIterator[Intake]:
    """The hub with the referral service on SQLite, then on PostgreSQL."""
    settings = hub_settings(demo_data_dir, referral_database_url=database_url)
    started, client, running = await start_hub(settings)
    try:
        yield Intake(started, client, demo_data_dir, load_credentials(demo_data_dir), {})
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def refer(hub: Intake, subjects: list[dict[str, Any]], contexts: list[dict[str, str]],
                sender: str = POLICE) -> str:
    """Submit a referral from ``sender`` (a partner system, or a member of staff)."""
    source = {POLICE: "6", HEALTH: "3F"}.get(sender, "2A")
    body = referral_body(subjects=subjects, contexts=contexts, source=source)
    if sender in (POLICE, HEALTH):
        response = await hub.submit(body, client_id=sender)
    else:
        headers = await hub.as_user(sender)
        response = await hub.client.post("/api/v1/referrals", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def staff_get(hub: Intake, path: str) -> Any:
    await hub.as_user("mash.practitioner")
    response = await hub.client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


async def open_alerts(hub: Intake) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await staff_get(hub, f"{ALERTS}?status=open"))["items"]
    return items


async def decide(hub: Intake, alert_id: str, decision: str, reason: str = "checked") -> Any:
    csrf = await hub.as_user("mash.manager")
    return await hub.client.post(f"{ALERTS}/{alert_id}",
                                 json={"decision": decision, "reason": reason}, headers=csrf)


async def raised_events(hub: Intake) -> list[dict[str, Any]]:
    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == "mash.alert.raised"))).all()
    return [json.loads(row.payload) for row in rows]


async def test_one_adult_and_one_car_across_five_children_raise_one_alert_each(
    hub: Intake,
) -> None:
    referrals = [await refer(hub, [child(i), adult(ADULT_SPELLINGS[i])],
                             [{"kind": "vehicle", "value": CAR_SPELLINGS[i]}], SENDERS[i])
                 for i in range(5)]

    alerts = await open_alerts(hub)
    by_kind = {a["kind"]: a for a in alerts}
    assert sorted(a["kind"] for a in alerts) == ["adult", "vehicle"]
    car, man = by_kind["vehicle"], by_kind["adult"]
    assert car["value"] == "AB12CDE"
    for alert in (car, man):
        assert alert["referral_ids"] == referrals
        names = sorted(c["given_name"] for c in alert["children"])
        assert names == ["Amy", "Bella", "Chloe", "Dana", "Erin"]
        assert all(c["person_id"] and c["referral_ids"] for c in alert["children"])
        assert len(alert["explanation"]["referrals"]) == 5
        assert "5 referrals about 5 different children, from 3 agencies" in \
            alert["explanation"]["summary"]
    # The adult is one person in the index: each later subject was linked to them, with
    # the weights of the fields that agreed and disagreed.
    adult_person = man["value"]
    first = await staff_get(hub, f"/api/v1/referrals/{referrals[0]}")
    assert first["subjects"][1]["person_id"] == adult_person
    matches = man["explanation"]["adult_matches"]
    assert len(matches) == 5 and matches[0]["method"] == "new"
    assert all(m["method"] in {"probabilistic", "identifier"} for m in matches[1:])
    assert all(m["explanation"]["comparisons"] for m in matches[1:])
    # Announced through the outbox with ids only, once per raise (not per referral of
    # the first pair) and once per new child afterwards.
    events = await raised_events(hub)
    assert {e["data"]["alert_id"] for e in events} == {car["id"], man["id"]}
    assert set(events[0]["data"]) == {"alert_id", "kind", "links"}


async def test_siblings_sharing_an_address_raise_no_place_alert(hub: Intake) -> None:
    sister = child(0)
    brother = child(0, given_name="Ben", sex="M", date_of_birth="2012-05-06")
    home = {"kind": "place", "value": "s60 1aa"}
    park = {"kind": "place", "value": "Riverside Park,  Mill Road"}
    await refer(hub, [sister], [home, park])
    await refer(hub, [brother], [home, {"kind": "place", "value": "riverside park, mill road"}],
                HEALTH)
    assert await open_alerts(hub) == []
    # A child of another home at the same park: now it is a place pattern.
    await refer(hub, [child(2)], [{"kind": "place", "value": "RIVERSIDE PARK, MILL ROAD"}])
    (alert,) = await open_alerts(hub)
    assert alert["kind"] == "place" and alert["value"] == "riverside park, mill road"
    assert sorted(c["given_name"] for c in alert["children"]) == ["Amy", "Ben", "Chloe"]


async def test_phone_and_online_values_are_normalised_and_matched(hub: Intake) -> None:
    await refer(hub, [child(0)], [{"kind": "phone", "value": "07700 900123"},
                                  {"kind": "online", "value": "Snapchat: @Jay_Dee99"}])
    await refer(hub, [child(1)], [{"kind": "phone", "value": "+44 7700-900123"},
                                  {"kind": "online", "value": "snapchat/jay_dee99"}], HEALTH)
    alerts = {a["kind"]: a["value"] for a in await open_alerts(hub)}
    assert alerts == {"phone": "+447700900123", "online": "snapchat:jay_dee99"}


async def test_a_context_that_is_not_one_of_its_kind_is_refused_and_nothing_is_stored(
    hub: Intake,
) -> None:
    for bad in ({"kind": "vehicle", "value": "!!"}, {"kind": "phone", "value": "call me"},
                {"kind": "online", "value": "jaydee"}, {"kind": "boat", "value": "x"}):
        body = referral_body(subjects=[child(0)], contexts=[bad])
        response = await hub.submit(body)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")
    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        assert (await uow.session.exec(select(IntelligenceEntry))).all() == []


async def test_dismissed_stays_dismissed_until_new_evidence_reopens_it(hub: Intake) -> None:
    car = [{"kind": "vehicle", "value": "YX65 ABC"}]
    await refer(hub, [child(0)], car)
    await refer(hub, [child(1)], car, HEALTH)
    (alert,) = await open_alerts(hub)

    missing = await decide(hub, alert["id"], "dismissed", "")
    assert missing.status_code == 422
    dismissed = await decide(hub, alert["id"], "dismissed", "a taxi firm's car")
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["decision"]["reason"] == "a taxi firm's car"
    stale = await hub.client.post(f"{ALERTS}/{alert['id']}", headers={
        "X-CSRF": "1", "If-Match": '"1"', **await hub.as_user("mash.manager")},
        json={"decision": "confirmed", "reason": "x"})
    assert stale.status_code == 412
    assert await open_alerts(hub) == []

    # Other referrals (another car, the same children) bring nothing new for it.
    await refer(hub, [child(0)], [{"kind": "vehicle", "value": "ZZ11 ZZZ"}])
    assert await open_alerts(hub) == []
    # A new child with the same car reopens it, naming all three.
    await refer(hub, [child(3)], [{"kind": "vehicle", "value": "yx65abc"}], HEALTH)
    (reopened,) = await open_alerts(hub)
    assert reopened["id"] == alert["id"]
    assert sorted(c["given_name"] for c in reopened["children"]) == ["Amy", "Bella", "Dana"]
    confirmed = await decide(hub, alert["id"], "confirmed", "strategy discussion held")
    assert confirmed.json()["status"] == "confirmed"


async def test_partners_never_see_alerts_and_every_read_is_audited(hub: Intake) -> None:
    car = [{"kind": "vehicle", "value": "YX65 ABC"}]
    await refer(hub, [child(0)], car)
    await refer(hub, [child(1)], car, HEALTH)
    (alert,) = await open_alerts(hub)
    await staff_get(hub, f"{ALERTS}/{alert['id']}")

    for username in ("school.dsl", "police.officer"):
        csrf = await hub.as_user(username)
        for method, path in (("GET", ALERTS), ("GET", f"{ALERTS}/{alert['id']}"),
                             ("POST", f"{ALERTS}/{alert['id']}")):
            response = await hub.client.request(
                method, path, headers=csrf,
                json={"decision": "dismissed", "reason": "x"} if method == "POST" else None)
            assert response.status_code == 404, (username, method, path)
    hub.client.cookies.clear()
    response = await hub.client.get(ALERTS, headers=await hub.as_client(POLICE))
    assert response.status_code == 404
    (still,) = await open_alerts(hub)
    assert still["status"] == "open"

    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(
            AuditEntry.record_type == "alert"))).all()
    actions = [(e.action, e.record_id) for e in entries]
    assert ("read", alert["id"]) in actions
    assert actions.count(("search", "*")) >= 2
    assert sum(1 for action, _ in actions if action == "refused") >= 7


async def test_children_waiting_for_a_match_review_count_by_their_subject(hub: Intake) -> None:
    """A child whose match review is open has no person yet: they count by their subject
    (a longer key, which PostgreSQL must hold)."""
    database = hub.hub.services["referral"].database
    for referral_id in (str(uuid.uuid4()), str(uuid.uuid4())):
        subjects = [{"id": str(uuid.uuid4()), "role": "child", "postcode": None},
                    {"id": str(uuid.uuid4()), "role": "adult_of_concern", "postcode": None}]
        async with database.unit_of_work() as uow:
            rows = Rows()
            await alerts.index_and_raise(uow, rows, {"id": referral_id, "received_at": utcnow()},
                                         subjects, [None, "adult-person"], [], 365,
                                         alerts.BatchSightings())
            await rows.write(uow)
            await uow.commit()
    (alert,) = await open_alerts(hub)
    assert alert["kind"] == "adult" and alert["value"] == "adult-person"
    assert len(alert["children"]) == 2
    assert all(c["person_id"] is None for c in alert["children"])
