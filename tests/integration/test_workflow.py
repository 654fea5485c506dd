"""The MASH workflow: a referral from intake to decision, with deadlines nobody misses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from services.referral.app import create_service
from services.referral.intake.service import submit_referral
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ReferralCreate
from services.referral.workflow.deadlines import DeadlineScheduler
from services.referral.workflow.models import InformationRequest
from shared.auth import Principal
from shared.broker.memory import InProcessBroker
from shared.events import utcnow
from shared.outbox import OutboxMessage
from shared.settings import Settings
from tests.bodies import REFERRAL, referral_body
from tests.helpers import AWKWARD_INSTANTS, hub_clock_at
from tests.integration.partners import HEALTH, POLICE, Intake, agency_of, child, read

REPORT = {"rag": "amber", "rationale": "domestic abuse, child present, no injuries"}


async def events_of(intake: Intake, event_type: str) -> list[dict[str, Any]]:
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == event_type))).all()
    return [json.loads(row.payload) for row in rows]


async def test_a_referral_goes_from_intake_to_decision_and_everyone_hears(
    intake: Intake,
) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)

    triaged = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage",
                                       json=REPORT, headers={**csrf, "If-Match": tag})
    assert triaged.status_code == 200, triaged.text
    assert triaged.json()["status"] == "triaged" and triaged.json()["rag"] == "amber"
    assert triaged.json()["response_due_at"] and triaged.json()["decision_due_at"]

    health_agency = agency_of(intake, HEALTH)
    asked = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
        json={"agency_id": health_agency, "question": "Is the child known to A&E?"})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["id"]
    assert asked.headers["location"] == f"/api/v1/information-requests/{request_id}"

    health = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    inbox = (await intake.client.get("/api/v1/information-requests", headers=health)).json()
    assert [r["id"] for r in inbox["items"]] == [request_id]
    assert inbox["items"][0]["referral_id"] is None, "partners learn only the question"
    answered = await intake.client.post(f"/api/v1/information-requests/{request_id}/response",
                                        json={"text": "Seen once in 2025."}, headers=health)
    assert answered.status_code == 200 and answered.json()["status"] == "answered"

    csrf = await intake.as_user("mash.practitioner")
    full, tag = await read(intake, referral_id)
    assert full["status"] == "awaiting_information"
    decided = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/decision", headers={**csrf, "If-Match": tag},
        json={"outcome": "early_help", "rationale": "needs met by early help"})
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided" and decided.json()["outcome"] == "early_help"

    full, _ = await read(intake, referral_id)
    assert [t["what"] for t in full["timeline"]] == [
        "received", "triaged", "information_requested", "information_answered", "decided"]
    practitioner = demo_user_id(full, "decided")
    assert practitioner and full["decided_by"] == practitioner
    assert full["timeline"][3]["agency_id"] == health_agency

    police = await intake.as_client(POLICE)
    intake.client.cookies.clear()
    limited = (await intake.client.get(f"/api/v1/referrals/{referral_id}",
                                       headers=police)).json()
    assert limited["outcome"] == "early_help" and limited["decided_at"]

    decided_event = (await events_of(intake, "mash.referral.decided"))[0]["data"]
    assert decided_event["outcome"] == "early_help"
    assert decided_event["referring_agency_id"] == agency_of(intake, POLICE)
    created = (await events_of(intake, "mash.information_request.created"))[0]["data"]
    assert created["agency_id"] == health_agency and "referral_id" not in created
    for event_type in ("mash.referral.triaged", "mash.referral.decided",
                       "mash.information_request.created", "mash.information_request.answered"):
        payload = json.dumps(await events_of(intake, event_type))
        assert "Amy" not in payload and "domestic" not in payload and "A&E" not in payload


def demo_user_id(full: dict[str, Any], what: str) -> str | None:
    return next((t["actor"] for t in full["timeline"] if t["what"] == what), None)


async def test_changes_need_the_current_etag(intake: Intake) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    missing = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage", json=REPORT,
                                       headers=csrf)
    assert missing.status_code == 428
    first = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage", json=REPORT,
                                     headers={**csrf, "If-Match": tag})
    assert first.status_code == 200 and first.headers["etag"] != tag
    assert (tag, first.headers["etag"], first.json()["version"]) == ('"1"', '"2"', 2)
    # A second practitioner who read the referral before the first one's change:
    stale = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage",
                                     json={"rag": "green", "rationale": "x"},
                                     headers={**csrf, "If-Match": tag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    full, _ = await read(intake, referral_id)
    assert full["rag"] == "amber", "the first change was not overwritten"


async def test_two_practitioners_racing_with_the_same_etag_one_wins(intake: Intake) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    results = await asyncio.gather(*(
        intake.client.post(f"/api/v1/referrals/{referral_id}/triage",
                           json={"rag": rag, "rationale": rag},
                           headers={**csrf, "If-Match": tag})
        for rag in ("red", "amber", "green")))
    assert sorted(r.status_code for r in results) == [200, 412, 412]


@pytest.mark.parametrize(("steps", "action", "body"), [
    ([], "decision", {"outcome": "early_help", "rationale": "x"}),
    ([], "information-requests", {"agency_id": "a", "question": "q"}),
    (["triage"], "close", None),
    (["triage", "decide"], "triage", REPORT),
    (["triage", "decide"], "information-requests", {"agency_id": "a", "question": "q"}),
    (["triage"], "reopen", {"reason": "x"}),
])
async def test_invalid_transitions_are_409_problems(
    intake: Intake, steps: list[str], action: str, body: dict[str, Any] | None
) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.manager")
    for step in steps:
        _, tag = await read(intake, referral_id)
        path, payload = {"triage": ("triage", REPORT), "decide": (
            "decision", {"outcome": "early_help", "rationale": "x"})}[step]
        assert (await intake.client.post(f"/api/v1/referrals/{referral_id}/{path}",
                                         json=payload, headers={**csrf, "If-Match": tag})
                ).status_code == 200
    _, tag = await read(intake, referral_id)
    response = await intake.client.post(f"/api/v1/referrals/{referral_id}/{action}", json=body,
                                        headers={**csrf, "If-Match": tag})
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_decided_referral_is_reopened_on_record_then_decided_again(
    intake: Intake,
) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.manager")
    for path, payload in (("triage", REPORT),
                          ("decision", {"outcome": "no_further_action", "rationale": "x"}),
                          ("reopen", {"reason": "new information from school"}),
                          ("decision", {"outcome": "cin_assessment", "rationale": "y",
                                        "primary_need": "N1"}),
                          ("close", None)):
        _, tag = await read(intake, referral_id)
        response = await intake.client.post(f"/api/v1/referrals/{referral_id}/{path}",
                                            json=payload, headers={**csrf, "If-Match": tag})
        assert response.status_code == 200, (path, response.text)
    full, _ = await read(intake, referral_id)
    assert full["status"] == "closed" and full["outcome"] == "cin_assessment"
    assert full["primary_need"] == "N1"
    reopened = next(t for t in full["timeline"] if t["what"] == "reopened")
    assert reopened["detail"] == {"reason": "new information from school",
                                  "previous_outcome": "no_further_action"}
    await intake.as_user("auditor")
    log = (await intake.client.get("/api/v1/audit", params={"record_id": referral_id,
                                                          "action": "reopen"})).json()
    assert [e["purpose"] for e in log["items"]] == ["new information from school"]


async def test_a_practitioners_strategy_discussion_waits_for_a_manager_a_typed_name_is_not_one(
    intake: Intake,
) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    await intake.client.post(f"/api/v1/referrals/{referral_id}/triage", json=REPORT,
                             headers={**csrf, "If-Match": tag})
    _, tag = await read(intake, referral_id)
    s47 = {"outcome": "strategy_discussion", "rationale": "reasonable cause to suspect harm",
           "primary_need": "N1"}
    waiting = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/decision", json={**s47, "signed_off_by": "mash.manager"},
        headers={**csrf, "If-Match": tag})
    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["status"] == "awaiting_approval" and waiting.json()["outcome"] is None
    full, _ = await read(intake, referral_id)
    assert full["signed_off_by"] is None and full["decided_at"] is None
    assert full["pending_decision"]["outcome"] == "strategy_discussion"


async def test_an_outcome_leading_to_an_assessment_needs_the_primary_need(
    intake: Intake,
) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.manager")
    _, tag = await read(intake, referral_id)
    await intake.client.post(f"/api/v1/referrals/{referral_id}/triage", json=REPORT,
                             headers={**csrf, "If-Match": tag})
    _, tag = await read(intake, referral_id)
    body = {"outcome": "cin_assessment", "rationale": "needs assessing"}
    refused = await intake.client.post(f"/api/v1/referrals/{referral_id}/decision",
                                       json=body, headers={**csrf, "If-Match": tag})
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == [["body", "primary_need"]]
    assert (await read(intake, referral_id))[0]["outcome"] is None
    unknown = await intake.client.post(f"/api/v1/referrals/{referral_id}/decision",
                                       json={**body, "primary_need": "N10"},
                                       headers={**csrf, "If-Match": tag})
    assert unknown.status_code == 422
    nfa = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/decision", headers={**csrf, "If-Match": tag},
        json={"outcome": "no_further_action", "rationale": "no concerns once checked"})
    assert nfa.status_code == 200, nfa.text
    assert (await read(intake, referral_id))[0]["primary_need"] is None


async def test_partners_cannot_triage_decide_or_see_others_requests(intake: Intake) -> None:
    referral_id = (await intake.submit()).json()["id"]
    police = await intake.as_client(POLICE)
    assert (await intake.client.post(f"/api/v1/referrals/{referral_id}/triage", json=REPORT,
                                     headers={**police, "If-Match": '"1"'})).status_code == 403
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    await intake.client.post(f"/api/v1/referrals/{referral_id}/triage", json=REPORT,
                             headers={**csrf, "If-Match": tag})
    asked = (await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
        json={"agency_id": agency_of(intake, HEALTH), "question": "Known to you?"})).json()
    intake.client.cookies.clear()
    assert (await intake.client.get(f"/api/v1/information-requests/{asked['id']}",
                                    headers=police)).status_code == 404
    assert (await intake.client.post(f"/api/v1/information-requests/{asked['id']}/response",
                                     json={"text": "x"}, headers=police)).status_code == 404
    listed = (await intake.client.get("/api/v1/information-requests", headers=police)).json()
    assert listed["items"] == []
    health = await intake.as_client(HEALTH)
    url = f"/api/v1/information-requests/{asked['id']}/response"
    assert (await intake.client.post(url, json={"text": "No."}, headers=health)).status_code == 200
    assert (await intake.client.post(url, json={"text": "Again"}, headers=health)
            ).status_code == 409


async def test_immediate_risk_is_red_at_once_on_the_clock(intake: Intake) -> None:
    receipt = (await intake.submit(referral_body(immediate_risk=True))).json()
    await intake.as_user("mash.practitioner")
    full, _ = await read(intake, receipt["id"])
    received = datetime.fromisoformat(receipt["received_at"])
    assert full["rag"] == "red" and full["status"] == "received"
    assert datetime.fromisoformat(full["response_due_at"]) == received + timedelta(hours=4)
    assert datetime.fromisoformat(full["decision_due_at"]) == received + timedelta(hours=24)


async def test_same_child_same_day_is_linked_and_a_later_one_is_a_re_referral(
    intake: Intake,
) -> None:
    first = (await intake.submit()).json()["id"]
    second = (await intake.submit(client_id=HEALTH)).json()["id"]
    other_child = child(nhs_number="999 000 0026", given_name="Ben")
    unrelated = (await intake.submit(referral_body(subjects=[other_child]))).json()["id"]
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        earlier = await uow.session.get(Referral, first)
        assert earlier is not None
        earlier.received_at -= timedelta(days=200)  # as if it came in months ago
        earlier.same_day_as = None
        uow.session.add(earlier)
        later = await uow.session.get(Referral, second)
        assert later is not None
        later.received_at -= timedelta(days=200)
        uow.session.add(later)
        await uow.commit()
    third = (await intake.submit()).json()["id"]
    await intake.as_user("mash.manager")
    assert (await read(intake, second))[0]["same_day_as"] == first
    assert (await read(intake, unrelated))[0]["same_day_as"] is None
    latest, _ = await read(intake, third)
    assert latest["is_re_referral"] is True and latest["same_day_as"] is None
    assert (await read(intake, unrelated))[0]["is_re_referral"] is False


# The deadline scheduler ----------------------------------------------------------------

SYSTEM = Principal(subject="police-system", agency_id="police", roles=frozenset(
    {"partner_system"}), kind="client", token_id="t")


@pytest.fixture
async def referral_service(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    settings = Settings(data_dir=tmp_path, referral_database_url=database_url)
    service = create_service(settings, InProcessBroker())
    await service.migrate()
    try:
        yield service
    finally:
        await service.database.dispose()


async def overdue_events(service: Any) -> list[str]:
    async with service.database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage))).all()
    return sorted(row.event_type for row in rows if row.event_type.endswith("overdue"))


@pytest.fixture(params=list(AWKWARD_INSTANTS))
def awkward_instant(request: pytest.FixtureRequest) -> Iterator[datetime]:
    """The hub's clock at a Friday evening, a bank holiday's eve and a Sunday morning."""
    instant = AWKWARD_INSTANTS[request.param]
    with hub_clock_at(instant):
        yield instant


async def test_overdue_deadlines_are_announced_exactly_once_across_replicas_and_restarts(
    referral_service: Any, awkward_instant: datetime,
) -> None:
    database = referral_service.database
    async with database.unit_of_work() as uow:
        for _ in range(5):
            referral = await submit_referral(uow, ReferralCreate.model_validate(REFERRAL),
                                             SYSTEM)
            uow.session.add(InformationRequest(
                referral_id=referral.id, agency_id="health", question="q",
                due_at=utcnow() + timedelta(hours=1), created_by="x", created_at=utcnow()))
        await uow.commit()
        last_due = max((await uow.session.exec(select(Referral.decision_due_at))).all())
    assert last_due is not None

    now = utcnow()
    on_time = [DeadlineScheduler(database, clock=lambda: now) for _ in range(2)]
    assert [await s.run_once() for s in on_time] == [0, 0], "nothing is due yet"

    later = last_due + timedelta(minutes=1)  # after a weekend or a bank holiday, it may be
    replicas = [DeadlineScheduler(database, clock=lambda: later) for _ in range(2)]
    announced = await asyncio.gather(*(r.run_once() for r in replicas))
    assert sum(announced) == 10
    # A restart: new scheduler instances see nothing left to announce.
    restarted = DeadlineScheduler(database, clock=lambda: later + timedelta(hours=1))
    assert await restarted.run_once() == 0
    events = await overdue_events(referral_service)
    assert events == ["mash.information_request.overdue"] * 5 + [
        "mash.referral.decision_overdue"] * 5
    async with database.unit_of_work() as uow:
        requests = (await uow.session.exec(select(InformationRequest))).all()
    assert {r.status for r in requests} == {"overdue"}


async def test_a_decided_referral_is_never_announced_overdue(referral_service: Any) -> None:
    database = referral_service.database
    async with database.unit_of_work() as uow:
        referral = await submit_referral(uow, ReferralCreate.model_validate(REFERRAL), SYSTEM)
        referral.status = "decided"
        uow.session.add(referral)
        await uow.commit()
    scheduler = DeadlineScheduler(database, clock=lambda: utcnow() + timedelta(days=9))
    assert await scheduler.run_once() == 0
    assert await overdue_events(referral_service) == []


async def test_the_scheduler_runs_inside_the_hub(intake: Intake) -> None:
    scheduler = next(w for w in intake.hub.services["referral"].workers
                     if isinstance(w, DeadlineScheduler))
    referral_id = (await intake.submit()).json()["id"]
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        referral = await uow.session.get(Referral, referral_id)
        assert referral is not None
        referral.decision_due_at = utcnow() - timedelta(minutes=1)
        uow.session.add(referral)
        await uow.commit()
    assert await scheduler.run_once() == 1
    await intake.as_user("mash.manager")
    full, _ = await read(intake, referral_id)
    assert full["decision_overdue"] is True
    assert full["timeline"][-1]["what"] == "decision_overdue"
