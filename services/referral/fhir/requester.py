"""The requester of a ServiceRequest mapped to the referral's referrer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from services.referral.fhir.document import (
    JSON,
    Located,
    PostedDocument,
)
from services.referral.fhir.patient import human_name, preferred_name
from services.referral.referrals.schemas import Referrer

if TYPE_CHECKING:
    from services.referral.fhir.mapping import Mapping


def referrer_of(mapping: Mapping) -> JSON | None:
    """The referrer from the requester: a Practitioner, PractitionerRole, Organization or
    RelatedPerson sent with the request, else its display; None without a name."""
    reference = mapping.sr.get("requester")
    mapping.at(("referrer",), mapping.request.expression(".requester"))
    if not isinstance(reference, dict):
        return None
    who = mapping.document.resolve(reference, mapping.request)
    name: str | None = None
    role: str | None = None
    telecom: list[JSON] = []
    if who is not None:
        name, role, telecom = _describe(mapping.document, who)
    name = name or reference.get("display")
    if not name:
        return None
    referrer: JSON = {"name": name, "role": role or DEFAULT_ROLE}
    for point in telecom:
        field = {"phone": "phone", "email": "email"}.get(str(point.get("system")))
        value = point.get("value")
        if field and field not in referrer and value and _fits_referrer(field, value):
            referrer[field] = value
    return referrer


def _describe(document: PostedDocument, who: Located
              ) -> tuple[str | None, str | None, list[JSON]]:
    resource = who.resource
    telecom = list(resource.get("telecom") or [])
    if who.type == "PractitionerRole":
        practitioner = document.resolve(resource.get("practitioner"), who)
        name = None
        if practitioner is not None:
            name = _first_human_name(practitioner.resource.get("name"))
            telecom += practitioner.resource.get("telecom") or []
        elif isinstance(resource.get("practitioner"), dict):
            name = resource["practitioner"].get("display")
        return name, concept_text(resource.get("code")), telecom
    if who.type == "Practitioner":
        role = next((r for r in document.everything() if r.type == "PractitionerRole"
                     and document.resolve(r.resource.get("practitioner"), r) == who), None)
        role_name = concept_text(role.resource.get("code")) if role else None
        if role is not None:
            telecom += role.resource.get("telecom") or []
        if role_name is None:
            role_name = concept_text([q.get("code") for q in
                                       resource.get("qualification") or []])
        return _first_human_name(resource.get("name")), role_name, telecom
    if who.type == "Organization":
        return resource.get("name"), "Organisation", telecom
    if who.type == "RelatedPerson":
        return (_first_human_name(resource.get("name")),
                concept_text(resource.get("relationship")) or "Related person", telecom)
    return None, None, telecom


DEFAULT_ROLE = "Health professional"


def _first_human_name(names: object) -> str | None:
    if not isinstance(names, list):
        return None
    chosen = preferred_name([n for n in names if isinstance(n, dict)])
    if chosen is None:
        return None
    name = names[chosen]
    return name.get("text") or " ".join([*(name.get("prefix") or []), human_name(name) or ""])


def concept_text(concepts: object) -> str | None:
    """The text, or first coding display, of the first CodeableConcept that has one."""
    items = concepts if isinstance(concepts, list) else [concepts]
    for concept in items:
        if not isinstance(concept, dict):
            continue
        if concept.get("text"):
            return str(concept["text"])
        for coding in concept.get("coding") or []:
            if coding.get("display"):
                return str(coding["display"])
    return None


def _fits_referrer(field: str, value: str) -> bool:
    try:
        Referrer.model_validate({"name": "-", "role": "-", field: value})
    except ValidationError:
        return False
    return True
