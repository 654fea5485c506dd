"""The practitioner's day through the API: children named in every staff list, a queue
with a true total and a stable order, person search, allocation, case notes, strategy
discussions and manager approval (issue 15)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import col, select, update
from stdnum.gb.upn import calc_check_digit as upn_check

from services.referral.app import MIGRATIONS
from services.referral.audit.models import AuditEntry
from services.referral.people.search import PersonQuery, records_statement
from services.referral.queue.service import ORDER, QueueFilters, _filtered
from services.referral.referrals.models import Referral
from services.referral.staff import StaffDirectoryEntry
from shared.agencies import AgencyDirectoryEntry
from shared.db import Database
from shared.migrations import upgrade_to_head
from shared.outbox import OutboxMessage
from tests.bodies import referral_body
from tests.helpers import hub_clock_at
from tests.integration.partners import HEALTH, Intake, agency_of, child, read

MONDAY_MORNING = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Europe/London"))


async def submit(intake: Intake, **changes: Any) -> str:
    response = await intake.submit(referral_body(**changes))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def change(intake: Intake, referral_id: str, action: str, body: dict[str, Any],
                 user: str = "mash.practitioner", expect: int = 200) -> dict[str, Any]:
    csrf = await intake.as_user(user)
    _, tag = await read(intake, referral_id)
    response = await intake.client.post(f"/api/v1/referrals/{referral_id}/{action}",
                                        json=body, headers={**csrf, "If-Match": tag})
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_every_staff_list_names_the_children_with_their_age_on_the_hubs_clock(
    intake: Intake,
) -> None:
    with hub_clock_at(MONDAY_MORNING):
        referral_id = await submit(intake, subjects=[
            child(given_name="Amy", family_name="Example", date_of_birth="2012-12-08"),
            {"role": "adult_of_concern", "given_name": "Sam", "family_name": "Sample"},
            child(given_name="Ben", family_name="Example", date_of_birth="2016-12-07",
                  nhs_number=None),
        ])
        expected = [
            {"given_name": "Amy", "family_name": "Example", "date_of_birth": "2012-12-08",
             "age": 13},  # 14 tomorrow
            {"given_name": "Ben", "family_name": "Example", "date_of_birth": "2016-12-07",
             "age": 10},  # 10 today
        ]
        csrf = await intake.as_user("mash.practitioner")
        queue = (await intake.client.get("/api/v1/referrals/queue")).json()
        assert queue["items"][0]["children"] == expected
        assert "summary" not in queue["items"][0], "no narrative in the queue"
        listed = (await intake.client.get("/api/v1/referrals")).json()
        assert listed["items"][0]["children"] == expected

        await change(intake, referral_id, "triage", {"rag": "amber", "rationale": "screened"})
        asked = await intake.client.post(
            f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
            json={"agency_id": agency_of(intake, HEALTH), "question": "Known to A&E?"})
        assert asked.status_code == 201, asked.text
        requests = (await intake.client.get("/api/v1/information-requests")).json()
        assert requests["items"][0]["children"] == expected
        one = (await intake.client.get(requests["items"][0]["links"]["self"])).json()
        assert one["children"] == expected

        partner = await intake.as_client(HEALTH)
        intake.client.cookies.clear()
        inbox = (await intake.client.get("/api/v1/information-requests",
                                         headers=partner)).json()
        assert inbox["items"][0]["children"] is None, "partners see only the question"
        police = await intake.as_client("northshire-police-system")
        own = (await intake.client.get("/api/v1/referrals", headers=police)).json()
        assert own["items"][0]["children"] is None


async def test_the_queue_has_a_true_total_and_equal_deadlines_in_order_of_receipt(
    intake: Intake,
) -> None:
    ids = [await submit(intake, external_reference=f"Q-{n}") for n in range(5)]
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        # Equal deadlines: the earliest received comes first, whatever the ids.
        await uow.session.exec(update(Referral).values(  # type: ignore[call-overload]
            decision_due_at=datetime(2026, 12, 8, 17, tzinfo=ZoneInfo("UTC"))))
        received = {r.id: r.received_at for r in (await uow.session.exec(
            select(Referral))).all()}
    by_receipt = sorted(ids, key=lambda i: (received[i], i))
    await intake.as_user("mash.practitioner")
    seen: list[str] = []
    path: str | None = "/api/v1/referrals/queue?limit=2"
    while path:
        page = (await intake.client.get(path)).json()
        assert page["total"] == 5, "the exact count on every page"
        seen += [i["id"] for i in page["items"]]
        path = page["links"]["next"]
    assert seen == by_receipt
    amber = (await intake.client.get("/api/v1/referrals/queue",
                                     params={"rag": "amber"})).json()
    assert amber["total"] == 0 and amber["items"] == []


async def test_the_queues_first_page_is_read_in_index_order_without_sorting(
    intake: Intake,
) -> None:
    await submit(intake)
    database = intake.hub.services["referral"].database
    assert database.is_sqlite
    query = _filtered(select(Referral), QueueFilters(), True).order_by(*ORDER).limit(51)
    async with database.unit_of_work() as uow:
        connection = await uow.session.connection()
        compiled = query.compile(connection.engine,  # type: ignore[attr-defined]
                                 compile_kwargs={"literal_binds": True})
        plan = (await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "ix_referrals_queue_order" in details, details
    assert "TEMP B-TREE" not in details, details


def a_upn(digits: str) -> str:
    return upn_check(digits + "A") + digits + "A"


async def index_family(intake: Intake) -> dict[str, str]:
    """Three children: William and Molly Example at one address, Amy Example at another;
    each child's person id by name."""
    home = {"line1": "2 Test Street", "town": "Northshire", "postcode": "s60 1aa"}
    await submit(intake, subjects=[child(
        given_name="William", family_name="Example", date_of_birth="2014-05-06",
        nhs_number="999 000 0026", upn=a_upn("81234567890"), address=home)])
    await submit(intake, subjects=[child(
        given_name="Molly", family_name="Example", date_of_birth="2018-01-09",
        nhs_number="999 000 0034", address={**home, "line1": "2 Test St."})])
    await submit(intake)  # Amy Example, 1 Test Street
    await intake.as_user("mash.practitioner")
    people: dict[str, str] = {}
    for item in (await intake.client.get("/api/v1/referrals")).json()["items"]:
        full, _ = await read(intake, item["id"])
        people[full["subjects"][0]["given_name"]] = full["subjects"][0]["person_id"]
    return people


