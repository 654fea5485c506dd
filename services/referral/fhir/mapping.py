"""A ServiceRequest and its Patient mapped to a referral (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from services.referral.codes import CONCERNS
from services.referral.fhir.document import (
    _MISSING_HINTS,
    JSON,
    FhirError,
    Issue,
    Loc,
    Located,
    PostedDocument,
    _clean,
)
from services.referral.fhir.patient import patient_of, subject_of
from services.referral.fhir.requester import concept_text, referrer_of
from services.referral.referrals.schemas import ReferralCreate

# Code systems and extensions of our own: the CIN census codes have no published FHIR
# CodeSystem, and ServiceRequest has no consent element.
CIN_FACTOR_SYSTEM = "https://mash.example/fhir/CodeSystem/cin-assessment-factor"
CIN_SOURCE_SYSTEM = "https://mash.example/fhir/CodeSystem/cin-referral-source"
CONSENT_EXTENSION = "https://mash.example/fhir/StructureDefinition/referral-consent"
DEFAULT_SOURCE = "3F"
DEFAULT_CONCERN = "20"
CONSENT_NOT_RECORDED = "not recorded by the sending system"
IMMEDIATE_PRIORITIES = frozenset({"urgent", "asap", "stat"})
REFUSED_STATUSES = frozenset({"draft", "revoked", "entered-in-error"})


class Mapping:
    """Builds the referral body and remembers where in the FHIR each field came from."""

    def __init__(self, document: PostedDocument) -> None:
        self.document = document
        self.request = document.service_request
        self.sr: JSON = document.service_request.resource
        self.paths: dict[Loc, tuple[str, ...]] = {(): self.request.expression()}
        self.issues: list[Issue] = []

    def at(self, loc: Loc, expression: tuple[str, ...]) -> None:
        self.paths[loc] = expression

    def expression_for(self, loc: Sequence[str | int]) -> tuple[str, ...]:
        key = tuple(loc)
        while key not in self.paths:
            key = key[:-1]
        return self.paths[key]

    def body(self) -> JSON:
        self._check_request()
        patient = patient_of(self)
        body: JSON = {
            "kind": "referral",
            "source": self._source(),
            "subjects": [subject_of(self, patient)],
            "concerns": [],
            "immediate_risk": self.sr.get("priority") in IMMEDIATE_PRIORITIES,
            "consent": self._consent(),
        }
        referrer = referrer_of(self)
        if referrer is not None:
            body["referrer"] = referrer
        summary, concerns = self._reasons()
        if summary:
            body["summary"] = summary
        body["concerns"] = concerns or [DEFAULT_CONCERN]
        identifiers = self.sr.get("identifier") or []
        if identifiers and identifiers[0].get("value"):
            body["external_reference"] = identifiers[0]["value"]
            self.at(("external_reference",), self.request.expression(".identifier[0].value"))
        return body

    def _check_request(self) -> None:
        status = self.sr.get("status")
        if status in REFUSED_STATUSES:
            self.issues.append(Issue(
                "value", f"A ServiceRequest with status {status} is not a referral to act on.",
                self.request.expression(".status")))
        if self.sr.get("doNotPerform") is True:
            self.issues.append(Issue("value", "A ServiceRequest with doNotPerform true is not "
                                     "a referral to act on.",
                                     self.request.expression(".doNotPerform")))

    def _reasons(self) -> tuple[str, list[str]]:
        parts: list[str | None] = []
        concerns: list[str] = []
        reason_where = self.request.expression(".reasonCode")
        for i, concept in enumerate(self.sr.get("reasonCode") or []):
            displays: list[str] = []
            for j, coding in enumerate(concept.get("coding") or []):
                code = coding.get("code")
                if coding.get("system") == CIN_FACTOR_SYSTEM and code:
                    if code not in concerns:
                        self.at(("concerns", len(concerns)),
                                self.request.expression(f".reasonCode[{i}].coding[{j}].code"))
                        concerns.append(code)
                    display = coding.get("display") or CONCERNS.get(code)
                else:
                    display = coding.get("display")
                if display:
                    displays.append(display)
            parts.append(concept.get("text") or "; ".join(displays))
        for reference in self.sr.get("reasonReference") or []:
            parts.append(reference.get("display")
                         or _describe_reason(self.document.resolve(reference, self.request)))
        parts += [note.get("text") or "" for note in self.sr.get("note") or []]
        self.at(("summary",), (*reason_where, *self.request.expression(".note")))
        self.at(("concerns",), reason_where)
        return "\n".join(dict.fromkeys(p.strip() for p in parts if p and p.strip())), concerns

    def _source(self) -> str:
        for i, concept in enumerate(self.sr.get("category") or []):
            for j, coding in enumerate(concept.get("coding") or []):
                if coding.get("system") == CIN_SOURCE_SYSTEM and coding.get("code"):
                    self.at(("source",),
                            self.request.expression(f".category[{i}].coding[{j}].code"))
                    return str(coding["code"])
        return DEFAULT_SOURCE

    def _consent(self) -> JSON:
        for i, extension in enumerate(self.sr.get("extension") or []):
            if extension.get("url") != CONSENT_EXTENSION:
                continue
            where = f".extension[{i}]"
            self.at(("consent",), self.request.expression(where))
            consent: JSON = {}
            for j, part in enumerate(extension.get("extension") or []):
                field = {"status": "status", "reason": "reason"}.get(str(part.get("url")))
                value = part.get("valueCode") or part.get("valueString")
                if field and value is not None:
                    consent[field] = value
                    self.at(("consent", field),
                            self.request.expression(f"{where}.extension[{j}].value"))
            return consent
        return {"status": "not_sought", "reason": CONSENT_NOT_RECORDED}

    def validation_issues(self, error: ValidationError) -> list[Issue]:
        issues = []
        for err in error.errors(include_url=False, include_input=False):
            loc = tuple(err["loc"])
            missing = err["type"] == "missing"
            message = _MISSING_HINTS.get(loc) if missing else None
            message = message or f"{_loc_text(loc)}: {_clean(str(err['msg']))}"
            issues.append(Issue("required" if missing else "value", message,
                                self.expression_for(loc)))
        return issues


def to_referral(document: PostedDocument) -> ReferralCreate:
    """The referral a valid FHIR document asks for; FhirError(422) if it breaks our rules."""
    mapping = Mapping(document)
    body = mapping.body()
    issues = list(mapping.issues)
    referral: ReferralCreate | None = None
    try:
        referral = ReferralCreate.model_validate(body)
    except ValidationError as exc:
        issues += mapping.validation_issues(exc)
    if issues or referral is None:
        raise FhirError(422, issues)
    return referral


def _describe_reason(located: Located | None) -> str | None:
    if located is None:
        return None
    resource = located.resource
    text = concept_text(resource.get("code")) or resource.get("description")
    value = resource.get("valueString")
    if text and value:
        return f"{text}: {value}"
    return text or value


def _loc_text(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "referral"
