"""The person index: the same child across agencies recognised as one person, explainably
and reversibly, with match reviews for the cases the model is unsure of. Every test runs
against the referral service on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import delete, select

from services.referral.audit.service import verify_chain
from services.referral.matching import MatchModel, PersonRecord, best_match
from services.referral.people.linking import index_earlier_subjects
from services.referral.people.models import (
    BlockingKey,
    PersonIdentifier,
    PersonLink,
    SubjectDetails,
)
from services.referral.referrals.models import Referral
from shared.outbox import OutboxMessage
from tests.auth import load_credentials
from tests.bodies import referral_body
from tests.integration.hub import hub_settings, start_hub
from tests.integration.partners import HEALTH, POLICE, Intake

DOB = "2012-04-02"
HOME = {"line1": "1 Test Street", "town": "Northshire", "postcode": "S60 1AA"}
NAN_S_HOUSE = {"line1": "14 Mill Lane", "town": "Northshire", "postcode": "S61 2BB"}
DECISIONS = {"link": "linked", "review": "review", "new": "new"}


def child(given: str, family: str, **more: Any) -> dict[str, Any]:
    return {"role": "child", "given_name": given, "family_name": family,
            "date_of_birth": DOB, "sex": "F", "address": HOME, **more}


AMY_POLICE = child("Amy", "Jones")
AMELIA_HEALTH = child("Amelia", "Jones", nhs_number="9990000018", source="3E")
AMY_SCHOOL = child("Amy", "Jones-Smith", upn="H801200001001", address=NAN_S_HOUSE)


def record(subject: dict[str, Any]) -> PersonRecord:
    address = subject.get("address") or {}
    return PersonRecord(
        given_name=subject.get("given_name"), family_name=subject.get("family_name"),
        date_of_birth=date.fromisoformat(subject["date_of_birth"])
        if subject.get("date_of_birth") else None,
        sex=subject.get("sex"), postcode=address.get("postcode"),
        address_line1=address.get("line1"), nhs_number=subject.get("nhs_number"),
        upn=subject.get("upn"))


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


async def refer(hub: Intake, subject: dict[str, Any], client_id: str = POLICE,
                as_user: str | None = None) -> str:
    """Submit a referral about one child; its id."""
    subject = dict(subject)
    source = subject.get("source", "2A" if as_user else "6")
    body = referral_body(subjects=[{k: v for k, v in subject.items() if k != "source"}],
                         source=source)
    if client_id == POLICE and source.startswith("3"):
        client_id = HEALTH  # a health referral comes from the health system
    if as_user:
        headers = await hub.as_user(as_user)
        response = await hub.client.post("/api/v1/referrals", json=body, headers=headers)
    else:
        response = await hub.submit(body, client_id=client_id)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def subject_of(hub: Intake, referral_id: str) -> dict[str, Any]:
    """The (first) subject of a referral as MASH staff see it."""
    subject: dict[str, Any] = (await staff_read(hub, f"/api/v1/referrals/{referral_id}")
                               )["subjects"][0]
    return subject


async def staff_read(hub: Intake, path: str) -> dict[str, Any]:
    await hub.as_user("mash.practitioner")
    response = await hub.client.get(path)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def person(hub: Intake, person_id: str) -> dict[str, Any]:
    return await staff_read(hub, f"/api/v1/people/{person_id}")


async def review(hub: Intake, review_id: str) -> dict[str, Any]:
    return await staff_read(hub, f"/api/v1/match-reviews/{review_id}")


async def decide(hub: Intake, review_id: str, decision: str) -> Any:
    csrf = await hub.as_user("mash.manager")
    return await hub.client.post(f"/api/v1/match-reviews/{review_id}",
                                 json={"decision": decision, "reason": "checked with school"},
                                 headers=csrf)


def comparison(comparisons: list[dict[str, Any]], field: str) -> dict[str, Any]:
    return next(c for c in comparisons if c["field"] == field)


async def test_amy_amelia_and_amy_jones_smith_are_one_person_or_a_review_as_the_model_says(
    hub: Intake,
) -> None:
    model = MatchModel.load_default()
    police = await refer(hub, AMY_POLICE)
    health = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    school = await refer(hub, AMY_SCHOOL, as_user="school.dsl")

    amy = await subject_of(hub, police)
    assert amy["match"]["status"] == "new" and amy["person_id"]
    expected, _, score = best_match(model, record(AMELIA_HEALTH),
                                    [(amy["person_id"], record(AMY_POLICE))])
    amelia = await subject_of(hub, health)
    assert amelia["match"]["status"] == DECISIONS[expected]
    if expected == "link":
        assert amelia["person_id"] == amy["person_id"]
        found = await person(hub, amy["person_id"])
        decision = next(link for link in found["links"] if link["referral_id"] == health)
        assert decision["method"] == "probabilistic"
        comparisons = decision["comparisons"]
    else:
        assert expected == "review" and amelia["person_id"] is None
        comparisons = (await review(hub, amelia["match"]["review_id"]))["comparisons"]
    assert score is not None
    given = comparison(comparisons, "given_name")
    assert (given["subject_value"], given["candidate_value"]) == ("Amelia", "Amy")
    assert comparison(comparisons, "family_name")["agrees"] is True
    assert comparison(comparisons, "date_of_birth")["agrees"] is True
    assert sum(c["weight"] for c in comparisons) == pytest.approx(score.total_weight)

    known = [(amy["person_id"], record(AMY_POLICE))]
    if amelia["person_id"]:
        known.append((amelia["person_id"], record(AMELIA_HEALTH)))
    expected, expected_person, _ = best_match(model, record(AMY_SCHOOL), known)
    jones_smith = await subject_of(hub, school)
    assert jones_smith["match"]["status"] == DECISIONS[expected]
    if expected == "link":
        assert jones_smith["person_id"] == expected_person
    if expected == "review":
        opened = await review(hub, jones_smith["match"]["review_id"])
        assert opened["candidate"]["person_id"] == expected_person
        assert comparison(opened["comparisons"], "postcode")["agrees"] is False
        assert opened["thresholds"] == {"lower": model.lower, "upper": model.upper}


async def test_an_exact_nhs_number_links_at_once_and_the_chronology_spans_agencies(
    hub: Intake,
) -> None:
    first = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    again = await refer(hub, child("Millie", "Jones", nhs_number="999 000 0018",
                                   upn="H801200001001"), as_user="school.dsl")
    earlier, later = await subject_of(hub, first), await subject_of(hub, again)
    assert later["match"] == {"status": "linked", "review_id": None}
    assert later["person_id"] == earlier["person_id"]

    found = await person(hub, later["person_id"])
    assert [r["id"] for r in found["referrals"]] == [first, again]
    assert [r["source"] for r in found["referrals"]] == ["3E", "2A"]
    assert found["referrals"][1]["same_day_as"] == first
    assert found["referrals"][1]["link"] == f"/api/v1/referrals/{again}"
    assert {(i["type"], i["value"]) for i in found["identifiers"]} == {
        ("nhs_number", "9990000018"), ("upn", "H801200001001")}
    nhs = next(i for i in found["identifiers"] if i["type"] == "nhs_number")
    assert nhs["referral_id"] == first
    assert {n["given_name"] for n in found["names"]} == {"Amelia", "Millie"}
    assert found["dates_of_birth"] == [DOB] and found["sex"] == "F"
    methods = {link["referral_id"]: link["method"] for link in found["links"]}
    assert methods == {first: "new", again: "identifier"}


async def test_an_nhs_number_with_contradicting_details_goes_to_review(hub: Intake) -> None:
    first = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    stranger = {"role": "child", "given_name": "Kevin", "family_name": "Okonkwo",
                "date_of_birth": "2019-11-23", "sex": "M", "nhs_number": "9990000018",
                "address": NAN_S_HOUSE}
    second = await refer(hub, stranger)
    subject = await subject_of(hub, second)
    assert subject["match"]["status"] == "review" and subject["person_id"] is None
    opened = await review(hub, subject["match"]["review_id"])
    assert opened["status"] == "open" and opened["referral_id"] == second
    assert opened["candidate"]["person_id"] == (await subject_of(hub, first))["person_id"]
    assert comparison(opened["comparisons"], "nhs_number")["agrees"] is True
    assert comparison(opened["comparisons"], "date_of_birth")["agrees"] is False
    assert opened["subject"]["given_name"] == "Kevin"

    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == "mash.person.match_review_needed"))).all()
    assert len(rows) == 1
    event = json.loads(rows[0].payload)["data"]
    assert event["match_review_id"] == opened["id"] and event["referral_id"] == second
    assert "Kevin" not in rows[0].payload and "9990000018" not in rows[0].payload


async def test_a_review_decided_same_links_and_a_second_decision_is_409(hub: Intake) -> None:
    first = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    second = await refer(hub, {**AMELIA_HEALTH, "date_of_birth": "2013-09-30",
                               "given_name": "Amanda"})
    subject = await subject_of(hub, second)
    assert subject["match"]["status"] == "review"
    review_id = subject["match"]["review_id"]

    decided = await decide(hub, review_id, "same")
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "same" and decided.json()["status"] == "decided"
    again = await decide(hub, review_id, "different")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    person_id = (await subject_of(hub, first))["person_id"]
    assert (await subject_of(hub, second))["person_id"] == person_id
    found = await person(hub, person_id)
    link = next(x for x in found["links"] if x["referral_id"] == second)
    assert link["method"] == "review" and link["review_id"] == review_id
    assert link["decided_by"] and link["comparisons"]
    assert [r["id"] for r in found["referrals"]] == [first, second]
    assert found["referrals"][1]["same_day_as"] == first, "flags follow the decision"

    await hub.as_user("mash.practitioner")
    open_ones = (await hub.client.get("/api/v1/match-reviews",
                                      params={"status": "open"})).json()
    assert open_ones["items"] == []
    decided_ones = (await hub.client.get("/api/v1/match-reviews",
                                         params={"status": "decided"})).json()
    assert [r["id"] for r in decided_ones["items"]] == [review_id]


async def test_two_staff_deciding_one_review_at_once_one_wins(hub: Intake) -> None:
    await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    second = await refer(hub, {**AMELIA_HEALTH, "date_of_birth": "2013-09-30",
                               "given_name": "Amanda"})
    review_id = (await subject_of(hub, second))["match"]["review_id"]
    csrf = await hub.as_user("mash.manager")
    answers = await asyncio.gather(*(
        hub.client.post(f"/api/v1/match-reviews/{review_id}", json={"decision": decision},
                        headers=csrf) for decision in ("same", "different")))
    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = next(a for a in answers if a.status_code == 200).json()["decision"]
    found = await person(hub, (await subject_of(hub, second))["person_id"])
    assert [x["method"] for x in found["links"] if x["referral_id"] == second] == [
        "review" if winner == "same" else "new"]


async def test_a_review_decided_different_gives_the_subject_its_own_person(
    hub: Intake,
) -> None:
    first = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    second = await refer(hub, {**AMELIA_HEALTH, "date_of_birth": "2013-09-30",
                               "given_name": "Amanda"})
    review_id = (await subject_of(hub, second))["match"]["review_id"]
    assert (await decide(hub, review_id, "different")).status_code == 200
    theirs, ours = await subject_of(hub, first), await subject_of(hub, second)
    assert ours["person_id"] and ours["person_id"] != theirs["person_id"]
    assert ours["match"]["status"] == "new"
    found = await person(hub, ours["person_id"])
    assert [r["id"] for r in found["referrals"]] == [second]
    assert found["referrals"][0]["same_day_as"] is None


async def test_match_reviews_page_with_a_cursor(hub: Intake) -> None:
    await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    for given in ("Amanda", "Annabel", "Anya"):
        await refer(hub, {**AMELIA_HEALTH, "date_of_birth": "2013-09-30", "given_name": given})
    await hub.as_user("mash.practitioner")
    page = (await hub.client.get("/api/v1/match-reviews", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next"] == page["links"]["next"]
    rest = (await hub.client.get(page["next"])).json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    names = [r["subject"]["given_name"] for r in page["items"] + rest["items"]]
    assert names == ["Anya", "Annabel", "Amanda"]


async def test_undoing_a_link_restores_separate_people_and_is_audited(hub: Intake) -> None:
    first = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    wrong = await refer(hub, child("Amelia", "Jones", nhs_number="9990000018"))
    person_id = (await subject_of(hub, first))["person_id"]
    assert (await subject_of(hub, wrong))["person_id"] == person_id
    found = await person(hub, person_id)
    assert found["referrals"][1]["same_day_as"] == first
    link = next(x for x in found["links"] if x["referral_id"] == wrong)

    csrf = await hub.as_user("mash.manager")
    undone = await hub.client.post(link["undo"], json={"reason": "two children share it"},
                                   headers=csrf)
    assert undone.status_code == 200, undone.text
    assert [r["id"] for r in undone.json()["referrals"]] == [first]
    kept = next(x for x in undone.json()["links"] if x["id"] == link["id"])
    assert kept["undone_at"] and kept["undone_by"] and kept["undo"] is None
    again = await hub.client.post(link["undo"], json={"reason": "again"}, headers=csrf)
    assert again.status_code == 409

    moved = await subject_of(hub, wrong)
    assert moved["person_id"] not in (None, person_id)
    assert moved["match"]["status"] == "new"
    own = await person(hub, moved["person_id"])
    assert [r["id"] for r in own["referrals"]] == [wrong]
    assert own["referrals"][0]["same_day_as"] is None, "the flag is worked out again"
    assert own["links"][0]["reason"].endswith("two children share it")
    assert [i["value"] for i in own["identifiers"]] == ["9990000018"]

    await hub.as_user("auditor")
    log = (await hub.client.get("/api/v1/audit", params={"record_id": person_id})).json()
    actions = [(e["action"], e["purpose"]) for e in log["items"]]
    assert ("undo_person_link", "two children share it") in actions
    assert ("read", "triage") in actions
    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        _, problems = await verify_chain(uow)
    assert problems == []


async def test_twins_sharing_surname_birthday_and_address_are_not_linked(hub: Intake) -> None:
    lily = await refer(hub, child("Lily", "Jones"))
    rose = await refer(hub, child("Rose", "Jones"))
    first, second = await subject_of(hub, lily), await subject_of(hub, rose)
    assert second["match"]["status"] != "linked"
    assert second["person_id"] != first["person_id"]


async def test_partners_and_auditors_cannot_see_people_or_reviews(hub: Intake) -> None:
    referral_id = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    person_id = (await subject_of(hub, referral_id))["person_id"]
    police = await hub.as_client(POLICE)
    hub.client.cookies.clear()
    for path in (f"/api/v1/people/{person_id}", "/api/v1/match-reviews",
                 "/api/v1/match-reviews/x"):
        response = await hub.client.get(path, headers=police)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
    undo = await hub.client.post(f"/api/v1/people/{person_id}/links/x/undo",
                                 json={"reason": "x"}, headers=police)
    assert undo.status_code == 404
    limited = (await hub.client.get(f"/api/v1/referrals/{referral_id}",
                                    headers=await hub.as_client(HEALTH))).json()
    assert "subjects" not in limited
    await hub.as_user("auditor")
    assert (await hub.client.get(f"/api/v1/people/{person_id}")).status_code == 403
    await hub.as_user("mash.practitioner")
    missing = await hub.client.get("/api/v1/people/no-such-person")
    assert missing.status_code == 404


async def test_bad_review_decisions_and_undo_bodies_are_422_and_change_nothing(
    hub: Intake,
) -> None:
    await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    second = await refer(hub, {**AMELIA_HEALTH, "date_of_birth": "2013-09-30",
                               "given_name": "Amanda"})
    review_id = (await subject_of(hub, second))["match"]["review_id"]
    csrf = await hub.as_user("mash.manager")
    response = await hub.client.post(f"/api/v1/match-reviews/{review_id}",
                                     json={"decision": "maybe"}, headers=csrf)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "decision"]
    assert (await review(hub, review_id))["status"] == "open"


async def test_a_re_referral_is_flagged_through_the_person_without_an_identifier(
    hub: Intake,
) -> None:
    """Police know her by name only; health gave her NHS number months ago."""
    earlier = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        referral = await uow.session.get(Referral, earlier)
        assert referral is not None
        referral.received_at -= timedelta(days=120)
        uow.session.add(referral)
        await uow.commit()
    again = await refer(hub, {**AMELIA_HEALTH, "nhs_number": None})
    subject = await subject_of(hub, again)
    await hub.as_user("mash.practitioner")
    full = (await hub.client.get(f"/api/v1/referrals/{again}")).json()
    if subject["match"]["status"] == "linked":
        assert full["is_re_referral"] is True
    else:
        assert subject["match"]["status"] == "review"
        assert full["is_re_referral"] is False
        assert (await decide(hub, subject["match"]["review_id"], "same")).status_code == 200
        full = (await hub.client.get(f"/api/v1/referrals/{again}")).json()
        assert full["is_re_referral"] is True, "the decision re-derives the flag"


async def test_subjects_from_before_the_person_index_are_linked_by_the_upgrade_command(
    hub: Intake,
) -> None:
    earlier = await refer(hub, AMELIA_HEALTH, client_id=HEALTH)
    database = hub.hub.services["referral"].database
    async with database.unit_of_work() as uow:  # as if it came before migration 0007
        for table in (BlockingKey, PersonIdentifier, PersonLink, SubjectDetails):
            await uow.session.exec(delete(table))
        await uow.commit()
    assert (await subject_of(hub, earlier))["person_id"] is None
    later = await refer(hub, child("Amelia", "Jones", nhs_number="9990000018"))
    assert (await subject_of(hub, later))["match"]["status"] == "new"

    async with database.unit_of_work() as uow:
        assert await index_earlier_subjects(uow) == 1
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await index_earlier_subjects(uow) == 0, "safe to run again"
    linked = await subject_of(hub, earlier)
    assert linked["match"]["status"] == "linked"
    assert linked["person_id"] == (await subject_of(hub, later))["person_id"]