async def found(intake: Intake, **params: str) -> list[str]:
    response = await intake.client.get("/api/v1/people", params=params)
    assert response.status_code == 200, response.text
    return [item["given_name"] for item in response.json()["items"]]


async def test_people_are_found_by_name_despite_typos_and_nicknames_and_by_identifiers(
    intake: Intake,
) -> None:
    people = await index_family(intake)
    assert await found(intake, q="Bill Example") == ["William"], "a nickname"
    assert await found(intake, q="Willaim Example") == ["William"], "a typo"
    assert await found(intake, q="william exmaple") == ["William"], "a typo, lower case"
    assert sorted(await found(intake, q="Example")) == ["Amy", "Molly", "William"]
    assert await found(intake, q="Molly Sample") == [], "another family"
    assert await found(intake, nhs_number="999 000 0026") == ["William"]
    assert await found(intake, upn=a_upn("81234567890").lower()) == ["William"]
    assert await found(intake, date_of_birth="2018-01-09") == ["Molly"]
    assert sorted(await found(intake, postcode="S601AA", q="Example")) == [
        "Amy", "Molly", "William"]
    assert await found(intake, q="Example", date_of_birth="2014-05-06") == ["William"]

    response = await intake.client.get("/api/v1/people", params={"q": "Bill Example"})
    item = response.json()["items"][0]
    assert item["id"] == people["William"]
    assert item["family_name"] == "Example" and item["date_of_birth"] == "2014-05-06"
    assert isinstance(item["age"], int) and item["referral_count"] == 1
    assert item["last_referral_at"]
    assert {(i["type"], i["value"]) for i in item["identifiers"]} == {
        ("nhs_number", "9990000026"), ("upn", a_upn("81234567890"))}
    assert item["link"] == f"/api/v1/people/{people['William']}"

    seen: list[str] = []
    path: str | None = "/api/v1/people?q=Example&limit=1"
    while path:
        page = (await intake.client.get(path)).json()
        assert len(page["items"]) <= 1
        seen += [i["id"] for i in page["items"]]
        path = page["links"]["next"]
    assert sorted(seen) == sorted(people.values())

    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        searches = (await uow.session.exec(select(AuditEntry).where(
            AuditEntry.record_type == "person", AuditEntry.action == "search"))).all()
    assert any('"q":"Bill Example"' in (e.detail or "") for e in searches)
    assert any('"nhs_number":"9990000026"' in (e.detail or "") for e in searches)


