"""Referral intake and reading: validation a partner can act on, exactly-once submission,
who sees what, and the audit of every read."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from services.referral.audit.models import AuditEntry
from services.referral.audit.service import verify_chain
from services.referral.intake import idempotency
from services.referral.intake.models import IdempotencyKey
from services.referral.referrals.models import Referral, ReferralSubject
from shared.outbox import OutboxMessage
from tests.auth import demo_user, load_credentials
from tests.bodies import REFERRAL, referral_body
from tests.integration.hub import hub_settings, start_hub
from tests.integration.partners import HEALTH, POLICE, Intake, child


def errors_of(response: httpx.Response) -> dict[tuple[Any, ...], str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {tuple(e["loc"]): e["msg"] for e in response.json()["errors"]}


# Validation ------------------------------------------------------------------------------

# Two days ahead, not one: the date is taken when the tests are collected, and a run that
# crosses midnight (UTC, as the hub's "today" is) would otherwise send today's date.
IN_TWO_DAYS = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
NEXT_MONTH = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()


@pytest.mark.parametrize(("changes", "field"), [
    ({"subjects": [child(nhs_number="943 476 5918")]}, ("subjects", 0, "nhs_number")),
    ({"subjects": [child(nhs_number="12345")]}, ("subjects", 0, "nhs_number")),
    ({"subjects": [child(upn="A801200001001")]}, ("subjects", 0, "upn")),
    ({"subjects": [child(address={"postcode": "NOT A CODE"})]},
     ("subjects", 0, "address", "postcode")),
    ({"subjects": [child(date_of_birth=IN_TWO_DAYS)]}, ("subjects", 0, "date_of_birth")),
    ({"subjects": [child(sex="Q")]}, ("subjects", 0, "sex")),
    ({"subjects": [child(role="neighbour")]}, ("subjects", 0, "role")),
    ({"subjects": [child(given_name="x" * 101)]}, ("subjects", 0, "given_name")),
    ({"subjects": [child(favourite_colour="blue")]}, ("subjects", 0, "favourite_colour")),
    ({"subjects": [{"role": "adult_of_concern", "given_name": "Sam"}]}, ("subjects",)),
    ({"subjects": []}, ("subjects",)),
    ({"source": "99"}, ("source",)),
    ({"concerns": ["99Z"]}, ("concerns", 0)),
    ({"concerns": ["3A", "3A"]}, ("concerns",)),
    ({"concerns": []}, ("concerns",)),
    ({"kind": "gossip"}, ("kind",)),
    ({"summary": "x" * 20_001}, ("summary",)),
    ({"summary": ""}, ("summary",)),
    ({"external_reference": "x" * 101}, ("external_reference",)),
    ({"consent": {"status": "not_given"}}, ("consent", "reason")),
    ({"consent": {"status": "maybe", "reason": "x"}}, ("consent", "status")),
    ({"referrer": {"name": "PC Ellis"}}, ("referrer", "role")),
    ({"referrer": {"name": "PC Ellis", "role": "Officer", "email": "not-an-address"}},
     ("referrer", "email")),
    ({"referrer": {"name": "PC Ellis", "role": "Officer", "phone": "call me"}},
     ("referrer", "phone")),
])
async def test_each_invalid_field_is_named_and_nothing_is_stored(
    intake: Intake, changes: dict[str, Any], field: tuple[Any, ...]
) -> None:
    errors = errors_of(await intake.submit(referral_body(**changes)))
    assert ("body", *field) in errors, errors
    assert all(msg for msg in errors.values())
    assert await intake.count(Referral) == 0
    assert await intake.count(OutboxMessage) == 0


async def test_an_unborn_child_is_referred_with_an_expected_date(intake: Intake) -> None:
    unborn = child(date_of_birth=None, expected_date_of_birth=NEXT_MONTH, given_name=None,
                   nhs_number=None, sex=None)
    assert (await intake.submit(referral_body(subjects=[unborn]))).status_code == 201
    too_far = child(date_of_birth=None, expected_date_of_birth="2099-01-01")
    assert ("body", "subjects", 0, "expected_date_of_birth") in errors_of(
        await intake.submit(referral_body(subjects=[too_far])))
    adult = {"role": "adult_of_concern", "given_name": "Sam", "expected_date_of_birth": NEXT_MONTH}
    assert ("body", "subjects", 1, "expected_date_of_birth") in errors_of(
        await intake.submit(referral_body(subjects=[child(), adult])))


async def test_identifiers_are_stored_normalised(intake: Intake) -> None:
    body = referral_body(subjects=[child(nhs_number=" 999 000 0018 ", upn="h801200001001",
                                         address={"postcode": "s60  1aa"})])
    receipt = (await intake.submit(body)).json()
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        subject = (await uow.session.exec(select(ReferralSubject).where(
            ReferralSubject.referral_id == receipt["id"]))).one()
    assert subject.nhs_number == "9990000018"
    assert subject.upn == "H801200001001"
    assert subject.postcode == "S60 1AA"
    assert subject.date_of_birth == date(2012, 4, 2)


async def test_received_time_comes_from_the_server_and_the_agency_from_the_token(
    intake: Intake,
) -> None:
    before = datetime.now(UTC)
    body = referral_body(referrer={**REFERRAL["referrer"], "agency_id": "someone-else"},
                         received_at="1999-01-01T00:00:00Z")
    assert ("body", "received_at") in errors_of(await intake.submit(body))
    body.pop("received_at")
    receipt = (await intake.submit(body)).json()
    assert datetime.fromisoformat(receipt["received_at"]) >= before
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        referral = await uow.session.get(Referral, receipt["id"])
    assert referral is not None
    police_agency = next(c for c in intake.credentials["clients"]
                         if c["client_id"] == POLICE)["agency_id"]
    assert referral.referring_agency_id == police_agency
    assert "agency_id" not in referral.referrer


# Idempotency -----------------------------------------------------------------------------

async def test_a_retry_with_the_same_key_and_body_gets_the_first_answer_and_no_second_referral(
    intake: Intake,
) -> None:
    first = await intake.submit(**{"Idempotency-Key": "retry-0001"})
    again = await intake.submit(**{"Idempotency-Key": "retry-0001"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await intake.count(Referral) == 1
    received = OutboxMessage.event_type == "mash.referral.received"
    assert await intake.count(OutboxMessage, received) == 1


async def test_the_same_key_with_another_body_is_422_and_changes_nothing(intake: Intake) -> None:
    await intake.submit(**{"Idempotency-Key": "retry-0002"})
    other = await intake.submit(referral_body(summary="a different account"),
                                **{"Idempotency-Key": "retry-0002"})
    assert ("header", "Idempotency-Key") in errors_of(other)
    assert await intake.count(Referral) == 1


async def test_keys_belong_to_one_client(intake: Intake) -> None:
    await intake.submit(**{"Idempotency-Key": "shared-key"})
    health = await intake.submit(client_id=HEALTH, **{"Idempotency-Key": "shared-key"})
    assert health.status_code == 201
    assert await intake.count(Referral) == 2


async def test_a_key_whose_first_request_is_in_flight_is_409(intake: Intake) -> None:
    database = intake.hub.services["referral"].database
    body = referral_body()
    claim = await idempotency.claim(database, POLICE, "in-flight-1",
                                    idempotency.fingerprint(body))
    assert isinstance(claim, idempotency.Claimed)  # a first request, not yet finished
    response = await intake.submit(body, **{"Idempotency-Key": "in-flight-1"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert await intake.count(Referral) == 0


async def test_a_key_left_in_flight_by_a_crash_can_be_retried_after_a_minute(
    intake: Intake,
) -> None:
    database = intake.hub.services["referral"].database
    body = referral_body()
    await idempotency.claim(database, POLICE, "crashed-1", idempotency.fingerprint(body))
    async with database.unit_of_work() as uow:
        row = await uow.session.get(IdempotencyKey, (POLICE, "crashed-1"))
        assert row is not None
        row.started_at -= timedelta(minutes=2)
        uow.session.add(row)
        await uow.commit()
    response = await intake.submit(body, **{"Idempotency-Key": "crashed-1"})
    assert response.status_code == 201
    assert await intake.count(Referral) == 1


async def test_concurrent_retries_create_one_referral(intake: Intake) -> None:
    headers = {**await intake.as_client(POLICE), "Idempotency-Key": "burst-1"}
    responses = await asyncio.gather(*(
        intake.client.post("/api/v1/referrals", json=referral_body(), headers=headers)
        for _ in range(6)))
    assert {r.status_code for r in responses} <= {201, 409}
    assert await intake.count(Referral) == 1
    created = {r.json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1


async def test_a_failed_request_releases_its_key(intake: Intake,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from services.referral.intake import service

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(service, "submit_referral", broken)
    with pytest.raises(RuntimeError):  # the test transport re-raises what a server logs as 500
        await intake.submit(**{"Idempotency-Key": "fails-once"})
    monkeypatch.undo()
    assert (await intake.submit(**{"Idempotency-Key": "fails-once"})).status_code == 201


async def test_expired_keys_are_forgotten(intake: Intake) -> None:
    await intake.submit(**{"Idempotency-Key": "old-key"})
    database = intake.hub.services["referral"].database
    async with database.unit_of_work() as uow:
        row = await uow.session.get(IdempotencyKey, (POLICE, "old-key"))
        assert row is not None and row.expires_at - row.started_at == idempotency.KEY_LIFETIME
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        uow.session.add(row)
        await uow.commit()
    assert (await intake.submit(**{"Idempotency-Key": "old-key"})).status_code == 201
    assert await intake.count(Referral) == 2


# Reading ----------------------------------------------------------------------------------

async def test_mash_staff_see_everything_about_a_referral(intake: Intake) -> None:
    receipt = (await intake.submit()).json()
    await intake.as_user("mash.practitioner")
    full = (await intake.client.get(f"/api/v1/referrals/{receipt['id']}")).json()
    assert full["view"] == "full"
    assert full["summary"] == REFERRAL["summary"]
    assert [s["role"] for s in full["subjects"]] == ["child", "adult_of_concern"]
    assert full["subjects"][0]["nhs_number"] == "9990000018"
    assert {"code": "3A", "description": "Domestic abuse: child"} in full["concerns"]
    assert full["source_description"] == "Police"
    assert full["consent"] == REFERRAL["consent"]


async def test_the_referring_agency_sees_where_its_referral_stands_and_nothing_more(
    intake: Intake,
) -> None:
    receipt = (await intake.submit()).json()
    limited = (await intake.client.get(f"/api/v1/referrals/{receipt['id']}",
                                       headers=await intake.as_client(POLICE))).json()
    assert limited["view"] == "limited"
    assert limited["reference"] == receipt["reference"] and limited["status"] == "received"
    assert "summary" not in limited and "subjects" not in limited
    await intake.as_user("police.officer")  # a person at the same agency
    assert (await intake.client.get(f"/api/v1/referrals/{receipt['id']}")).json()[
        "view"] == "limited"


async def test_another_agency_cannot_tell_a_referral_exists(intake: Intake) -> None:
    receipt = (await intake.submit()).json()
    health = await intake.as_client(HEALTH)
    theirs = await intake.client.get(f"/api/v1/referrals/{receipt['id']}", headers=health)
    missing = await intake.client.get("/api/v1/referrals/does-not-exist", headers=health)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == missing.json()["detail"]
    await intake.as_user("school.dsl")
    assert (await intake.client.get(f"/api/v1/referrals/{receipt['id']}")).status_code == 404
    listed = (await intake.client.get("/api/v1/referrals")).json()
    assert listed["items"] == []


async def test_roles_without_referral_access_are_refused(intake: Intake) -> None:
    receipt = (await intake.submit()).json()
    await intake.as_user("auditor")
    assert (await intake.client.get(f"/api/v1/referrals/{receipt['id']}")).status_code == 403
    assert (await intake.client.get("/api/v1/referrals")).status_code == 403
    intake.client.cookies.clear()
    assert (await intake.client.get("/api/v1/referrals")).status_code == 401


async def test_the_list_filters_pages_with_a_cursor_and_keeps_a_stable_order(
    intake: Intake,
) -> None:
    for n in range(7):
        source, client = ("3A", HEALTH) if n % 2 else ("6", POLICE)
        await intake.submit(referral_body(source=source, external_reference=f"EXT-{n}"),
                            client_id=client)
    await intake.submit(referral_body(source="3E"), client_id=HEALTH)
    await intake.as_user("mash.manager")
    seen: list[str] = []
    url: str | None = "/api/v1/referrals?limit=3"
    while url:
        page = (await intake.client.get(url)).json()
        assert len(page["items"]) <= 3
        seen += [item["external_reference"] or "" for item in page["items"]]
        url = page["links"]["next"]
    assert len(seen) == 8 and len(set(seen)) == 8
    times = [i["received_at"] for i in (await intake.client.get(
        "/api/v1/referrals?limit=200")).json()["items"]]
    assert times == sorted(times, reverse=True)
    gps = (await intake.client.get("/api/v1/referrals", params={"source": "3A"})).json()
    assert {i["source"] for i in gps["items"]} == {"3A"} and len(gps["items"]) == 3
    by_name = (await intake.client.get("/api/v1/referrals", params={"q": "example"})).json()
    assert len(by_name["items"]) == 8
    by_ref = (await intake.client.get("/api/v1/referrals", params={"q": "EXT-4"})).json()
    assert [i["external_reference"] for i in by_ref["items"]] == ["EXT-4"]
    assert (await intake.client.get("/api/v1/referrals", params={"limit": 201})).status_code == 422
    assert (await intake.client.get("/api/v1/referrals",
                                    params={"cursor": "garbage"})).status_code == 400

    police = (await intake.client.get("/api/v1/referrals",
                                      headers=await intake.as_client(POLICE))).json()
    assert len(police["items"]) == 4, "partners list their own agency's referrals only"
    assert all("subjects" not in item for item in police["items"])


# Audit ------------------------------------------------------------------------------------

async def test_every_read_and_change_is_audited_with_who_what_and_why(intake: Intake) -> None:
    receipt = (await intake.submit()).json()
    await intake.as_user("mash.practitioner")
    await intake.client.get(f"/api/v1/referrals/{receipt['id']}")
    await intake.client.get(f"/api/v1/referrals/{receipt['id']}",
                            headers={"X-Purpose": "strategy discussion preparation"})
    await intake.client.get("/api/v1/referrals", params={"q": "Example"})

    await intake.as_user("auditor")
    log = (await intake.client.get("/api/v1/audit",
                                   params={"record_id": receipt["id"]})).json()["items"]
    assert [(e["action"], e["purpose"]) for e in reversed(log)] == [
        ("create", "referral_submission"), ("read", "triage"),
        ("read", "strategy discussion preparation")]
    practitioner = demo_user(intake.credentials, "mash.practitioner")
    assert log[0]["agency_id"] == practitioner["agency_id"] and log[0]["actor_kind"] == "user"
    assert log[-1]["actor"] == POLICE
    searches = (await intake.client.get("/api/v1/audit", params={"action": "search"})).json()
    assert len(searches["items"]) == 1
    await intake.as_user("mash.manager")
    assert (await intake.client.get("/api/v1/audit")).status_code == 403


async def test_the_audit_log_pages_newest_first(intake: Intake) -> None:
    for _ in range(3):
        await intake.submit()
    await intake.as_user("auditor")
    first = (await intake.client.get("/api/v1/audit", params={"limit": 2})).json()
    second = (await intake.client.get(first["links"]["next"])).json()
    seqs = [e["seq"] for e in first["items"] + second["items"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 3


async def test_audit_entries_cannot_be_updated_or_deleted_in_the_database(
    intake: Intake,
) -> None:
    await intake.submit()
    database_file = intake.data_dir / "referral.db"
    with sqlite3.connect(database_file) as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("UPDATE audit_entries SET purpose = 'nothing to see'")
    with sqlite3.connect(database_file) as conn, pytest.raises(sqlite3.DatabaseError):
        conn.execute("DELETE FROM audit_entries")


def mash_audit_verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    mash = str(Path(sys.executable).with_name("mash"))
    return subprocess.run([mash, "audit", "verify", "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60, check=False)


def tamper(data_dir: Path, *statements: str) -> None:
    """What someone with the database file could do: drop the guard, then edit."""
    with sqlite3.connect(data_dir / "referral.db") as conn:
        conn.execute("DROP TRIGGER audit_entries_no_update")
        conn.execute("DROP TRIGGER audit_entries_no_delete")
        for statement in statements:
            conn.execute(statement)


@pytest.mark.parametrize(("case", "statements", "finding"), [
    ("changed", ["UPDATE audit_entries SET purpose = 'routine' WHERE seq = 2"],
     "audit entry 2: has been changed"),
    ("deleted", ["DELETE FROM audit_entries WHERE seq = 2"], "entries 2..2 are missing"),
    ("tail removed", ["DELETE FROM audit_entries WHERE seq = 3"], "newest entries"),
    ("rewritten with its hash", [
        "UPDATE audit_entries SET actor = 'someone-else' WHERE seq = 2",
        "UPDATE audit_entries SET hash = printf('%064d', 0) WHERE seq = 2"],
     "audit entry 3: does not follow"),
])
async def test_mash_audit_verify_detects_tampering(
    demo_data_dir: Path, case: str, statements: list[str], finding: str
) -> None:
    hub, client, running = await start_hub(hub_settings(demo_data_dir))
    try:
        intake = Intake(hub, client, demo_data_dir, load_credentials(demo_data_dir), {})
        for _ in range(3):
            await intake.submit()
        async with hub.services["referral"].database.unit_of_work() as uow:
            count, problems = await verify_chain(uow)
        assert count == 3 and problems == []
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]

    intact = mash_audit_verify(demo_data_dir)
    assert intact.returncode == 0 and "intact: 3 entries" in intact.stdout
    tamper(demo_data_dir, *statements)
    broken = mash_audit_verify(demo_data_dir)
    assert broken.returncode == 1, broken.stdout
    assert finding in broken.stdout, (intact.stdout, broken.stdout)


async def test_concurrent_writers_keep_one_unbroken_chain(intake: Intake) -> None:
    await asyncio.gather(*(intake.submit() for _ in range(10)))
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        count, problems = await verify_chain(uow)
        entries = (await uow.session.exec(select(AuditEntry))).all()
    assert count == 10 and problems == []
    assert sorted(e.seq for e in entries) == list(range(1, 11))
