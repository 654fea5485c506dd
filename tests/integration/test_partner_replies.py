"""Partners at work: a school's questions fall due in school hours, a partner declines a
question with a reason or asks for more time, and a referrer withdraws a referral sent in
error. Each is its own agency's alone, audited, and in the referral's chronology."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from services.referral.audit.models import AuditEntry
from services.referral.referrals.models import Referral
from shared.outbox import OutboxMessage
from tests.helpers import hub_clock_at
from tests.integration.partners import HEALTH, POLICE, Intake, agency_of, read

LONDON = ZoneInfo("Europe/London")
# A Friday evening after the demo's signing keys were made (the hub's clock is set).
FRIDAY_EVENING = datetime(2027, 1, 8, 17, 30, tzinfo=LONDON)


def school_agency(intake: Intake) -> str:
    return str(next(u["agency_id"] for u in intake.credentials["users"]
                    if u["username"] == "school.dsl"))


async def triaged(intake: Intake, rag: str = "amber") -> str:
    referral_id = str((await intake.submit()).json()["id"])
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    done = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage",
                                    json={"rag": rag, "rationale": "screened"},
                                    headers={**csrf, "If-Match": tag})
    assert done.status_code == 200, done.text
    return referral_id


async def ask(intake: Intake, referral_id: str, agency_id: str, question: str) -> dict[str, Any]:
    csrf = await intake.as_user("mash.practitioner")
    asked = await intake.client.post(f"/api/v1/referrals/{referral_id}/information-requests",
                                     headers=csrf,
                                     json={"agency_id": agency_id, "question": question})
    assert asked.status_code == 201, asked.text
    return dict(asked.json())


async def outbox(intake: Intake, event_type: str) -> list[dict[str, Any]]:
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == event_type))).all()
    return [json.loads(row.payload) for row in rows]


async def test_a_schools_deadline_falls_in_school_hours_unless_red(intake: Intake) -> None:
    with hub_clock_at(FRIDAY_EVENING):
        amber = await triaged(intake, "amber")
        to_school = await ask(intake, amber, school_agency(intake), "Attendance this term?")
        to_health = await ask(intake, amber, agency_of(intake, HEALTH), "Known to A&E?")
        red = await triaged(intake, "red")
        red_to_school = await ask(intake, red, school_agency(intake), "Who collects him?")
    school_due = datetime.fromisoformat(to_school["due_at"]).astimezone(LONDON)
    health_due = datetime.fromisoformat(to_health["due_at"]).astimezone(LONDON)
    # 24 working hours from Friday 17:30: a school works 08:30-16:00 (7.5 hours a day), so
    # Monday to Wednesday give 22.5 and the last 1.5 end at 10:00 on Thursday.
    assert school_due.replace(tzinfo=None) == datetime(2027, 1, 14, 10, 0)
    # The hub's own 09:00-17:00 (8 hours a day): three full days, Wednesday at 17:00.
    assert health_due.replace(tzinfo=None) == datetime(2027, 1, 13, 17, 0)
    # Red runs on the clock for everyone: four hours after Friday 17:30.
    red_due = datetime.fromisoformat(red_to_school["due_at"])
    assert red_due - datetime.fromisoformat(red_to_school["created_at"]) == timedelta(hours=4)


async def test_a_partner_declines_one_question_and_answers_another(intake: Intake) -> None:
    referral_id = await triaged(intake)
    first = await ask(intake, referral_id, school_agency(intake), "Any concerns at school?")
    second = await ask(intake, referral_id, school_agency(intake), "Who is the GP?")
    police_agency = agency_of(intake, POLICE)

    csrf = await intake.as_user("school.dsl")
    wrong = await intake.client.post(
        f"/api/v1/information-requests/{second['id']}/decline", headers=csrf,
        json={"reason": "not_known", "held_by_agency_id": police_agency})
    assert wrong.status_code == 422, "only an agency holding it elsewhere is named"
    unknown = await intake.client.post(
        f"/api/v1/information-requests/{second['id']}/decline", headers=csrf,
        json={"reason": "forgot"})
    assert unknown.status_code == 422
    declined = await intake.client.post(
        f"/api/v1/information-requests/{second['id']}/decline", headers=csrf,
        json={"reason": "held_elsewhere", "detail": "Ask the surgery.",
              "held_by_agency_id": police_agency})
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    assert declined.json()["decline_reason"] == "held_elsewhere"
    again = await intake.client.post(
        f"/api/v1/information-requests/{second['id']}/response", headers=csrf,
        json={"text": "late"})
    assert again.status_code == 409, "a declined request takes no answer"
    answered = await intake.client.post(
        f"/api/v1/information-requests/{first['id']}/response", headers=csrf,
        json={"text": "Late most days this month."})
    assert answered.status_code == 200

    # Another agency cannot decline the school's question.
    health = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    other = await intake.client.post(
        f"/api/v1/information-requests/{first['id']}/decline", headers=health,
        json={"reason": "not_known"})
    assert other.status_code == 404

    await intake.as_user("mash.practitioner")
    full, _ = await read(intake, referral_id)
    line = next(t for t in full["timeline"] if t["what"] == "information_declined")
    assert line["detail"]["reason"] == "held_elsewhere"
    assert line["detail"]["held_by_agency_id"] == police_agency
    seen = (await intake.client.get(f"/api/v1/information-requests/{second['id']}")).json()
    assert seen["decline_detail"] == "Ask the surgery."
    (event,) = await outbox(intake, "mash.information_request.declined")
    assert event["data"]["reason"] == "held_elsewhere"
    assert event["data"]["held_by_agency_id"] == police_agency
    assert "surgery" not in json.dumps(event), "events carry no narrative"


async def test_a_partner_asks_for_more_time(intake: Intake) -> None:
    referral_id = await triaged(intake)
    request = await ask(intake, referral_id, school_agency(intake), "Attendance?")
    due = datetime.fromisoformat(request["due_at"])
    csrf = await intake.as_user("school.dsl")
    early = await intake.client.post(
        f"/api/v1/information-requests/{request['id']}/extension", headers=csrf,
        json={"reason": "records office shut", "until": (due - timedelta(hours=1)).isoformat()})
    assert early.status_code == 422
    asked = await intake.client.post(
        f"/api/v1/information-requests/{request['id']}/extension", headers=csrf,
        json={"reason": "records office shut", "until": (due + timedelta(days=1)).isoformat()})
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["status"] == "open" and body["due_at"] == request["due_at"]
    assert datetime.fromisoformat(body["extension_until"]) == due + timedelta(days=1)
    await intake.as_user("mash.practitioner")
    full, _ = await read(intake, referral_id)
    assert full["timeline"][-1]["what"] == "information_more_time"


async def test_a_referrer_withdraws_a_referral_sent_in_error(intake: Intake) -> None:
    referral_id = await triaged(intake)
    request = await ask(intake, referral_id, school_agency(intake), "Attendance?")
    health = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    not_theirs = await intake.client.post(f"/api/v1/referrals/{referral_id}/withdrawal",
                                          headers=health, json={"reason": "oops"})
    assert not_theirs.status_code == 404
    police = await intake.as_client(POLICE)
    empty = await intake.client.post(f"/api/v1/referrals/{referral_id}/withdrawal",
                                     headers=police, json={"reason": ""})
    assert empty.status_code == 422
    withdrawn = await intake.client.post(f"/api/v1/referrals/{referral_id}/withdrawal",
                                         headers=police, json={"reason": "Wrong family."})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["withdrawal_reason"] == "Wrong family."
    twice = await intake.client.post(f"/api/v1/referrals/{referral_id}/withdrawal",
                                     headers=police, json={"reason": "again"})
    assert twice.status_code == 409

    await intake.as_user("mash.practitioner")
    full, _ = await read(intake, referral_id)
    assert full["timeline"][-1]["what"] == "withdrawn"
    assert full["timeline"][-1]["detail"] == {"reason": "Wrong family."}
    left = (await intake.client.get(f"/api/v1/information-requests/{request['id']}")).json()
    assert left["status"] == "withdrawn", "its open questions are withdrawn with it"
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        entries = (await uow.session.exec(select(AuditEntry).where(
            AuditEntry.record_id == referral_id,
            AuditEntry.action == "withdraw_referral"))).all()
        stored = await uow.session.get(Referral, referral_id)
    assert len(entries) == 1 and stored is not None and stored.withdrawn_at is not None


async def test_a_decided_referral_cannot_be_withdrawn(intake: Intake) -> None:
    referral_id = await triaged(intake)
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    decided = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/decision", headers={**csrf, "If-Match": tag},
        json={"outcome": "no_further_action", "rationale": "none needed"})
    assert decided.status_code == 200, decided.text
    police = await intake.as_client(POLICE)
    intake.client.cookies.clear()
    refused = await intake.client.post(f"/api/v1/referrals/{referral_id}/withdrawal",
                                       headers=police, json={"reason": "Wrong family."})
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"


async def test_a_referrer_reads_exactly_what_it_sent(intake: Intake) -> None:
    referral_id = str((await intake.submit()).json()["id"])
    police = await intake.as_client(POLICE)
    sent = await intake.client.get(f"/api/v1/referrals/{referral_id}/as-sent", headers=police)
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["subjects"][0]["role"] == "child" and body["summary"]
    assert "rag" not in body and "timeline" not in body
    health = await intake.as_client(HEALTH)
    other = await intake.client.get(f"/api/v1/referrals/{referral_id}/as-sent", headers=health)
    assert other.status_code == 404


async def test_the_hub_settings_give_the_mash_contact(intake: Intake) -> None:
    await intake.as_user("school.dsl")
    settings = await intake.client.get("/api/v1/hub/settings")
    assert settings.status_code == 200, settings.text
    body = settings.json()
    assert body["contact"]["phone"] and "@" in body["contact"]["duty_mailbox"]
    assert {"agency_kind": "school", "opening_time": "08:30",
            "closing_time": "16:00"} in body["partner_hours"]
    assert body["rag_response_hours"]["red"] == 4.0
    intake.client.cookies.clear()
    assert (await intake.client.get("/api/v1/hub/settings")).status_code == 401