async def test_a_person_search_needs_a_term_valid_identifiers_and_mash_staff(
    intake: Intake,
) -> None:
    await intake.as_user("mash.practitioner")
    for params in ({}, {"q": "'--"}, {"nhs_number": "999 000 0019"}, {"upn": "A123"},
                   {"postcode": "nowhere"}, {"date_of_birth": "2014-13-01"}):
        response = await intake.client.get("/api/v1/people", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    partner = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    assert (await intake.client.get("/api/v1/people", params={"q": "Example"},
                                    headers=partner)).status_code == 403


async def test_a_persons_page_shows_the_household_and_links_with_their_undo(
    intake: Intake,
) -> None:
    people = await index_family(intake)
    person = (await intake.client.get(f"/api/v1/people/{people['William']}")).json()
    assert (person["given_name"], person["family_name"]) == ("William", "Example")
    assert person["date_of_birth"] == "2014-05-06" and isinstance(person["age"], int)
    assert [(m["id"], m["given_name"]) for m in person["household"]] == [
        (people["Molly"], "Molly")], "same address, written another way; not Amy"
    member = person["household"][0]
    assert member["address"]["postcode"] == "S60 1AA" and member["referral_count"] == 1
    assert member["link"] == f"/api/v1/people/{people['Molly']}"
    (link,) = person["links"]
    assert link["subject"] == {"role": "child", "given_name": "William",
                               "family_name": "Example", "date_of_birth": "2014-05-06"}
    assert link["method"] == "new" and link["undo"] is None, "a new person has no undo"
    await submit(intake, subjects=[child(given_name="Will", family_name="Example",
                                         date_of_birth="2014-05-06",
                                         nhs_number="999 000 0026")])
    await intake.as_user("mash.practitioner")
    person = (await intake.client.get(f"/api/v1/people/{people['William']}")).json()
    second = next(link for link in person["links"] if link["method"] != "new")
    assert second["subject"]["given_name"] == "Will"
    assert second["undo"] == f"/api/v1/people/{people['William']}/links/{second['id']}/undo"


async def user_id(intake: Intake, username: str) -> str:
    await intake.as_user(username)
    me = (await intake.client.get("/api/v1/me")).json()
    return str(me["subject"])


async def staff_known(intake: Intake, *user_ids: str) -> None:
    """Wait (bounded) until the referral service's staff directory has these users."""
    for _ in range(100):
        async with intake.hub.services["referral"].database.unit_of_work() as uow:
            known = (await uow.session.exec(select(StaffDirectoryEntry.user_id).where(
                col(StaffDirectoryEntry.user_id).in_(user_ids)))).all()
        if len(known) == len(user_ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the staff directory never heard of them")


async def allocate(intake: Intake, referral_id: str, to: str | None,
                   user: str = "mash.practitioner", expect: int = 200) -> Any:
    csrf = await intake.as_user(user)
    _, tag = await read(intake, referral_id)
    response = await intake.client.put(f"/api/v1/referrals/{referral_id}/assignee",
                                       json={"user_id": to},
                                       headers={**csrf, "If-Match": tag})
    assert response.status_code == expect, response.text
    return response.json()


async def queue_ids(intake: Intake, user: str, **params: str) -> list[str]:
    await intake.as_user(user)
    page = (await intake.client.get("/api/v1/referrals/queue", params=params)).json()
    return [item["id"] for item in page["items"]]


async def test_staff_allocate_referrals_to_themselves_or_a_colleague_and_filter_by_it(
    intake: Intake,
) -> None:
    mine, other = await submit(intake), await submit(intake, external_reference="B")
    priya = await user_id(intake, "mash.practitioner")
    morgan = await user_id(intake, "mash.manager")
    police = await user_id(intake, "police.officer")
    await staff_known(intake, priya, morgan, police)

    state = await allocate(intake, mine, priya)
    assert state["assignee"] == {"id": priya, "display_name": "Priya Shah (MASH social worker)"}
    full, _ = await read(intake, mine)
    assert full["assignee"] == state["assignee"]
    item = next(i for i in (await intake.client.get("/api/v1/referrals/queue")).json()["items"]
                if i["id"] == mine)
    assert item["assignee"] == state["assignee"]
    assert await queue_ids(intake, "mash.practitioner", assignee="me") == [mine]
    assert await queue_ids(intake, "mash.practitioner", assignee="none") == [other]
    assert await queue_ids(intake, "mash.manager", assignee="me") == []

    handed = await allocate(intake, mine, morgan)
    assert handed["assignee"] == {"id": morgan, "display_name": "Morgan Hale (MASH manager)"}
    assert await queue_ids(intake, "mash.manager", assignee="me") == [mine]
    for not_staff in (police, "no-such-user"):
        refused = await allocate(intake, other, not_staff, expect=422)
        assert refused["errors"][0]["loc"] == ["body", "user_id"]
    assert (await allocate(intake, mine, None))["assignee"] is None
    assert sorted(await queue_ids(intake, "mash.practitioner", assignee="none")) == sorted(
        [mine, other])

    full, tag = await read(intake, mine)
    lines = [(t["what"], t["detail"].get("assignee_id")) for t in full["timeline"]]
    assert lines[-3:] == [("assigned", priya), ("assigned", morgan), ("unassigned", None)]
    events = await outbox_events(intake, "mash.referral.assigned")
    assert [e["data"]["assignee_id"] for e in events] == [priya, morgan, None]
    assert set(events[0]["data"]) == {"referral_id", "assignee_id", "sequence", "links"}
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        audited = (await uow.session.exec(select(AuditEntry).where(
            AuditEntry.action == "assign", AuditEntry.record_id == mine))).all()
    assert len(audited) == 3

    csrf = await intake.as_user("mash.practitioner")
    path = f"/api/v1/referrals/{mine}/assignee"
    assert (await intake.client.put(path, json={"user_id": priya}, headers=csrf)
            ).status_code == 428
    assert (await intake.client.put(path, json={"user_id": priya},
                                    headers={**csrf, "If-Match": '"1"'})).status_code == 412
    partner = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    assert (await intake.client.put(path, json={"user_id": None},
                                    headers={**partner, "If-Match": tag})).status_code == 403


async def outbox_events(intake: Intake, event_type: str) -> list[dict[str, Any]]:
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == event_type).order_by(col(OutboxMessage.id)))).all()
    return [json.loads(row.payload) for row in rows]


