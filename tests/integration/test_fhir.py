"""FHIR R4 intake: health systems refer a child with a ServiceRequest, through the hub.

Published examples (NHS England BaRS, HL7 FHIR R4) are in tests/fixtures/fhir with a note
of their source; the synthetic resources below use test-range NHS numbers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.servicerequest import ServiceRequest
from sqlmodel import func, select

from mash.gateway import Hub
from services.referral.fhir.mapping import (
    CIN_FACTOR_SYSTEM,
    CIN_SOURCE_SYSTEM,
    CONSENT_EXTENSION,
)
from services.referral.fhir.outcome import REFERENCE_SYSTEM
from services.referral.fhir.patient import NHS_NUMBER_SYSTEM
from services.referral.referrals.models import Referral, ReferralSubject
from shared.events import CloudEvent
from shared.outbox import OutboxMessage
from tests.auth import client_token, demo_client, load_credentials
from tests.integration.hub import BASE, hub_settings, start_hub

HEALTH = "northshire-health-system"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "fhir"
FHIR_JSON = "application/fhir+json"
BARS = "bars-999-to-cas-servicerequest-bundle.json"


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return document


def contained_request() -> dict[str, Any]:
    """A synthetic ServiceRequest carrying its Patient, Practitioner and PractitionerRole."""
    return {
        "resourceType": "ServiceRequest",
        "contained": [
            {"resourceType": "Patient", "id": "child",
             "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": "999 000 0026"}],
             "name": [{"use": "official", "family": "Example", "given": ["Amy", "Jane"]},
                      {"use": "nickname", "given": ["Mimi"]}],
             "gender": "female", "birthDate": "2014-03-09",
             "address": [{"use": "home", "line": ["1 Test Street", "Flat 2"],
                          "city": "Northshire", "postalCode": "s60 1aa"}]},
            {"resourceType": "Practitioner", "id": "dr",
             "name": [{"prefix": ["Dr"], "given": ["Priya"], "family": "Shah"}],
             "telecom": [{"system": "phone", "value": "01632 960002"},
                         {"system": "email", "value": "p.shah@nhs.example"}]},
            {"resourceType": "PractitionerRole", "id": "dr-role",
             "practitioner": {"reference": "#dr"}, "code": [{"text": "Paediatric registrar"}]},
        ],
        "extension": [{"url": CONSENT_EXTENSION, "extension": [
            {"url": "status", "valueCode": "not_sought"},
            {"url": "reason", "valueString": "would increase risk to the child"}]}],
        "identifier": [{"system": "https://health.example/referrals", "value": "NHT-2026-0042"}],
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "category": [{"coding": [{"system": CIN_SOURCE_SYSTEM, "code": "3E"}]}],
        "code": {"text": "Referral to children's social care"},
        "subject": {"reference": "#child"},
        "requester": {"reference": "#dr-role"},
        "reasonCode": [
            {"coding": [{"system": CIN_FACTOR_SYSTEM, "code": "18C"}],
             "text": "Unexplained bruising"},
            {"coding": [{"system": CIN_FACTOR_SYSTEM, "code": "16A"}]},
        ],
        "note": [{"text": "Synthetic: seen in A&E with bruising inconsistent with the "
                          "account given."}],
    }


def bars_collection(*, message_header: bool = False) -> dict[str, Any]:
    """NHS England's BaRS example as a collection Bundle (it is published as a message)."""
    bundle = fixture(BARS)
    bundle["type"] = "collection"
    if not message_header:
        bundle["entry"] = [e for e in bundle["entry"]
                           if e["resource"]["resourceType"] != "MessageHeader"]
    return bundle


def relative_transaction() -> dict[str, Any]:
    """A synthetic transaction Bundle whose ServiceRequest refers to ``Patient/p1``."""
    return {
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:5d7c1f7e-8f9c-4a43-9a3c-0d6a4f0e2b11",
             "resource": {"resourceType": "ServiceRequest", "status": "active",
                          "intent": "order", "subject": {"reference": "Patient/p1"},
                          "requester": {"display": "Nurse Sam Okafor"},
                          "reasonCode": [{"text": "Disclosed neglect at home"}]},
             "request": {"method": "POST", "url": "ServiceRequest"}},
            {"fullUrl": "https://health.example/fhir/Patient/p1",
             "resource": {"resourceType": "Patient", "id": "p1",
                          "name": [{"text": "Sam Sample"}], "gender": "unknown"},
             "request": {"method": "PUT", "url": "Patient/p1"}},
        ],
    }


