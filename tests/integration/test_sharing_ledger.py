"""The lawful basis of every information request, in the sharing ledger beside the notices
to peer hubs; the ledger is for admins, auditors, board members and managers."""

from __future__ import annotations

from tests.integration.partners import HEALTH, Intake, agency_of

REPORT = {"rag": "amber", "rationale": "domestic abuse, child present, no injuries"}


async def test_each_information_request_records_its_legal_basis_in_the_ledger(
    intake: Intake,
) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.practitioner")
    tag = (await intake.client.get(f"/api/v1/referrals/{referral_id}")).headers["etag"]
    triaged = await intake.client.post(f"/api/v1/referrals/{referral_id}/triage",
                                       json=REPORT, headers={**csrf, "If-Match": tag})
    assert triaged.status_code == 200, triaged.text
    health = agency_of(intake, HEALTH)
    default = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
        json={"agency_id": health, "question": "Is the child known to A&E?"})
    assert default.status_code == 201, default.text
    assert default.json()["legal_basis"] == "Children Act 2004 s11 / DPA 2018 Sch 8"
    chosen = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
        json={"agency_id": health, "question": "Any missed appointments?",
              "legal_basis": "Children Act 1989 s47"})
    assert chosen.status_code == 201, chosen.text
    blank = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests", headers=csrf,
        json={"agency_id": health, "question": "x", "legal_basis": ""})
    assert blank.status_code == 422

    assert (await intake.client.get("/api/v1/peer-hubs/ledger")).status_code == 403
    await intake.as_user("board.member")
    ledger = await intake.client.get("/api/v1/peer-hubs/ledger")
    assert ledger.status_code == 200, ledger.text
    lines = {r["id"]: r["legal_basis"] for r in ledger.json()["information_requests"]}
    assert lines == {default.json()["id"]: "Children Act 2004 s11 / DPA 2018 Sch 8",
                     chosen.json()["id"]: "Children Act 1989 s47"}
    assert "A&E" not in ledger.text, "the ledger holds no questions"