async def agencies_known(intake: Intake, *agency_ids: str) -> None:
    """Wait (bounded) until the referral service's agency directory has these agencies."""
    for _ in range(100):
        async with intake.hub.services["referral"].database.unit_of_work() as uow:
            known = (await uow.session.exec(select(AgencyDirectoryEntry.agency_id).where(
                col(AgencyDirectoryEntry.agency_id).in_(agency_ids)))).all()
        if len(known) == len(agency_ids):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the agency directory never heard of them")


async def post(intake: Intake, path: str, body: dict[str, Any], user: str,
               expect: int, **headers: str) -> Any:
    csrf = await intake.as_user(user)
    response = await intake.client.post(path, json=body, headers={**csrf, **headers})
    assert response.status_code == expect, response.text
    return response.json()


async def test_case_notes_of_four_kinds_are_added_never_changed_and_in_the_chronology(
    intake: Intake,
) -> None:
    referral_id = await submit(intake)
    priya = await user_id(intake, "mash.practitioner")
    morgan = await user_id(intake, "mash.manager")
    await staff_known(intake, priya, morgan)
    path = f"/api/v1/referrals/{referral_id}/notes"
    _, tag = await read(intake, referral_id)
    note = await post(intake, path, {"text": "Rang school: attending.", "kind": "phone_call"},
                      "mash.practitioner", 201, **{"If-Match": tag})
    assert note["author"] == {"id": priya, "display_name": "Priya Shah (MASH social worker)"}
    assert note["id"] and note["created_at"] and note["kind"] == "phone_call"
    await post(intake, path, {"text": "Met the family support worker.", "kind": "meeting"},
               "mash.practitioner", 201)
    await post(intake, path, {"text": "Plain note."}, "mash.practitioner", 201)
    refused = await post(intake, path, {"text": "Looks fine.", "kind": "management_oversight"},
                         "mash.practitioner", 403)
    assert "manager" in refused["detail"]
    await post(intake, path, {"text": "Agree with the plan.", "kind": "management_oversight"},
               "mash.manager", 201)
    await post(intake, path, {"text": "stale"}, "mash.practitioner", 412, **{"If-Match": tag})
    await post(intake, path, {"text": ""}, "mash.practitioner", 422)
    await post(intake, path, {"text": "x", "kind": "gossip"}, "mash.practitioner", 422)

    await intake.as_user("mash.practitioner")
    listed = (await intake.client.get(path)).json()["items"]
    assert [(n["kind"], n["author"]["id"]) for n in listed] == [
        ("phone_call", priya), ("meeting", priya), ("note", priya),
        ("management_oversight", morgan)]
    for method in ("put", "patch", "delete"):
        response = await intake.client.request(method, f"{path}/{note['id']}")
        assert response.status_code in (404, 405), "no note is ever changed"
    full, _ = await read(intake, referral_id)
    notes = [t for t in full["timeline"] if t["what"] == "note"]
    assert (notes[0]["detail"]["kind"], notes[0]["detail"]["text"]) == (
        "phone_call", "Rang school: attending.")
    assert len(notes) == 4
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        audited = (await uow.session.exec(select(AuditEntry).where(
            AuditEntry.action == "add_note", AuditEntry.record_id == referral_id))).all()
    assert len(audited) == 4


