"""A looked-after child's placement and child protection plan, as the referrer gives them:
validated, stored, and shown to MASH staff on the referral and in its chronology."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.referral.referrals.models import Referral
from tests.bodies import referral_body
from tests.integration.partners import Intake, child

PLACED = {"placing_la_code": "372", "host_la_code": "373", "placed_at": "2026-09-01"}


async def test_the_placement_and_plan_are_shown_on_the_referral_and_in_its_chronology(
    intake: Intake,
) -> None:
    receipt = (await intake.submit(referral_body(subjects=[
        child(looked_after=PLACED, child_protection_plan="current")]))).json()
    await intake.as_user("mash.practitioner")
    full = (await intake.client.get(f"/api/v1/referrals/{receipt['id']}")).json()
    assert full["subjects"][0]["looked_after"] == PLACED
    assert full["subjects"][0]["child_protection_plan"] == "current"
    line = next(t for t in full["timeline"] if t["what"] == "children_status_recorded")
    assert line["detail"]["children"] == [
        {"position": 0, "looked_after": PLACED, "child_protection_plan": "current"}]


async def test_a_referral_without_them_has_no_such_chronology_line(intake: Intake) -> None:
    receipt = (await intake.submit(referral_body(subjects=[child()]))).json()
    await intake.as_user("mash.practitioner")
    full = (await intake.client.get(f"/api/v1/referrals/{receipt['id']}")).json()
    assert full["subjects"][0]["looked_after"] is None
    assert "children_status_recorded" not in [t["what"] for t in full["timeline"]]


# Two days ahead, not one: the date is taken when the tests are collected, and a run that
# crosses midnight (UTC, as the hub's "today" is) would otherwise send today's date.
IN_TWO_DAYS = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()


@pytest.mark.parametrize(("subject", "loc"), [
    (child(looked_after={**PLACED, "host_la_code": "Rotherham"}),
     ["body", "subjects", 0, "looked_after", "host_la_code"]),
    (child(looked_after={"placing_la_code": "372"}),
     ["body", "subjects", 0, "looked_after", "host_la_code"]),
    (child(looked_after={**PLACED, "placed_at": IN_TWO_DAYS}),
     ["body", "subjects", 0, "looked_after", "placed_at"]),
    (child(child_protection_plan="maybe"), ["body", "subjects", 0, "child_protection_plan"]),
])
async def test_a_bad_placement_is_named_and_nothing_is_stored(
    intake: Intake, subject: dict[str, object], loc: list[object],
) -> None:
    response = await intake.submit(referral_body(subjects=[subject]))
    assert response.status_code == 422, response.text
    assert loc in [e["loc"] for e in response.json()["errors"]]
    assert await intake.count(Referral) == 0


async def test_only_a_child_is_looked_after(intake: Intake) -> None:
    response = await intake.submit(referral_body(subjects=[
        child(), {"role": "adult_of_concern", "given_name": "Sam", "looked_after": PLACED}]))
    assert response.status_code == 422
    assert await intake.count(Referral) == 0


async def test_the_person_shows_the_latest_placement_and_plan_any_referral_gave(
    intake: Intake,
) -> None:
    first = (await intake.submit(referral_body(subjects=[child(
        looked_after=PLACED, child_protection_plan="current")]))).json()
    moved = {**PLACED, "host_la_code": "374"}
    second = (await intake.submit(referral_body(subjects=[child(looked_after=moved)]))).json()
    await intake.submit(referral_body(subjects=[child()]))  # says nothing of either
    await intake.as_user("mash.practitioner")
    full = (await intake.client.get(f"/api/v1/referrals/{second['id']}")).json()
    person = (await intake.client.get(
        f"/api/v1/people/{full['subjects'][0]['person_id']}")).json()
    assert len(person["referrals"]) == 3
    assert {k: person["looked_after"][k] for k in PLACED} == moved
    assert person["looked_after"]["referral_id"] == second["id"]
    assert person["child_protection_plan"]["status"] == "current"
    assert person["child_protection_plan"]["referral_id"] == first["id"]
