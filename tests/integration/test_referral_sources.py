"""A partner speaks for its own kind of agency: a health system cannot pose as the police
(a police source would tell a school, Operation Encompass); MASH staff may record a
referral on another's behalf, and its chronology says so."""

from __future__ import annotations

from services.referral.referrals.models import Referral
from shared.outbox import OutboxMessage
from tests.bodies import referral_body
from tests.integration.partners import HEALTH, POLICE, Intake, child


async def test_a_health_system_cannot_post_a_police_referral(intake: Intake) -> None:
    body = referral_body(source="6", subjects=[child(school_urn="999001")])
    answer = await intake.submit(body, client_id=HEALTH)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"] == [{"loc": ["body", "source"],
                                  "msg": "not a health agency's source"}]
    assert "3A, 3B, 3C, 3D, 3E, 3F" in problem["detail"]
    assert await intake.count(Referral) == 0
    assert await intake.count(OutboxMessage) == 0, "no school is told of anything"


SERVICE_REQUEST = {
    "resourceType": "ServiceRequest", "status": "active", "intent": "order",
    "contained": [{"resourceType": "Patient", "id": "child", "birthDate": "2014-03-09",
                   "name": [{"family": "Example", "given": ["Amy"]}]}],
    "subject": {"reference": "#child"},
    "requester": {"display": "Dr A Example, emergency department"},
    "reasonCode": [{"text": "synthetic: bruising seen at A&E"}],
}


async def test_the_police_cannot_post_a_gps_referral_nor_a_fhir_one(intake: Intake) -> None:
    answer = await intake.submit(referral_body(source="3A"), client_id=POLICE)
    assert answer.status_code == 422, answer.text
    police = await intake.as_client(POLICE)
    fhir = await intake.client.post("/fhir/r4/ServiceRequest", json=SERVICE_REQUEST,
                                    headers={**police, "content-type": "application/fhir+json"})
    assert fhir.status_code == 422, fhir.text
    outcome = fhir.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["ServiceRequest.category"]
    assert await intake.count(Referral) == 0


async def test_each_partner_posts_its_own_kind_of_referral(intake: Intake) -> None:
    assert (await intake.submit(referral_body(source="6"), client_id=POLICE)).status_code == 201
    assert (await intake.submit(referral_body(source="3E"), client_id=HEALTH)).status_code == 201


async def test_mash_staff_record_a_referral_on_anothers_behalf_and_the_record_says_so(
    intake: Intake,
) -> None:
    csrf = await intake.as_user("mash.practitioner")
    answer = await intake.client.post("/api/v1/referrals", json=referral_body(source="6"),
                                      headers=csrf)
    assert answer.status_code == 201, answer.text
    full = (await intake.client.get(answer.json()["links"]["self"])).json()
    received = full["timeline"][0]
    assert received["what"] == "received"
    assert received["detail"]["recorded_by_mash_for_source"] == "6"
    own = await intake.client.post("/api/v1/referrals", json=referral_body(source="5A"),
                                   headers=csrf)
    assert own.status_code == 201
    own_full = (await intake.client.get(own.json()["links"]["self"])).json()
    assert "recorded_by_mash_for_source" not in own_full["timeline"][0]["detail"]