async def test_a_strategy_discussion_records_agencies_outcome_reasons_and_actions(
    intake: Intake,
) -> None:
    referral_id = await submit(intake)
    police, health = agency_of(intake, "northshire-police-system"), agency_of(intake, HEALTH)
    await agencies_known(intake, police, health)
    await change(intake, referral_id, "triage", {"rag": "red", "rationale": "injury"})
    path = f"/api/v1/referrals/{referral_id}/strategy-discussions"
    body = {"held_at": "2026-12-04T10:00:00Z",
            "attendees": [{"agency_id": police, "name": "DS Ward", "role": "CAIT"},
                          {"agency_id": health, "name": "Dr Ng", "role": "Named doctor"}],
            "outcome": "s47_enquiry", "reasons": "Injury with no explanation.",
            "actions": [{"text": "Joint visit", "agency_id": police,
                         "due_at": "2026-12-05T12:00:00Z"}]}
    with hub_clock_at(datetime(2026, 12, 4, 12, tzinfo=ZoneInfo("UTC"))):
        recorded = await post(intake, path, body, "mash.practitioner", 201)
        assert recorded["outcome"] == "s47_enquiry" and recorded["id"]
        assert recorded["attendees"] == body["attendees"]
        assert recorded["actions"][0]["agency_id"] == police
        unknown = await post(intake, path, {**body, "attendees": [
            {"agency_id": "no-such-agency", "name": "X", "role": "Y"}]},
            "mash.practitioner", 422)
        assert unknown["errors"][0]["loc"] == ["body", "attendees", 0, "agency_id"]
        future = await post(intake, path, {**body, "held_at": "2026-12-05T10:00:00Z"},
                            "mash.practitioner", 422)
        assert future["errors"][0]["loc"] == ["body", "held_at"]
        await post(intake, path, {**body, "attendees": []}, "mash.practitioner", 422)
        await post(intake, path, {**body, "outcome": "maybe"}, "mash.practitioner", 422)
    await intake.as_user("mash.practitioner")
    listed = (await intake.client.get(path)).json()["items"]
    assert [d["id"] for d in listed] == [recorded["id"]]
    full, _ = await read(intake, referral_id)
    (line,) = [t for t in full["timeline"] if t["what"] == "strategy_discussion"]
    assert line["detail"]["outcome"] == "s47_enquiry"
    assert line["detail"]["agencies"] == sorted([police, health])
    partner = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    assert (await intake.client.get(path, headers=partner)).status_code == 403


