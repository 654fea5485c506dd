"""The auditor's view of the log: every read of one child's record (their person record
and each referral they are in), filters by agency and purpose, an extract as CSV that is
itself audited, and the chain's verification with its newest seal."""

from __future__ import annotations

import csv
import io

from tests.bodies import referral_body
from tests.integration.partners import Intake, child, read


async def test_an_auditor_finds_every_read_of_one_child_and_exports_it(intake: Intake) -> None:
    first = (await intake.submit()).json()["id"]
    other = (await intake.submit(referral_body(source="6", subjects=[child(
        given_name="Zed", family_name="Otherchild", date_of_birth="2016-02-02",
        nhs_number=None)]))).json()["id"]
    await intake.as_user("mash.practitioner")
    full, _ = await read(intake, first)
    await read(intake, other)
    person_id = full["subjects"][0]["person_id"]
    assert person_id, full["subjects"][0]
    assert (await intake.client.get(f"/api/v1/people/{person_id}")).status_code == 200

    await intake.as_user("auditor")
    page = await intake.client.get("/api/v1/audit", params={"person_id": person_id,
                                                             "action": "read"})
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert {(e["record_type"], e["record_id"]) for e in items} == {
        ("referral", first), ("person", person_id)}
    assert all(e["actor"] and e["at"] and e["purpose"] for e in items)
    assert other not in {e["record_id"] for e in items}, "another child's reads are not listed"
    staff_agency = items[0]["agency_id"]
    by_purpose = (await intake.client.get("/api/v1/audit", params={
        "person_id": person_id, "purpose": items[0]["purpose"],
        "agency_id": staff_agency})).json()["items"]
    assert by_purpose and all(e["purpose"] == items[0]["purpose"] for e in by_purpose)
    assert (await intake.client.get("/api/v1/audit", params={
        "agency_id": "no-such-agency"})).json()["items"] == []

    exported = await intake.client.get("/api/v1/audit/export",
                                       params={"person_id": person_id, "action": "read"})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["record_id"] for r in rows) == sorted(e["record_id"] for e in items)
    audited = (await intake.client.get("/api/v1/audit", params={"action": "export"})).json()
    (entry,) = audited["items"]
    assert entry["detail"]["person_id"] == person_id and entry["detail"]["entries"] == 2

    await intake.as_user("mash.practitioner")
    refused = await intake.client.get("/api/v1/audit/export")
    assert refused.status_code == 403, "only auditors export the log"


async def test_the_chain_verification_gives_its_status_and_newest_seal(intake: Intake) -> None:
    referral_id = (await intake.submit()).json()["id"]
    await intake.as_user("mash.practitioner")
    await read(intake, referral_id)
    await intake.as_user("auditor")
    checked = await intake.client.get("/api/v1/audit/verification")
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["ok"] is True and body["problems"] == [] and body["entries"] >= 2
    assert "last_checkpoint" in body
    await intake.as_user("school.dsl")
    assert (await intake.client.get("/api/v1/audit/verification")).status_code == 403
