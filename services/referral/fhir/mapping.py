"""A ServiceRequest and its Patient mapped to a referral (see the package's docstring)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import ValidationError

from services.referral.codes import CONCERNS
from services.referral.fhir.document import (
    _MISSING_HINTS,
    JSON,
    SEX_BY_GENDER,
    FhirError,
    Issue,
    Loc,
    Located,
    PostedDocument,
    _clean,
)
from services.referral.referrals.schemas import ReferralCreate, Referrer

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


# Code systems and extensions of our own: the CIN census codes have no published FHIR
# CodeSystem, and ServiceRequest has no consent element.
CIN_FACTOR_SYSTEM = "https://mash.example/fhir/CodeSystem/cin-assessment-factor"


CIN_SOURCE_SYSTEM = "https://mash.example/fhir/CodeSystem/cin-referral-source"


CONSENT_EXTENSION = "https://mash.example/fhir/StructureDefinition/referral-consent"


DEFAULT_SOURCE = "3F"


DEFAULT_CONCERN = "20"


DEFAULT_ROLE = "Health professional"


CONSENT_NOT_RECORDED = "not recorded by the sending system"


IMMEDIATE_PRIORITIES = frozenset({"urgent", "asap", "stat"})


REFUSED_STATUSES = frozenset({"draft", "revoked", "entered-in-error"})




_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class _Mapping:
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
        patient = self._patient()
        body: JSON = {
            "kind": "referral",
            "source": self._source(),
            "subjects": [self._subject(patient)],
            "concerns": [],
            "immediate_risk": self.sr.get("priority") in IMMEDIATE_PRIORITIES,
            "consent": self._consent(),
        }
        referrer = self._referrer()
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

    def _patient(self) -> Located:
        subject = self.document.resolve(self.sr.get("subject"), self.request)
        if subject is None or subject.type != "Patient":
            found = "" if subject is None else f"; it is a {subject.type}"
            raise FhirError(422, [*self.issues, Issue(
                "required",
                "The subject must be a Patient sent with the request: contained in the "
                "ServiceRequest (reference \"#id\") or an entry of the Bundle (reference "
                f"by fullUrl){found}.",
                self.request.expression(".subject"))])
        return subject

    def _subject(self, patient: Located) -> JSON:
        resource = patient.resource
        subject: JSON = {"role": "child"}
        self.at(("subjects", 0), patient.expression())
        self.at(("subjects",), self.request.expression(".subject"))
        for i, identifier in enumerate(resource.get("identifier") or []):
            if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
                subject["nhs_number"] = identifier["value"]
                self.at(("subjects", 0, "nhs_number"),
                        patient.expression(f".identifier[{i}].value"))
                break
        self._names(patient, subject)
        birth_date = resource.get("birthDate")
        if isinstance(birth_date, str):
            if _FULL_DATE.match(birth_date):
                subject["date_of_birth"] = birth_date
                self.at(("subjects", 0, "date_of_birth"), patient.expression(".birthDate"))
            else:
                self.issues.append(Issue(
                    "value", "A partial birth date cannot be recorded: send the full date, "
                    "or leave it out.", patient.expression(".birthDate")))
        gender = resource.get("gender")
        if gender in SEX_BY_GENDER:
            subject["sex"] = SEX_BY_GENDER[gender]
            self.at(("subjects", 0, "sex"), patient.expression(".gender"))
        address = self._address(patient)
        if address:
            subject["address"] = address
        return subject

    def _names(self, patient: Located, subject: JSON) -> None:
        names = [n for n in patient.resource.get("name") or [] if isinstance(n, dict)]
        chosen = _preferred_name(names)
        if chosen is None:
            return
        name = names[chosen]
        where = f".name[{chosen}]"
        given = " ".join(name.get("given") or [])
        family = name.get("family")
        if not given and not family and name.get("text"):
            given, _, family = str(name["text"]).strip().rpartition(" ")
        if given:
            subject["given_name"] = given
            self.at(("subjects", 0, "given_name"), patient.expression(f"{where}.given"))
        if family:
            subject["family_name"] = family
            self.at(("subjects", 0, "family_name"), patient.expression(f"{where}.family"))
        others: list[str] = []
        for i, other in enumerate(names):
            text = _human_name(other)
            if i != chosen and text and text not in others:
                self.at(("subjects", 0, "other_names", len(others)),
                        patient.expression(f".name[{i}]"))
                others.append(text)
        if others:
            subject["other_names"] = others

    def _address(self, patient: Located) -> JSON:
        addresses = patient.resource.get("address") or []
        chosen = next((i for i, a in enumerate(addresses) if a.get("use") != "old"), None)
        if chosen is None:
            return {}
        address, where = addresses[chosen], f".address[{chosen}]"
        self.at(("subjects", 0, "address"), patient.expression(where))
        lines = [line for line in address.get("line") or [] if line]
        mapped: JSON = {}
        if lines:
            mapped["line1"] = lines[0]
            self.at(("subjects", 0, "address", "line1"), patient.expression(f"{where}.line[0]"))
            if len(lines) > 1:
                mapped["line2"] = ", ".join(lines[1:])
                self.at(("subjects", 0, "address", "line2"), patient.expression(f"{where}.line"))
        elif address.get("text"):
            mapped["line1"] = address["text"]
            self.at(("subjects", 0, "address", "line1"), patient.expression(f"{where}.text"))
        if address.get("city"):
            mapped["town"] = address["city"]
            self.at(("subjects", 0, "address", "town"), patient.expression(f"{where}.city"))
        if address.get("postalCode"):
            mapped["postcode"] = address["postalCode"]
            self.at(("subjects", 0, "address", "postcode"),
                    patient.expression(f"{where}.postalCode"))
        return mapped

    def _referrer(self) -> JSON | None:
        reference = self.sr.get("requester")
        self.at(("referrer",), self.request.expression(".requester"))
        if not isinstance(reference, dict):
            return None
        who = self.document.resolve(reference, self.request)
        name: str | None = None
        role: str | None = None
        telecom: list[JSON] = []
        if who is not None:
            name, role, telecom = self._describe_requester(who)
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

    def _describe_requester(self, who: Located) -> tuple[str | None, str | None, list[JSON]]:
        resource = who.resource
        telecom = list(resource.get("telecom") or [])
        if who.type == "PractitionerRole":
            practitioner = self.document.resolve(resource.get("practitioner"), who)
            name = None
            if practitioner is not None:
                name = _first_human_name(practitioner.resource.get("name"))
                telecom += practitioner.resource.get("telecom") or []
            elif isinstance(resource.get("practitioner"), dict):
                name = resource["practitioner"].get("display")
            return name, _concept_text(resource.get("code")), telecom
        if who.type == "Practitioner":
            role = next((r for r in self.document.everything() if r.type == "PractitionerRole"
                         and self.document.resolve(r.resource.get("practitioner"), r) == who), None)
            role_name = _concept_text(role.resource.get("code")) if role else None
            if role is not None:
                telecom += role.resource.get("telecom") or []
            if role_name is None:
                role_name = _concept_text([q.get("code") for q in
                                           resource.get("qualification") or []])
            return _first_human_name(resource.get("name")), role_name, telecom
        if who.type == "Organization":
            return resource.get("name"), "Organisation", telecom
        if who.type == "RelatedPerson":
            return (_first_human_name(resource.get("name")),
                    _concept_text(resource.get("relationship")) or "Related person", telecom)
        return None, None, telecom

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
    mapping = _Mapping(document)
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


def _preferred_name(names: list[JSON]) -> int | None:
    for use in ("official", "usual"):
        for i, name in enumerate(names):
            if name.get("use") == use and _human_name(name):
                return i
    return next((i for i, n in enumerate(names) if n.get("use") != "old" and _human_name(n)),
                None)


def _human_name(name: object) -> str | None:
    if not isinstance(name, dict):
        return None
    parts = [*(name.get("given") or []), *([name["family"]] if name.get("family") else [])]
    return " ".join(parts) or name.get("text") or None


def _first_human_name(names: object) -> str | None:
    if not isinstance(names, list):
        return None
    chosen = _preferred_name([n for n in names if isinstance(n, dict)])
    if chosen is None:
        return None
    name = names[chosen]
    return name.get("text") or " ".join([*(name.get("prefix") or []), _human_name(name) or ""])


def _concept_text(concepts: object) -> str | None:
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


def _describe_reason(located: Located | None) -> str | None:
    if located is None:
        return None
    resource = located.resource
    text = _concept_text(resource.get("code")) or resource.get("description")
    value = resource.get("valueString")
    if text and value:
        return f"{text}: {value}"
    return text or value


def _fits_referrer(field: str, value: str) -> bool:
    try:
        Referrer.model_validate({"name": "-", "role": "-", field: value})
    except ValidationError:
        return False
    return True


def _loc_text(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "referral"