S47 = {"outcome": "strategy_discussion", "rationale": "reasonable cause to suspect harm",
       "primary_need": "N1"}


async def awaiting_approval(intake: Intake) -> str:
    referral_id = await submit(intake)
    await change(intake, referral_id, "triage", {"rag": "red", "rationale": "injury"})
    state = await change(intake, referral_id, "decision", S47, expect=202)
    assert state["status"] == "awaiting_approval"
    assert state["pending_decision"]["outcome"] == "strategy_discussion"
    return referral_id


async def test_a_manager_approves_a_practitioners_decision_from_the_approval_queue(
    intake: Intake,
) -> None:
    priya = await user_id(intake, "mash.practitioner")
    morgan = await user_id(intake, "mash.manager")
    await staff_known(intake, priya, morgan)
    referral_id = await awaiting_approval(intake)
    other = await submit(intake, external_reference="other")
    assert await queue_ids(intake, "mash.manager", status="awaiting_approval") == [referral_id]
    queue = (await intake.client.get("/api/v1/referrals/queue")).json()
    pending = {i["id"]: i["pending_decision"] for i in queue["items"]}
    assert pending[referral_id]["outcome"] == "strategy_discussion"
    assert pending[referral_id]["proposed_by"] == priya and pending[other] is None
    assert set(await queue_ids(intake, "mash.manager")) == {referral_id, other}
    (waiting,) = await outbox_events(intake, "mash.referral.awaiting_approval")
    assert waiting["data"]["referral_id"] == referral_id
    assert waiting["data"]["outcome"] == "strategy_discussion"
    assert await outbox_events(intake, "mash.referral.decided") == []

    approval = "decision/approval"
    refused = await change(intake, referral_id, approval, {"approve": True},
                           user="mash.practitioner", expect=403)
    assert "manager" in refused["detail"]
    await change(intake, referral_id, "decision", S47, user="mash.manager", expect=409)
    await change(intake, referral_id, "triage", {"rag": "amber", "rationale": "x"}, expect=409)

    approved = await change(intake, referral_id, approval,
                            {"approve": True, "comment": "agreed"}, user="mash.manager")
    assert approved["status"] == "decided" and approved["outcome"] == "strategy_discussion"
    full, _ = await read(intake, referral_id)
    assert full["decided_by"] == priya
    assert full["approved_by"] == {"id": morgan, "display_name": "Morgan Hale (MASH manager)"}
    assert full["pending_decision"] is None and full["decision_rationale"] == S47["rationale"]
    line = full["timeline"][-1]
    assert line["what"] == "decided" and line["actor"] == morgan
    assert line["detail"]["approved_by"] == morgan and line["detail"]["proposed_by"] == priya
    (decided,) = await outbox_events(intake, "mash.referral.decided")
    assert decided["data"]["outcome"] == "strategy_discussion"
    await change(intake, referral_id, approval, {"approve": True}, user="mash.manager",
                 expect=409)


