"""Endpoints the web client needs, open to any client of the API: the MASH queue (most
urgent first, keyset-paged), the timeliness report and the agency and staff directories."""

from __future__ import annotations

from typing import Any

from services.referral.referrals.models import Referral
from tests.bodies import referral_body
from tests.integration.partners import HEALTH, Intake, agency_of, child, read


async def submit(intake: Intake, number: int, **changes: Any) -> str:
    body = referral_body(subjects=[child(nhs_number=None, given_name=f"Child{number}")],
                         external_reference=f"Q-{number}", **changes)
    response = await intake.submit(body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def triage(intake: Intake, referral_id: str, rag: str) -> None:
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, referral_id)
    response = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage",
                                        json={"rag": rag, "rationale": "screened"},
                                        headers={**csrf, "If-Match": tag})
    assert response.status_code == 200, response.text


async def test_the_queue_puts_immediate_risk_first_then_red_amber_green_unrated(
    intake: Intake,
) -> None:
    unrated = await submit(intake, 1)
    green = await submit(intake, 2)
    amber = await submit(intake, 3)
    red = await submit(intake, 4)
    at_risk = await submit(intake, 5, immediate_risk=True)
    decided = await submit(intake, 6)
    for referral_id, rag in ((green, "green"), (amber, "amber"), (red, "red"),
                             (decided, "green")):
        await triage(intake, referral_id, rag)
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, decided)
    assert (await intake.client.post(f"/api/v1/referrals/{decided}/decision", json={
        "outcome": "no_further_action", "rationale": "no concerns"},
        headers={**csrf, "If-Match": tag})).status_code == 200

    page = (await intake.client.get("/api/v1/referrals/queue")).json()

    assert [i["id"] for i in page["items"]] == [at_risk, red, amber, green, unrated]
    first = page["items"][0]
    assert first["immediate_risk"] and first["rag"] == "red"
    assert first["decision_due_at"] and first["decision_overdue"] is False
    assert first["concerns"] == [{"code": "3A", "description": "Domestic abuse: child"},
                                 {"code": "10A", "description": "Going missing"}]
    assert first["source_description"] == "Police"
    assert [(c["given_name"], c["date_of_birth"]) for c in first["children"]] == [
        ("Child5", "2012-04-02")], "the queue names the children"
    assert "summary" not in first, "the queue carries no narrative"
    assert page["links"]["next"] is None

    rated = (await intake.client.get("/api/v1/referrals/queue", params={"rag": "unrated"}))
    assert [i["id"] for i in rated.json()["items"]] == [unrated]
    new = (await intake.client.get("/api/v1/referrals/queue", params={"status": "received"}))
    assert [i["id"] for i in new.json()["items"]] == [at_risk, unrated], "red, not triaged"


async def test_queue_pages_follow_the_order_without_repeating_or_skipping(
    intake: Intake,
) -> None:
    ids = [await submit(intake, n) for n in range(5)]
    await triage(intake, ids[3], "red")
    csrf = await intake.as_user("mash.practitioner")
    assert csrf
    seen: list[str] = []
    path: str | None = "/api/v1/referrals/queue?limit=2"
    while path:
        page = (await intake.client.get(path)).json()
        assert len(page["items"]) <= 2
        seen += [i["id"] for i in page["items"]]
        if len(seen) == 2:  # a referral arriving mid-way lands where it belongs
            await submit(intake, 99, immediate_risk=True)
            await intake.as_user("mash.practitioner")
        path = page["links"]["next"]
    assert seen[0] == ids[3]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))


async def test_open_information_requests_and_their_deadline_show_in_the_queue(
    intake: Intake,
) -> None:
    referral_id = await submit(intake, 1)
    await triage(intake, referral_id, "amber")
    csrf = await intake.as_user("mash.practitioner")
    asked = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
        json={"agency_id": agency_of(intake, HEALTH), "question": "Known to A&E?"})
    assert asked.status_code == 201

    item = (await intake.client.get("/api/v1/referrals/queue")).json()["items"][0]

    assert item["status"] == "awaiting_information"
    assert item["open_information_requests"] == 1
    assert item["next_information_due_at"] == asked.json()["due_at"]
    assert item["information_overdue"] is False


async def test_partners_cannot_read_the_queue_or_the_report(intake: Intake) -> None:
    partner = await intake.as_client(HEALTH)
    intake.client.cookies.clear()
    assert (await intake.client.get("/api/v1/referrals/queue", headers=partner)
            ).status_code == 403
    assert (await intake.client.get("/api/v1/reports/timeliness", headers=partner)
            ).status_code == 403


async def test_the_timeliness_report_counts_decisions_in_time_and_overdue_by_agency(
    intake: Intake,
) -> None:
    on_time = await submit(intake, 1)
    late = await submit(intake, 2)
    await submit(intake, 3)
    await triage(intake, on_time, "green")
    csrf = await intake.as_user("mash.practitioner")
    _, tag = await read(intake, on_time)
    assert (await intake.client.post(f"/api/v1/referrals/{on_time}/decision", json={
        "outcome": "early_help", "rationale": "support"},
        headers={**csrf, "If-Match": tag})).status_code == 200
    async with intake.hub.services["referral"].database.unit_of_work() as uow:
        referral = await uow.session.get(Referral, late)
        assert referral is not None and referral.decision_due_at is not None
        referral.decision_due_at = referral.received_at  # due at once: overdue now
        uow.session.add(referral)
        await uow.commit()

    report = (await intake.client.get("/api/v1/reports/timeliness")).json()

    assert report["today"]["referrals_received"] == 3
    assert report["this_week"]["referrals_received"] == 3
    assert report["today"]["decisions"] == 1
    assert report["today"]["decided_in_time_percent"] == 100.0
    assert report["open_referrals"] == 2
    assert report["overdue_decisions"] == 1
    # The late decision on a police referral is the MASH's: no agency carries it.
    assert report["overdue_by_agency"] == []


async def test_staff_read_the_agency_directory_and_mash_staff_the_staff_names(
    intake: Intake,
) -> None:
    await intake.as_user("school.dsl")
    agencies = (await intake.client.get("/api/v1/agencies/directory")).json()
    assert {a["name"] for a in agencies} >= {"Northshire Police", "Riverside Academy"}
    assert set(agencies[0]) == {"id", "name", "kind"}
    assert (await intake.client.get("/api/v1/users/directory")).status_code == 403
    assert (await intake.client.get("/api/v1/agencies")).status_code == 403, "admin only"

    await intake.as_user("mash.practitioner")
    staff = (await intake.client.get("/api/v1/users/directory")).json()
    assert "Priya Shah (MASH social worker)" in {s["display_name"] for s in staff}
    assert "password" not in str(staff) and "totp" not in str(staff)
