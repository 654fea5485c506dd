"""Bad input gets a clear 4xx problem and changes nothing: cursors that decode but hold the
wrong values, timestamps without a zone, a FHIR document nested a thousand deep."""

from __future__ import annotations

import pytest

from services.referral.referrals.models import Referral
from shared.pagination import encode_cursor
from tests.integration.partners import HEALTH, Intake

# Cursors a client could make: each decodes, none holds a sort key this API gave out.
FORGED = [
    encode_cursor(),
    encode_cursor("x"),
    encode_cursor("not a time", "id"),
    encode_cursor("2026-13-40T00:00:00+00:00", "id"),
    encode_cursor("2026-01-05T09:00:00", "id"),  # no zone
    encode_cursor(None, None),
    encode_cursor([], {}),
    encode_cursor({"a": 1}, "id"),
    encode_cursor(1, 2, 3),
    encode_cursor(True, "id"),
    encode_cursor(10**30, "id"),
    encode_cursor(1.5, "id"),
    encode_cursor("2026-01-05T09:00:00+00:00", "id", "extra"),
    "bnVsbA",  # null
    "e30",  # {}
    "IiI",  # ""
    "MTIz",  # 123
    "W10",  # []
]
QUEUE_FORGED = [
    encode_cursor("a", 1, "2026-01-05T09:00:00+00:00", "id"),
    encode_cursor(0, 10**30, "2026-01-05T09:00:00+00:00", "id"),
    encode_cursor(0, 1, "yesterday", "id"),
    encode_cursor(0, 1, "2026-01-05T09:00:00", "id"),
]
AUDIT_FORGED = [encode_cursor("seven"), encode_cursor(10**30), encode_cursor(None),
                encode_cursor(2.5)]


def assert_bad_cursor(response: object) -> None:
    status = response.status_code  # type: ignore[attr-defined]
    assert status == 400, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.json()["title"] == "Bad cursor"  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/api/v1/referrals", "/api/v1/information-requests",
                                  "/api/v1/match-reviews"])
async def test_forged_cursors_are_refused_on_every_staff_list(intake: Intake, path: str) -> None:
    csrf = await intake.as_user("mash.manager")
    for cursor in FORGED:
        assert_bad_cursor(await intake.client.get(path, params={"cursor": cursor},
                                                  headers=csrf))


async def test_forged_cursors_are_refused_on_the_queue_and_the_audit_log(
    intake: Intake,
) -> None:
    csrf = await intake.as_user("mash.manager")
    for cursor in FORGED + QUEUE_FORGED:
        assert_bad_cursor(await intake.client.get("/api/v1/referrals/queue",
                                                  params={"cursor": cursor}, headers=csrf))
    intake.client.cookies.clear()
    csrf = await intake.as_user("auditor")
    for cursor in FORGED[:3] + AUDIT_FORGED:
        assert_bad_cursor(await intake.client.get("/api/v1/audit", params={"cursor": cursor},
                                                  headers=csrf))


async def test_forged_cursors_are_refused_on_a_partners_lists(intake: Intake) -> None:
    health = await intake.as_client(HEALTH)
    for path in ("/api/v1/referrals", "/api/v1/information-requests", "/api/v1/deliveries"):
        for cursor in FORGED:
            assert_bad_cursor(await intake.client.get(path, params={"cursor": cursor},
                                                      headers=health))


async def test_times_without_a_zone_are_refused_not_guessed(intake: Intake) -> None:
    referral_id = (await intake.submit()).json()["id"]
    csrf = await intake.as_user("mash.manager")
    listed = await intake.client.get("/api/v1/referrals",
                                     params={"received_from": "2026-01-05T09:00:00"},
                                     headers=csrf)
    assert listed.status_code == 422, listed.text
    assert listed.json()["errors"][0]["loc"] == ["query", "received_from"]
    read = await intake.client.get(f"/api/v1/referrals/{referral_id}", headers=csrf)
    asked = await intake.client.post(
        f"/api/v1/referrals/{referral_id}/information-requests",
        json={"agency_id": "00000000-0000-0000-0000-000000000000", "question": "Known?",
              "due_at": "2099-01-05T09:00:00"},
        headers={**csrf, "If-Match": read.headers["etag"]})
    assert asked.status_code == 422, asked.text
    assert asked.json()["errors"][0]["loc"] == ["body", "due_at"]
    intake.client.cookies.clear()
    csrf = await intake.as_user("auditor")
    audited = await intake.client.get("/api/v1/audit", params={"at_to": "2026-01-05T09:00"},
                                      headers=csrf)
    assert audited.status_code == 422, audited.text


async def test_a_fhir_document_nested_a_thousand_deep_gets_an_operation_outcome(
    intake: Intake,
) -> None:
    health = await intake.as_client(HEALTH)
    nested = '{"extension": [' * 500 + '"deep"' + "]}" * 500  # 1,000 levels
    body = ('{"resourceType": "ServiceRequest", "status": "active", "intent": "order", '
            f'"note": [{nested}]}}')
    before = await intake.count(Referral)
    answer = await intake.client.post("/fhir/r4/ServiceRequest", content=body,
                                      headers={**health,
                                               "content-type": "application/fhir+json"})
    assert answer.status_code == 400, answer.text
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "nested" in outcome["issue"][0]["diagnostics"]
    assert await intake.count(Referral) == before
