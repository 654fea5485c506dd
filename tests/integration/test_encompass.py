"""Operation Encompass: a school's designated safeguarding lead is told of a police
notification about one of its pupils (by webhook, else by email) and reads it, audited,
through the API; other schools hear and see nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from services.notify import events
from services.notify.models import Delivery
from services.notify.settings import NotifySettings
from services.referral.encompass.rules import triggers_notice
from services.referral.encompass.service import may_read
from services.referral.referrals.models import Referral, ReferralSubject
from shared.agencies import (
    AgencyDirectoryEntry,
    agency_updated_event,
    record_agency_updated,
    school_for_urn,
)
from shared.db import Database
from shared.events import CloudEvent, utcnow
from shared.outbox import OutboxMessage
from tests.auth import basic
from tests.bodies import referral_body
from tests.helpers import eventually
from tests.integration.hub import hub_settings, start_hub
from tests.integration.notify_hub import Notify, NotifyHub, referral_event
from tests.webhooks import Mailbox, Receiver

RIVERSIDE, HILLSIDE = "agency-riverside", "agency-hillside"
RIVERSIDE_URN, HILLSIDE_URN = "999001", "999002"
RIVERSIDE_DSL = "dsl@riverside.example"


@pytest.fixture
def mailbox() -> Any:
    box = Mailbox()
    box.start()
    try:
        yield box
    finally:
        box.stop()


async def add_school(database: Database, agency_id: str, urn: str, dsl: str | None) -> None:
    async with database.unit_of_work() as uow:
        await record_agency_updated(uow, agency_updated_event(
            agency_id, kind="school", active=True, school_urn=urn,
            safeguarding_lead_email=dsl))
        await uow.commit()


def police_notification(*urns: str, source: str = "6") -> CloudEvent:
    return referral_event(events.REFERRAL_RECEIVED, source=source, school_urns=list(urns),
                          received_at="2026-12-01T21:40:00+00:00")


def mailing(database: Database, mailbox: Mailbox) -> Notify:
    return Notify(database, settings=NotifySettings(smtp_host="127.0.0.1",
                                                    smtp_port=mailbox.port))


def body_of(message: Any) -> str:
    text: str = message.get_payload(decode=True).decode()
    return text


async def test_school_without_a_webhook_has_its_safeguarding_lead_emailed_and_no_one_else(
    notify_db: Database, mailbox: Mailbox,
) -> None:
    notify = mailing(notify_db, mailbox)
    await add_school(notify_db, RIVERSIDE, RIVERSIDE_URN, RIVERSIDE_DSL)
    await add_school(notify_db, HILLSIDE, HILLSIDE_URN, "dsl@hillside.example")

    await notify.publish(police_notification(RIVERSIDE_URN))
    await notify.run_due()

    (message,) = mailbox.messages
    assert mailbox.recipients == [[RIVERSIDE_DSL]]
    assert message["Subject"] == "[MASH] Operation Encompass: police notification " \
                                 "MASH-2026-000001"
    assert message.get_content_type() == "text/plain"
    body = body_of(message)
    assert "Reference: MASH-2026-000001" in body
    assert "Received at: 2026-12-01T21:40:00+00:00" in body
    assert "https://hub.example/" in body
    assert "Amy" not in body and "Example" not in body and "narrative" not in body
    (notice,) = await notify.deliveries(event_type=events.ENCOMPASS_NOTIFICATION)
    assert (notice.agency_id, notice.status, notice.address) == (RIVERSIDE, "delivered",
                                                                 RIVERSIDE_DSL)


async def test_school_with_a_webhook_for_the_notices_hears_it_there_and_is_not_emailed(
    notify_db: Database, mailbox: Mailbox, receiver: Receiver,
) -> None:
    notify = mailing(notify_db, mailbox)
    await add_school(notify_db, RIVERSIDE, RIVERSIDE_URN, RIVERSIDE_DSL)
    _, secret = await notify.subscribe(RIVERSIDE, url=receiver.url,
                                       event_types=(events.ENCOMPASS_NOTIFICATION,))

    await notify.publish(police_notification(RIVERSIDE_URN))
    await notify.run_due()

    (request,) = receiver.received
    message = Webhook(secret).verify(request.body, request.headers)
    assert message["type"] == "mash.encompass.notification"
    assert message["data"] == {
        "referral_id": "r-1", "reference": "MASH-2026-000001",
        "received_at": "2026-12-01T21:40:00+00:00",
        "links": {"self": "https://hub.example/api/v1/referrals/r-1/encompass",
                  "sign_in": "https://hub.example/"}}
    assert b"Amy" not in request.body and b"narrative" not in request.body
    assert mailbox.messages == []


async def test_only_police_referrals_naming_a_known_school_send_a_notice(
    notify_db: Database, mailbox: Mailbox,
) -> None:
    notify = mailing(notify_db, mailbox)
    await add_school(notify_db, RIVERSIDE, RIVERSIDE_URN, RIVERSIDE_DSL)

    await notify.publish(police_notification(RIVERSIDE_URN, source="3A"))  # a GP's
    await notify.publish(referral_event(source="6"))  # police, no school named
    await notify.publish(police_notification("123456"))  # a school notify does not know
    await notify.run_due()

    assert mailbox.messages == []
    (unknown,) = await notify.deliveries(event_type=events.ENCOMPASS_NOTIFICATION)
    assert (unknown.status, unknown.agency_id) == ("no_subscription", None)


async def test_directory_keeps_the_newest_agency_update_whatever_order_they_arrive_in(
    notify_db: Database,
) -> None:
    newer = agency_updated_event(RIVERSIDE, kind="school", active=True,
                                 school_urn=RIVERSIDE_URN, safeguarding_lead_email="new@x.example")
    older = CloudEvent(**{**newer.model_dump(), "id": "older",
                          "time": newer.time.replace(year=newer.time.year - 1),
                          "data": {**newer.data, "safeguarding_lead_email": "old@x.example"}})
    async with notify_db.unit_of_work() as uow:
        await record_agency_updated(uow, newer)
        await record_agency_updated(uow, older)
        await uow.commit()
    async with notify_db.unit_of_work() as uow:
        school = await school_for_urn(uow, RIVERSIDE_URN)
    assert school is not None and school.safeguarding_lead_email == "new@x.example"


def test_only_the_named_school_may_read_a_police_notification() -> None:
    school = AgencyDirectoryEntry(agency_id=RIVERSIDE, kind="school", active=True,
                                  school_urn=RIVERSIDE_URN, updated_at=utcnow())
    police = Referral(reference="MASH-2026-000001", source="6", referring_agency_id="p",
                      submitted_by="c", received_at=utcnow(), concerns=["3B"])
    pupil = ReferralSubject(referral_id=police.id, role="child", school_urn=RIVERSIDE_URN)
    assert may_read(school, police, [pupil])
    assert not may_read(school, police, [])  # no pupil of this school named
    other = AgencyDirectoryEntry(**{**school.model_dump(), "school_urn": HILLSIDE_URN})
    assert not may_read(other, police, [pupil])
    gp = Referral(**{**police.model_dump(), "source": "3A"})
    assert not may_read(school, gp, [pupil])
    not_abuse = Referral(**{**police.model_dump(), "concerns": ["10A"]})
    assert not may_read(school, not_abuse, [pupil])  # no domestic abuse concern
    assert may_read(school, not_abuse, [pupil], trigger_concerns=["10A"])  # the hub's choice
    closed = AgencyDirectoryEntry(**{**school.model_dump(), "active": False})
    assert not may_read(closed, police, [pupil])
    assert not may_read(None, police, [pupil])


def test_only_police_referrals_with_a_domestic_abuse_concern_trigger_a_notice() -> None:
    assert triggers_notice("6", ["3A"]) and triggers_notice("6", ["10A", "3C"])
    assert not triggers_notice("6", ["10A", "24A"])  # police, not domestic abuse
    assert not triggers_notice("3A", ["3A"])  # a GP's referral of domestic abuse
    assert triggers_notice("6", ["24A"], trigger_concerns=["3A", "3B", "3C", "24A"])


# --- end to end, through the embedded hub ------------------------------------------------


@pytest.fixture
async def hub_with_mailbox(demo_data_dir: Path, mailbox: Mailbox,
                           monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[NotifyHub]:
    monkeypatch.setenv("MASH_NOTIFY_POLL_SECONDS", "0.05")
    monkeypatch.setenv("MASH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MASH_SMTP_PORT", str(mailbox.port))
    hub, client, running = await start_hub(hub_settings(demo_data_dir), demo=True)
    try:
        yield NotifyHub(hub, client, demo_data_dir)
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


def demo_school(hub: NotifyHub) -> dict[str, Any]:
    return next(a for a in hub.credentials["agencies"] if a["kind"] == "school")


def pupil_referral(urn: str, **changes: Any) -> dict[str, Any]:
    body = referral_body(**changes)
    subjects = copy.deepcopy(body["subjects"])
    subjects[0]["school_urn"] = urn
    subjects[0]["police_reference"] = "NP/26/4711"
    return {**body, "subjects": subjects}


async def in_directory(hub: NotifyHub, service: str, agency_id: str) -> bool:
    async with hub.hub.services[service].database.unit_of_work() as uow:
        return await uow.session.get(AgencyDirectoryEntry, agency_id) is not None


async def test_police_notification_reaches_the_demo_schools_dsl_who_reads_it_audited(
    hub_with_mailbox: NotifyHub, mailbox: Mailbox,
) -> None:
    hub = hub_with_mailbox
    school = demo_school(hub)
    assert (school["school_urn"], school["safeguarding_lead_email"]) == (
        "999001", "dsl@riverside-academy.example")
    for service in ("notify", "referral"):  # identity's agency events have arrived
        await eventually(lambda service=service: in_directory(hub, service, school["id"]))

    posted = await hub.client.post("/api/v1/referrals", json=pupil_referral("999001"))
    assert posted.status_code == 201, posted.text
    referral = posted.json()
    health = await hub.health_system()
    gp = await health.post("/api/v1/referrals", json=pupil_referral("999001", source="3A"))
    await health.aclose()
    assert gp.status_code == 201

    await eventually(lambda: _mail(mailbox))
    (message,) = mailbox.messages
    assert mailbox.recipients == [["dsl@riverside-academy.example"]]
    body = body_of(message)
    assert referral["reference"] in body
    assert "Amy" not in body and "Example" not in body and "domestic" not in body

    dsl = await hub.staff("school.dsl")
    auditor = await hub.staff("auditor")
    try:
        read = await dsl.get(f"/api/v1/referrals/{referral['id']}/encompass")
        assert read.status_code == 200, read.text
        notice = read.json()
        assert notice["reference"] == referral["reference"]
        assert [(p["given_name"], p["family_name"], p["police_reference"])
                for p in notice["pupils"]] == [("Amy", "Example", "NP/26/4711")]
        assert "summary" not in notice and "Sam" not in read.text  # no narrative, no adult
        assert (await dsl.get(f"/api/v1/referrals/{gp.json()['id']}/encompass")
                ).status_code == 404  # not a police notification
        assert (await dsl.get(f"/api/v1/referrals/{referral['id']}")).status_code == 404
        entries = (await auditor.get("/api/v1/audit",
                                     params={"record_id": referral["id"]})).json()["items"]
        school_reads = [e for e in entries if e["agency_id"] == school["id"]]
        assert [(e["action"], e["purpose"]) for e in school_reads] == [
            ("refused", "referrer_follow_up"),  # the full referral: not the school's to read
            ("read", "operation_encompass")]
    finally:
        await dsl.aclose()
        await auditor.aclose()


async def test_another_school_is_not_told_and_cannot_read_the_notification(
    hub_with_mailbox: NotifyHub, mailbox: Mailbox,
) -> None:
    hub = hub_with_mailbox
    admin = await hub.staff("admin")
    try:
        created = await admin.post("/api/v1/agencies", json={
            "name": "Hillside Primary", "kind": "school", "school_urn": "999002",
            "safeguarding_lead_email": "dsl@hillside.example"})
        assert created.status_code == 201, created.text
        hillside = created.json()
        taken = await admin.post("/api/v1/agencies", json={
            "name": "Copycat School", "kind": "school", "school_urn": "999002"})
        assert taken.status_code == 409
        not_a_school = await admin.post("/api/v1/agencies", json={
            "name": "Northshire Fire", "kind": "other", "school_urn": "999003"})
        assert not_a_school.status_code == 422
        health = next(a for a in hub.credentials["agencies"] if a["kind"] == "health")
        patched = await admin.patch(f"/api/v1/agencies/{health['id']}",
                                    json={"safeguarding_lead_email": "x@health.example"})
        assert patched.status_code == 422
        client = await admin.post("/api/v1/clients", json={
            "client_id": "hillside-mis", "name": "Hillside MIS", "agency_id": hillside["id"]})
        assert client.status_code == 201, client.text
        secret = client.json()["client_secret"]
        moved = await admin.patch(f"/api/v1/agencies/{hillside['id']}",
                                  json={"safeguarding_lead_email": "safeguarding@hillside.example"})
        assert moved.json()["safeguarding_lead_email"] == "safeguarding@hillside.example"
    finally:
        await admin.aclose()
    for service in ("notify", "referral"):
        await eventually(lambda service=service: in_directory(hub, service, hillside["id"]))
    await eventually(lambda: _lead_is(hub, hillside["id"], "safeguarding@hillside.example"))

    posted = await hub.client.post("/api/v1/referrals", json=pupil_referral("999001"))
    referral_id = posted.json()["id"]
    await eventually(lambda: _mail(mailbox))
    assert [r for rs in mailbox.recipients for r in rs] == ["dsl@riverside-academy.example"]

    token = (await hub.client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                                   headers={"authorization": basic("hillside-mis", secret)}))
    hillside_system = httpx.AsyncClient(
        transport=hub.client._transport, base_url=hub.client.base_url,
        headers={"authorization": f"Bearer {token.json()['access_token']}"})
    try:
        read = await hillside_system.get(f"/api/v1/referrals/{referral_id}/encompass")
        assert read.status_code == 404
        assert read.headers["content-type"] == "application/problem+json"
    finally:
        await hillside_system.aclose()
    # The referring police force does not get this view either.
    assert (await hub.client.get(f"/api/v1/referrals/{referral_id}/encompass")
            ).status_code == 404
    async with hub.hub.services["notify"].database.unit_of_work() as uow:
        notices = (await uow.session.exec(select(Delivery).where(
            Delivery.event_type == events.ENCOMPASS_NOTIFICATION))).all()
    assert {n.agency_id for n in notices} == {demo_school(hub)["id"]}


async def _mail(mailbox: Mailbox) -> bool:
    return bool(mailbox.messages)


async def _lead_is(hub: NotifyHub, agency_id: str, address: str) -> bool:
    async with hub.hub.services["notify"].database.unit_of_work() as uow:
        entry = await uow.session.get(AgencyDirectoryEntry, agency_id)
    return entry is not None and entry.safeguarding_lead_email == address


async def test_the_school_reads_the_incident_whether_the_child_was_present_and_their_voice(
    hub_with_mailbox: NotifyHub,
) -> None:
    hub = hub_with_mailbox
    school = demo_school(hub)
    await eventually(lambda: in_directory(hub, "referral", school["id"]))
    body = pupil_referral("999001", incident={"occurred_at": "2026-12-01T21:40:00+00:00",
                                              "place": "the family home"})
    body["subjects"][0].update(present_at_incident=True,
                               voice="said she hid upstairs and wants to stay with mum")
    posted = await hub.client.post("/api/v1/referrals", json=body)
    assert posted.status_code == 201, posted.text
    not_abuse = await hub.client.post("/api/v1/referrals",
                                      json=pupil_referral("999001", concerns=["10A"]))
    assert not_abuse.status_code == 201
    dsl = await hub.staff("school.dsl")
    try:
        notice = (await dsl.get(f"/api/v1/referrals/{posted.json()['id']}/encompass")).json()
        assert notice["incident"] == {"occurred_at": "2026-12-01T21:40:00Z",
                                      "place": "the family home"}
        (pupil,) = notice["pupils"]
        assert pupil["present_at_incident"] is True
        assert pupil["voice"] == "said she hid upstairs and wants to stay with mum"
        assert (await dsl.get(f"/api/v1/referrals/{not_abuse.json()['id']}/encompass")
                ).status_code == 404  # police, but no domestic abuse: no notice
    finally:
        await dsl.aclose()
    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == "mash.referral.received"))).all()
    urns = {json.loads(r.payload)["data"]["referral_id"]:
            json.loads(r.payload)["data"].get("school_urns") for r in rows}
    assert urns[posted.json()["id"]] == ["999001"]
    assert urns[not_abuse.json()["id"]] is None


async def test_the_schools_inbox_lists_its_notices_and_a_read_is_acknowledged_once_and_counted(
    hub_with_mailbox: NotifyHub,
) -> None:
    hub = hub_with_mailbox
    school = demo_school(hub)
    await eventually(lambda: in_directory(hub, "referral", school["id"]))
    notice = (await hub.client.post("/api/v1/referrals", json=pupil_referral(
        "999001", incident={"occurred_at": "2026-12-01T21:40:00+00:00"}))).json()
    not_abuse = (await hub.client.post("/api/v1/referrals",
                                       json=pupil_referral("999001", concerns=["10A"]))).json()
    elsewhere = (await hub.client.post("/api/v1/referrals",
                                       json=pupil_referral("999002"))).json()
    dsl = await hub.staff("school.dsl")
    manager = await hub.staff("mash.manager")
    auditor = await hub.staff("auditor")
    try:
        inbox = (await dsl.get("/api/v1/encompass-notices")).json()
        assert [i["referral_id"] for i in inbox["items"]] == [notice["id"]]
        (line,) = inbox["items"]
        assert line["pupils"] == [{"given_name": "Amy", "family_name": "Example"}]
        assert line["incident"]["occurred_at"] == "2026-12-01T21:40:00Z"
        assert line["acknowledgement"] is None and inbox["unread"] == 1

        first = await dsl.post(f"/api/v1/encompass-notices/{notice['id']}/read")
        assert first.status_code == 200, first.text
        again = await dsl.post(f"/api/v1/encompass-notices/{notice['id']}/read")
        assert again.json() == first.json()  # the first read stands
        inbox = (await dsl.get("/api/v1/encompass-notices")).json()
        assert inbox["unread"] == 0
        assert inbox["items"][0]["acknowledgement"]["read_at"] == first.json()["read_at"]
        for other in (not_abuse, elsewhere):  # not this school's to read: no such notice
            refused = await dsl.post(f"/api/v1/encompass-notices/{other['id']}/read")
            assert refused.status_code == 404
            assert refused.headers["content-type"].startswith("application/problem+json")
        police = await hub.client.post(f"/api/v1/encompass-notices/{notice['id']}/read")
        assert police.status_code == 404  # the police are not the school
        assert (await hub.client.get("/api/v1/encompass-notices")).json()["items"] == []

        entries = (await auditor.get("/api/v1/audit",
                                     params={"record_id": notice["id"]})).json()["items"]
        assert ("acknowledge", "operation_encompass") in {
            (e["action"], e["purpose"]) for e in entries if e["agency_id"] == school["id"]}

        board = (await manager.get("/api/v1/reports/board")).json()
        (figures,) = [s for s in board["schools"] if s["urn"] == "999001"]
        assert figures["encompass_acknowledged"] == 1
        assert figures["encompass_median_hours_to_read"] is not None
        assert figures["encompass_median_hours_to_read"] >= 0
    finally:
        for client in (dsl, manager, auditor):
            await client.aclose()