async def test_a_manager_returns_a_decision_to_triage_with_a_comment(intake: Intake) -> None:
    referral_id = await awaiting_approval(intake)
    approval = "decision/approval"
    missing = await change(intake, referral_id, approval, {"approve": False},
                           user="mash.manager", expect=422)
    assert missing["errors"][0]["loc"] == ["body", "comment"]
    returned = await change(intake, referral_id, approval,
                            {"approve": False, "comment": "Ask health first."},
                            user="mash.manager")
    assert returned["status"] == "triaged" and returned["outcome"] is None
    full, _ = await read(intake, referral_id)
    assert full["pending_decision"] is None
    line = full["timeline"][-1]
    assert line["what"] == "approval_refused"
    assert line["detail"]["comment"] == "Ask health first."
    assert line["detail"]["outcome"] == "strategy_discussion"
    assert await outbox_events(intake, "mash.referral.decided") == []
    csrf = await intake.as_user("mash.manager")
    _, tag = await read(intake, referral_id)
    response = await intake.client.post(f"/api/v1/referrals/{referral_id}/decision",
                                        json=S47, headers={**csrf, "If-Match": tag})
    assert response.status_code == 200, "a manager decides at once"
    assert response.json()["status"] == "decided"
    full, _ = await read(intake, referral_id)
    assert full["approved_by"] is None and full["decided_by"] == (
        await user_id(intake, "mash.manager"))


async def test_person_searches_seek_indexes_and_never_scan_the_index_records(
    intake: Intake,
) -> None:
    await index_family(intake)
    database = intake.hub.services["referral"].database
    assert database.is_sqlite
    queries = [PersonQuery(q="Bill Example"), PersonQuery(q="Example"),
               PersonQuery(date_of_birth=date(2014, 5, 6)), PersonQuery(postcode="S60 1AA"),
               PersonQuery(q="William Exmaple", date_of_birth=date(2014, 5, 6))]
    async with database.unit_of_work() as uow:
        connection = await uow.session.connection()
        for query in queries:
            statement = records_statement(query, None)
            compiled = statement.compile(connection.engine,  # type: ignore[attr-defined]
                                         compile_kwargs={"literal_binds": True})
            plan = (await connection.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
            details = " | ".join(str(row[-1]) for row in plan)
            assert "SCAN person_records" not in details, (query, details)


async def test_person_searches_by_two_names_seek_indexes_on_postgresql(
    postgres_database: str,
) -> None:
    """A given and a family name find records three ways (a shared name key, or one name
    exact and the other's initial). ORed as three conditions, PostgreSQL could not seek
    the name keys' subquery and read every record to test it (80 ms a search at 100,000
    referrals); as a union of subject ids each way seeks an index. With sequential scans
    priced out, a plan that still scans the records has no other way."""
    database = Database(postgres_database)
    try:
        await upgrade_to_head(database, MIGRATIONS, "referral")
        async with database.engine.connect() as connection:
            await connection.execute(text("SET enable_seqscan = off"))
            for query in (PersonQuery(q="Bill Example"), PersonQuery(q="Mason-Todd"),
                          PersonQuery(q="Amy Mason-Todd", date_of_birth=date(2014, 5, 6))):
                compiled = records_statement(query, None).compile(
                    database.engine.sync_engine, compile_kwargs={"literal_binds": True})
                plan = (await connection.execute(text(f"EXPLAIN {compiled}"))).all()
                details = " | ".join(str(row[0]) for row in plan)
                assert "Seq Scan" not in details, (query, details)
                assert "person_blocking_keys" in details, "the name keys are one way"
    finally:
        await database.dispose()
