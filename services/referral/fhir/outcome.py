"""What the hub answers a FHIR sender: the ServiceRequest as stored, or an OperationOutcome."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from services.referral.fhir.document import JSON, Issue, PostedDocument, operation_outcome

REFERENCE_SYSTEM = "https://mash.example/fhir/Id/referral-reference"


def created_service_request(document: PostedDocument, referral_id: str, reference: str,
                            received_at: datetime) -> JSON:
    """The posted ServiceRequest as the hub now holds it: our id, reference and time."""
    echo = copy.deepcopy(document.service_request.resource)
    echo["id"] = referral_id
    when = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    meta = {k: v for k, v in (echo.get("meta") or {}).items() if k != "versionId"}
    echo["meta"] = {**meta, "lastUpdated": when.isoformat()}
    echo["identifier"] = [*(echo.get("identifier") or []),
                          {"system": REFERENCE_SYSTEM, "value": reference}]
    return echo


def received_outcome(reference: str, location: str) -> JSON:
    """An information OperationOutcome for ``Prefer: return=OperationOutcome``."""
    return operation_outcome([Issue(
        "informational", f"Referral {reference} received; see {location}.",
        severity="information")])