def as_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """A collection Bundle as a transaction: every entry POSTed."""
    transaction = copy.deepcopy(bundle)
    transaction["type"] = "transaction"
    for entry in transaction["entry"]:
        entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return transaction


def collection(*resources: dict[str, Any]) -> dict[str, Any]:
    """A collection Bundle of ``resources`` with RESTful fullUrls."""
    return {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": f"http://hl7.org/fhir/{r['resourceType']}/{r['id']}", "resource": r}
        for r in resources]}


def hl7_physiotherapy_for(patient: dict[str, Any]) -> dict[str, Any]:
    """HL7's physiotherapy ServiceRequest, pointed at ``patient``, bundled with it."""
    request = fixture("hl7-r4-servicerequest-example2.json")
    request["subject"] = {"reference": f"Patient/{patient['id']}"}
    return collection(request, patient)


@dataclass
class FhirHub:
    hub: Hub
    client: httpx.AsyncClient
    health_agency_id: str

    async def post(self, document: object, content_type: str = FHIR_JSON,
                   **headers: str) -> httpx.Response:
        content = document if isinstance(document, bytes) else json.dumps(document).encode()
        return await self.client.post("/fhir/r4/ServiceRequest", content=content,
                                      headers={"content-type": content_type, **headers})

    @contextmanager
    def anonymous(self) -> Iterator[httpx.AsyncClient]:
        """The client without its bearer token, for the length of the block."""
        token = self.client.headers.pop("authorization")
        try:
            yield self.client
        finally:
            self.client.headers["authorization"] = token

    async def stored(self, referral_id: str) -> tuple[Referral, list[ReferralSubject]]:
        async with self.hub.services["referral"].database.unit_of_work() as uow:
            referral = (await uow.session.exec(
                select(Referral).where(Referral.id == referral_id))).one()
            subjects = (await uow.session.exec(
                select(ReferralSubject).where(ReferralSubject.referral_id == referral_id)
                .order_by(ReferralSubject.position))).all()  # type: ignore[arg-type]
            return referral, list(subjects)

    async def events(self) -> list[CloudEvent]:
        async with self.hub.services["referral"].database.unit_of_work() as uow:
            rows = (await uow.session.exec(select(OutboxMessage))).all()
        return [CloudEvent.from_json(row.payload) for row in rows]

    async def referral_count(self) -> int:
        async with self.hub.services["referral"].database.unit_of_work() as uow:
            return int((await uow.session.exec(
                select(func.count()).select_from(Referral))).one())


@pytest.fixture
async def fhir_hub(demo_data_dir: Path) -> AsyncIterator[FhirHub]:
    hub, client, running = await start_hub(hub_settings(demo_data_dir))
    try:
        credentials = load_credentials(demo_data_dir)
        token = await client_token(client, credentials, demo_data_dir, client_id=HEALTH)
        client.headers["authorization"] = f"Bearer {token}"
        yield FhirHub(hub, client, demo_client(credentials, HEALTH)["agency_id"])
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def created(fhir_hub: FhirHub, document: object,
                  content_type: str = FHIR_JSON) -> tuple[dict[str, Any], Referral,
                                                          list[ReferralSubject]]:
    """Post ``document``, check the 201 answer, and return it with what was stored."""
    response = await fhir_hub.post(document, content_type)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    echo = response.json()
    ServiceRequest.model_validate(echo)
    assert echo["resourceType"] == "ServiceRequest"
    assert response.headers["location"] == f"/api/v1/referrals/{echo['id']}"
    referral, subjects = await fhir_hub.stored(echo["id"])
    assert {"system": REFERENCE_SYSTEM, "value": referral.reference} in echo["identifier"]
    assert referral.referring_agency_id == fhir_hub.health_agency_id
    assert referral.status == "received" and referral.kind == "referral"
    events = [e for e in await fhir_hub.events() if e.subject == referral.id]
    assert [e.type for e in events] == ["mash.referral.received"]
    assert events[0].data["reference"] == referral.reference
    return echo, referral, subjects


