"""FHIR R4 endpoint of the referral service: health systems create ServiceRequests.

The mapping and its decisions are in ``services.referral.fhir``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from services.referral.fhir.capability import capability_statement
from services.referral.fhir.document import (
    FHIR_JSON,
    FhirError,
    Issue,
    operation_outcome,
    read_document,
)
from services.referral.fhir.mapping import to_referral
from services.referral.fhir.outcome import created_service_request, received_outcome
from services.referral.intake import writer as intake_writer
from services.referral.intake.sources import agency_kind_of, on_behalf
from services.referral.links import referral_path
from services.referral.permissions import ReferralSubmitter
from services.referral.runtime import RuntimeDep
from shared.errors import InvalidValue
from shared.service import ServiceDep
from shared.tracing import request_id_var

router = APIRouter(prefix="/fhir/r4", tags=["fhir"])

# application/json+fhir is the DSTU2 spelling some systems still send.
ACCEPTED_MEDIA_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})

_OUTCOME = {"description": "an OperationOutcome",
            "content": {FHIR_JSON: {"schema": {"type": "object"}}}}
_CREATE_DOCS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 ServiceRequest whose subject is a contained Patient, or a "
                       "Bundle (collection or transaction) with one ServiceRequest and its "
                       "Patient.",
        "content": {media: {"schema": {"type": "object"}}
                    for media in (FHIR_JSON, "application/json")},
    },
    "responses": {
        "201": {"description": "the ServiceRequest as stored; Location is the referral",
                "content": {FHIR_JSON: {"schema": {"type": "object"}}}},
        "400": _OUTCOME, "415": _OUTCOME, "422": _OUTCOME,
    },
}


def fhir_json(body: dict[str, Any], status: int = 200,
              headers: dict[str, str] | None = None) -> JSONResponse:
    """A FHIR JSON answer."""
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


@router.get("/metadata", summary="CapabilityStatement")
async def metadata(svc: ServiceDep) -> JSONResponse:
    """What this FHIR endpoint supports; no token needed."""
    settings = svc.settings
    return fhir_json(capability_statement(settings.base_url, settings.token_endpoint))


@router.post("/ServiceRequest", status_code=201, summary="Refer a child (FHIR ServiceRequest)",
             openapi_extra=_CREATE_DOCS, response_class=Response)
async def create_service_request(request: Request, caller: ReferralSubmitter,
                                 runtime: RuntimeDep) -> Response:
    """Create a referral from a FHIR R4 ServiceRequest (or a Bundle holding one)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ACCEPTED_MEDIA_TYPES:
        return fhir_json(operation_outcome([Issue(
            "not-supported", "Send application/fhir+json (or application/json).")]), 415)
    try:
        document = read_document(await request.body())
        body = to_referral(document)
    except FhirError as exc:
        return fhir_json(operation_outcome(exc.issues), exc.status)
    try:
        recorded_for_another = on_behalf(
            body.source, caller, await agency_kind_of(runtime.intake.database, caller))
    except InvalidValue as refused:
        return fhir_json(operation_outcome([Issue(
            "business-rule", refused.detail, ("ServiceRequest.category",))]), 422)
    outcome = await runtime.intake.submit(intake_writer.Submission(
        body, caller, request_id=request_id_var.get(), on_behalf=recorded_for_another))
    if not isinstance(outcome, intake_writer.Created):  # only a key has other outcomes
        raise RuntimeError(f"unexpected intake outcome {outcome!r}")
    referral = outcome.referral
    location = referral_path(referral.id)
    headers = {"Location": location}
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    if "return=minimal" in prefer:
        return Response(status_code=201, headers=headers)
    if "return=operationoutcome" in prefer:
        return fhir_json(received_outcome(referral.reference, location), 201, headers)
    return fhir_json(created_service_request(document, referral.id, referral.reference,
                                                  referral.received_at), 201, headers)