def outcome(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    """The issues of an OperationOutcome answer with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    OperationOutcome.model_validate(body)
    issues: list[dict[str, Any]] = body["issue"]
    assert issues and all(i["severity"] == "error" and i["diagnostics"] for i in issues)
    return issues


def expressions(issues: list[dict[str, Any]]) -> set[str]:
    return {e for issue in issues for e in issue.get("expression", [])}


async def test_contained_patient_is_stored_as_a_referral_with_every_field_mapped(
    fhir_hub: FhirHub,
) -> None:
    echo, referral, subjects = await created(fhir_hub, contained_request())

    assert echo["subject"] == {"reference": "#child"}
    assert echo["meta"]["lastUpdated"]
    assert {"system": "https://health.example/referrals", "value": "NHT-2026-0042"} \
        in echo["identifier"]
    assert referral.source == "3E"
    assert referral.concerns == ["18C", "16A"]
    assert referral.immediate_risk is True
    assert referral.summary == ("Unexplained bruising\nNeglect\nSynthetic: seen in A&E with "
                                "bruising inconsistent with the account given.")
    assert referral.consent_status == "not_sought"
    assert referral.consent_reason == "would increase risk to the child"
    assert referral.external_reference == "NHT-2026-0042"
    assert referral.referrer == {"name": "Dr Priya Shah", "role": "Paediatric registrar",
                                 "phone": "01632 960002", "email": "p.shah@nhs.example"}
    [child] = subjects
    assert (child.role, child.given_name, child.family_name, child.other_names) == (
        "child", "Amy Jane", "Example", ["Mimi"])
    assert (child.nhs_number, child.date_of_birth, child.sex) == (
        "9990000026", date(2014, 3, 9), "F")
    assert child.address == {"line1": "1 Test Street", "line2": "Flat 2",
                             "town": "Northshire", "postcode": "S60 1AA"}
    assert child.postcode == "S60 1AA"


async def test_published_bars_bundle_collection_is_accepted_with_defaults(
    fhir_hub: FhirHub,
) -> None:
    echo, referral, subjects = await created(fhir_hub, bars_collection())

    assert echo["subject"] == {"reference": "urn:uuid:9589fb37-87a2-48d8-968f-b371429208a8"}
    assert referral.source == "3F", "other health services, by default"
    assert referral.concerns == ["20"], "no CIN factor codes: Other"
    assert referral.immediate_risk is False
    assert referral.summary == "Progress urgently"
    assert (referral.consent_status, referral.consent_reason) == (
        "not_sought", "not recorded by the sending system")
    assert referral.external_reference is None
    assert referral.referrer == {"name": "Marcy BLAKE",
                                 "role": "Administrative healthcare staff",
                                 "phone": "0205568263"}
    [patient] = subjects
    assert (patient.nhs_number, patient.given_name, patient.family_name) == (
        "9990000018", "Julie", "Jones")
    assert (patient.date_of_birth, patient.sex) == (date(1959, 5, 4), "F")
    assert patient.address == {"line1": "22 Brightside Crescent", "town": "Overtown",
                               "postcode": "LS10 4YU"}


@pytest.mark.parametrize(("document", "referrer", "person"), [
    pytest.param(as_transaction(bars_collection()),
                 {"name": "Marcy BLAKE", "role": "Administrative healthcare staff",
                  "phone": "0205568263"},
                 ("Julie", "Jones", "F", "9990000018"), id="bars-by-urn-uuid"),
    pytest.param(relative_transaction(),
                 {"name": "Nurse Sam Okafor", "role": "Health professional"},
                 ("Sam", "Sample", "U", None), id="relative-Patient/p1"),
])
async def test_bundle_transaction_is_accepted_as_plain_json(
    fhir_hub: FhirHub, document: dict[str, Any], referrer: dict[str, str],
    person: tuple[str, str, str, str | None],
) -> None:
    _, referral, [subject] = await created(fhir_hub, document, "application/json")

    assert referral.referrer == referrer
    assert (subject.given_name, subject.family_name, subject.sex, subject.nhs_number) == person


async def test_published_hl7_request_with_published_hl7_child_is_accepted(
    fhir_hub: FhirHub,
) -> None:
    document = hl7_physiotherapy_for(fixture("hl7-r4-patient-example-infant-twin-1.json"))
    _, referral, [child] = await created(fhir_hub, document)

    assert referral.summary == "Cystic Fibrosis", "from the contained Condition it refers to"
    assert referral.external_reference == "20170201-0001"
    assert referral.referrer == {"name": "Dr Adam Careful", "role": "Health professional"}
    assert (child.given_name, child.family_name, child.sex, child.date_of_birth) == (
        "Jaina", "Solo", "F", date(2017, 5, 15))
    assert child.nhs_number is None


async def test_published_hl7_request_without_its_patient_is_refused_at_the_subject(
    fhir_hub: FhirHub,
) -> None:
    response = await fhir_hub.post(fixture("hl7-r4-servicerequest-example2.json"))

    issues = outcome(response, 422)
    assert [i["expression"] for i in issues] == [["ServiceRequest.subject"]]
    assert issues[0]["code"] == "required"
    assert await fhir_hub.referral_count() == 0


async def test_published_hl7_newborn_without_a_name_is_refused_at_the_patient(
    fhir_hub: FhirHub,
) -> None:
    document = hl7_physiotherapy_for(fixture("hl7-r4-patient-example-newborn.json"))

    issues = outcome(await fhir_hub.post(document), 422)
    assert [i["expression"] for i in issues] == [["Patient", "Bundle.entry[1].resource"]]
    assert "NHS number" in issues[0]["diagnostics"]
    assert await fhir_hub.referral_count() == 0


def contained_with_nhs_number(value: str) -> dict[str, Any]:
    document = contained_request()
    document["contained"][0]["identifier"][0]["value"] = value
    return document


def bars_with_nhs_number(value: str) -> dict[str, Any]:
    document = bars_collection()
    assert document["entry"][2]["resource"]["resourceType"] == "Patient"
    document["entry"][2]["resource"]["identifier"][0]["value"] = value
    return document


@pytest.mark.parametrize(("document", "full_path"), [
    pytest.param(contained_with_nhs_number("9990000019"),
                 "ServiceRequest.contained[0].identifier[0].value", id="contained"),
    pytest.param(bars_with_nhs_number("9990000011"),
                 "Bundle.entry[2].resource.identifier[0].value", id="bundle"),
])
async def test_wrong_nhs_number_check_digit_is_422_at_the_identifier(
    fhir_hub: FhirHub, document: dict[str, Any], full_path: str,
) -> None:
    issues = outcome(await fhir_hub.post(document), 422)

    assert [i["expression"] for i in issues] == [["Patient.identifier[0].value", full_path]]
    assert issues[0]["code"] == "value"
    assert "check digit" in issues[0]["diagnostics"]
    assert await fhir_hub.referral_count() == 0
    assert await fhir_hub.events() == []


def changed(document: dict[str, Any], *path: str | int, value: object = None,
            delete: bool = False) -> dict[str, Any]:
    """A copy of ``document`` with the element at ``path`` replaced (or removed)."""
    result = copy.deepcopy(document)
    node: Any = result
    for part in path[:-1]:
        node = node[part]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return result


SR = contained_request()

INVALID_FHIR: list[tuple[str, object, str, str]] = [
    ("not JSON", b"{not json", "structure", ""),
    ("not a resource", [1, 2], "structure", ""),
    ("another resource", {"resourceType": "Patient", "id": "x"}, "structure", "Patient"),
    ("status missing", changed(SR, "status", delete=True), "required",
     "ServiceRequest.status"),
    ("unknown element", changed(SR, "colour", value="red"), "structure",
     "ServiceRequest.colour"),
    ("impossible birth date", changed(SR, "contained", 0, "birthDate", value="2014-13-40"),
     "value", "Patient.birthDate"),
    ("given name not a list", changed(SR, "contained", 0, "name", 0, "given", value="Amy"),
     "structure", "Patient.name[0].given"),
    ("unknown gender code", changed(SR, "contained", 0, "gender", value="girl"), "value",
     "Patient.gender"),
    ("unknown priority code", changed(SR, "priority", value="whenever"), "value",
     "ServiceRequest.priority"),
    ("unknown status code", changed(SR, "status", value="sent"), "value",
     "ServiceRequest.status"),
    ("unknown contained resource type",
     changed(SR, "contained", 1, "resourceType", value="Doctor"), "structure",
     "ServiceRequest.contained[1].resourceType"),
    ("published BaRS message Bundle", fixture(BARS), "value", "Bundle.type"),
    ("published BaRS MessageHeader without destination endpoint (1..1 in R4)",
     bars_collection(message_header=True), "required",
     "Bundle.entry[0].resource.destination[0].endpoint"),
    ("Bundle without a ServiceRequest",
     collection(fixture("hl7-r4-patient-example-newborn.json")), "required", "Bundle.entry"),
]


async def test_invalid_fhir_is_400_with_an_operation_outcome_naming_the_element(
    fhir_hub: FhirHub,
) -> None:
    for case, document, code, expression in INVALID_FHIR:
        issues = outcome(await fhir_hub.post(document), 400)
        assert code in {i["code"] for i in issues}, case
        if expression:
            assert expression in expressions(issues), (case, issues)
    assert await fhir_hub.referral_count() == 0


REFERRAL_RULES: list[tuple[str, dict[str, Any], str, str]] = [
    ("bad postcode", changed(SR, "contained", 0, "address", 0, "postalCode", value="3999"),
     "value", "Patient.address[0].postalCode"),
    ("future birth date", changed(SR, "contained", 0, "birthDate", value="2999-01-01"),
     "value", "Patient.birthDate"),
    ("partial birth date", changed(SR, "contained", 0, "birthDate", value="2014-03"),
     "value", "Patient.birthDate"),
    ("no requester", changed(SR, "requester", delete=True), "required",
     "ServiceRequest.requester"),
    ("no reason", changed(changed(SR, "reasonCode", delete=True), "note", delete=True),
     "required", "ServiceRequest.note"),
    ("unknown CIN factor", changed(SR, "reasonCode", 1, "coding", 0, "code", value="99Z"),
     "value", "ServiceRequest.reasonCode[1].coding[0].code"),
    ("unknown CIN source", changed(SR, "category", 0, "coding", 0, "code", value="ZZ"),
     "value", "ServiceRequest.category[0].coding[0].code"),
    ("consent status", changed(SR, "extension", 0, "extension", 0, "valueCode", value="maybe"),
     "value", "ServiceRequest.extension[0].extension[0].value"),
    ("entered in error", changed(SR, "status", value="entered-in-error"), "value",
     "ServiceRequest.status"),
    ("subject is not a Patient",
     changed(SR, "contained", 0, value={"resourceType": "Group", "id": "child",
                                         "type": "person", "actual": True}),
     "required", "ServiceRequest.subject"),
]


async def test_valid_fhir_breaking_referral_rules_is_422_at_the_element(
    fhir_hub: FhirHub,
) -> None:
    for case, document, code, expression in REFERRAL_RULES:
        issues = outcome(await fhir_hub.post(document), 422)
        assert expressions(issues) >= {expression}, (case, issues)
        assert code in {i["code"] for i in issues}, (case, issues)
    assert await fhir_hub.referral_count() == 0


async def test_prefer_header_chooses_minimal_or_operation_outcome(fhir_hub: FhirHub) -> None:
    minimal = await fhir_hub.post(contained_request(), prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.content == b""
    assert minimal.headers["location"].startswith("/api/v1/referrals/")

    informed = await fhir_hub.post(contained_request(), prefer="return=OperationOutcome")
    assert informed.status_code == 201
    body = informed.json()
    OperationOutcome.model_validate(body)
    [issue] = body["issue"]
    assert issue["severity"] == "information"
    assert "MASH-" in issue["diagnostics"]
    assert informed.headers["location"] in issue["diagnostics"]


async def test_other_media_types_are_415(fhir_hub: FhirHub) -> None:
    response = await fhir_hub.post(b"<ServiceRequest/>", "application/fhir+xml")
    assert outcome(response, 415)[0]["code"] == "not-supported"


async def test_unauthenticated_callers_get_401_and_nothing_is_stored(fhir_hub: FhirHub) -> None:
    with fhir_hub.anonymous():
        response = await fhir_hub.post(contained_request())
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await fhir_hub.referral_count() == 0


async def test_metadata_is_a_capability_statement_anyone_can_read(fhir_hub: FhirHub) -> None:
    with fhir_hub.anonymous() as anonymous:
        response = await anonymous.get("/fhir/r4/metadata")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR_JSON)
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    assert (statement["status"], statement["kind"], statement["fhirVersion"]) == (
        "active", "instance", "4.0.1")
    assert statement["format"] == ["json"]
    [rest] = statement["rest"]
    assert rest["mode"] == "server"
    assert rest["resource"] == [{"type": "ServiceRequest", "interaction": [
        {"code": "create", "documentation": rest["resource"][0]["interaction"][0][
            "documentation"]}]}]
    [security] = rest["security"]["service"]
    assert security["coding"][0]["code"] == "OAuth"
    [oauth] = rest["security"]["extension"]
    assert oauth["extension"] == [{"url": "token", "valueUri": f"{BASE}/oauth2/token"}]
