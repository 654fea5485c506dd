"""FHIR R4 intake for health systems: a ServiceRequest about a Patient becomes a referral.

This module is the mapping and its errors (no HTTP; see ``fhir_routes``).

FHIR version
    fhir.resources 8 ships R5 (its default) and R4B (4.3.0) models, and no R4 (4.0.1)
    ones. The resources read here (ServiceRequest, Patient, Practitioner,
    PractitionerRole, Organization, Condition, Bundle) did not change between R4 and R4B,
    so R4 documents are validated with the R4B models; the CapabilityStatement says
    ``fhirVersion 4.0.1`` because R4 is what health systems send (UK Core, the Booking and
    Referral Standard). fhir.resources checks structure and datatypes but not value-set
    bindings, so the codes we act on (``Bundle.type``, ``ServiceRequest.status`` and
    ``priority``, ``Patient.gender``) are checked here.

What may be posted
    * a ServiceRequest whose ``subject`` is a Patient contained in it (``"#id"``); or
    * a Bundle of ``type`` collection or transaction holding exactly one ServiceRequest.
      Its references (subject, requester, reasonReference) are resolved against the
      entries: a reference equal to an entry's ``fullUrl`` (``urn:uuid:...`` or a URL),
      or a relative ``Type/id`` matching a ``fullUrl`` ending in ``/Type/id`` or an entry
      whose resource is that type with that id; ``"#id"`` is resolved in the referring
      resource's container. Other entries are ignored (a BaRS message Bundle, say, may
      be sent as a collection with its MessageHeader, Encounter and Organizations).

Mapping to ``ReferralCreate`` (``kind`` is always ``referral``)
    subject Patient (one subject, ``role`` child; the hub does not check age):
        ``identifier`` with system ``https://fhir.nhs.uk/Id/nhs-number`` -> ``nhs_number``;
        ``name``: the official one, else usual, else the first not marked old -> ``given``
        (joined with spaces) and ``family``; a name with only ``text`` is split at its
        last space; other names -> ``other_names``; ``birthDate`` (a full date; a
        partial one is refused) -> ``date_of_birth``; ``gender`` female/male -> F/M,
        other/unknown -> U; the first ``address`` not marked old: ``line[0]`` -> line1,
        further lines -> line2, ``city`` -> town, ``postalCode`` -> postcode (``text``
        -> line1 when there are no lines).
    referrer: ``requester`` resolved to a Practitioner (its name; the role from a
        PractitionerRole in the request that points at it), a PractitionerRole (its
        practitioner's name, its ``code``), an Organization (its name, role
        "Organisation") or a RelatedPerson, else ``requester.display``; the role defaults
        to "Health professional". The first phone and e-mail in their ``telecom`` that
        fit the referral API's formats are kept; others are left out rather than refusing
        the referral over a phone-number format.
    summary: ``reasonCode`` (text, else the codings' displays), ``reasonReference``
        (display, else the referenced resource's code) and ``note`` texts, one a line.
    concerns: ``reasonCode`` codings with system ``CIN_FACTOR_SYSTEM`` (below) and a CIN
        census assessment factor code (``services.referral.codes.CONCERNS``); none ->
        ``["20"]`` (Other).
    source: a ``category`` coding with system ``CIN_SOURCE_SYSTEM`` and a CIN census
        referral source code, else ``3F`` (other health services).
    immediate_risk: ``priority`` urgent, asap or stat.
    consent: the extension ``CONSENT_EXTENSION`` on the ServiceRequest with
        sub-extensions ``status`` (valueCode given | not_given | not_sought) and
        ``reason`` (valueString); without it, status ``not_sought`` with reason "not
        recorded by the sending system" (FHIR has no consent element on ServiceRequest,
        and we record what we were told rather than assume consent).
    external_reference: ``identifier[0].value``.
    A ServiceRequest whose status is draft, revoked or entered-in-error, or with
    ``doNotPerform`` true, is refused: it is not a request to act on.

Answers
    201 with ``Location: /api/v1/referrals/{id}`` and the posted ServiceRequest echoed
    with ``id`` set to the referral's id, ``meta.lastUpdated`` to when it was received and
    an identifier (system ``REFERENCE_SYSTEM``) holding the hub's reference (MASH-...).
    ``Prefer: return=minimal`` gives no body; ``Prefer: return=OperationOutcome`` an
    OperationOutcome of severity information naming the reference.
    Errors are OperationOutcomes. 400: not JSON, not valid FHIR, or a shape we do not
    take (wrong resource or Bundle type). 422: valid FHIR that fails the referral rules
    (no resolvable subject Patient, a wrong NHS number check digit, ...). Each issue's
    ``expression`` names the element as a FHIRPath relative to its resource (e.g.
    ``Patient.identifier[0].value``) and, when the resource sits inside the posted
    document, the full path too (``Bundle.entry[3].resource.identifier[0].value``).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from services.referral.codes import CONCERNS
from services.referral.schemas import ReferralCreate, Referrer

JSON = dict[str, Any]
Loc = tuple[str | int, ...]

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
# Code systems and extensions of our own: the CIN census codes have no published FHIR
# CodeSystem, and ServiceRequest has no consent element.
CIN_FACTOR_SYSTEM = "https://mash.example/fhir/CodeSystem/cin-assessment-factor"
CIN_SOURCE_SYSTEM = "https://mash.example/fhir/CodeSystem/cin-referral-source"
CONSENT_EXTENSION = "https://mash.example/fhir/StructureDefinition/referral-consent"
REFERENCE_SYSTEM = "https://mash.example/fhir/Id/referral-reference"

DEFAULT_SOURCE = "3F"
DEFAULT_CONCERN = "20"
DEFAULT_ROLE = "Health professional"
CONSENT_NOT_RECORDED = "not recorded by the sending system"
ACCEPTED_BUNDLE_TYPES = ("collection", "transaction")
PRIORITIES = ("routine", "urgent", "asap", "stat")
STATUSES = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
IMMEDIATE_PRIORITIES = frozenset({"urgent", "asap", "stat"})
REFUSED_STATUSES = frozenset({"draft", "revoked", "entered-in-error"})
SEX_BY_GENDER = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_RELATIVE = re.compile(r"^([A-Za-z]+)/([A-Za-z0-9.\-]{1,64})(/_history/.+)?$")

# Diagnostics for referral fields the FHIR document did not give us.
_MISSING_HINTS: dict[Loc, str] = {
    ("referrer",): "say who is referring: a requester with a display, or a Practitioner "
                   "or PractitionerRole in the request",
    ("summary",): "say why: reasonCode, reasonReference or note",
}


# --- OperationOutcome --------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue."""

    code: str  # invalid | structure | required | value | not-supported | informational
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: str = "error"

    def as_fhir(self) -> JSON:
        """The issue as FHIR JSON."""
        issue: JSON = {"severity": self.severity, "code": self.code,
                       "diagnostics": self.diagnostics}
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


class FhirError(Exception):
    """A request we answer with an OperationOutcome and ``status``."""

    def __init__(self, status: int, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.status = status
        self.issues = list(issues)


def operation_outcome(issues: Iterable[Issue]) -> JSON:
    """An OperationOutcome of ``issues``."""
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in issues]}


def _invalid(issue: Issue) -> FhirError:
    return FhirError(400, [issue])


# --- Reading the document ------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    """A resource of the posted document and where it sits in it."""

    resource: JSON
    path: str  # FHIRPath from the document root, e.g. "Bundle.entry[2].resource"
    container: Located | None = None  # the resource holding it, when contained

    @property
    def type(self) -> str:
        """Its resourceType."""
        return str(self.resource.get("resourceType"))

    def expression(self, tail: str = "") -> tuple[str, ...]:
        """FHIRPaths of ``tail`` in this resource: relative to it, then from the root."""
        own, full = self.type + tail, self.path + tail
        return (own,) if own == full else (own, full)

    def contained(self) -> list[Located]:
        """Its contained resources."""
        items = self.resource.get("contained")
        if not isinstance(items, list):
            return []
        return [Located(item, f"{self.path}.contained[{i}]", self)
                for i, item in enumerate(items) if isinstance(item, dict)]


@dataclass(frozen=True)
class Intake:
    """A posted document that is valid FHIR: its ServiceRequest and what it can reach."""

    service_request: Located
    entries: tuple[tuple[str | None, Located], ...] = ()  # (fullUrl, resource) of a Bundle

    def resolve(self, reference: object, owner: Located) -> Located | None:
        """The resource that ``reference`` (a Reference) of ``owner`` points to, if sent."""
        if not isinstance(reference, dict):
            return None
        target = reference.get("reference")
        if not isinstance(target, str) or not target:
            return None
        if target.startswith("#"):
            holder = owner.container or owner
            return next((c for c in holder.contained() if c.resource.get("id") == target[1:]),
                        None)
        for full_url, entry in self.entries:
            if full_url == target:
                return entry
        relative = _RELATIVE.match(target)
        if relative is None:
            return None
        kind, ident = relative.group(1), relative.group(2)
        for full_url, entry in self.entries:
            if full_url and full_url.endswith(f"/{kind}/{ident}"):
                return entry
            if entry.type == kind and entry.resource.get("id") == ident:
                return entry
        return None

    def everything(self) -> list[Located]:
        """Every resource sent: the entries (or the ServiceRequest) and their contained."""
        tops = [entry for _, entry in self.entries] or [self.service_request]
        return [*tops, *(c for top in tops for c in top.contained())]


def read_intake(raw: bytes) -> Intake:
    """Parse and validate a posted ServiceRequest or Bundle; FhirError(400) if unusable."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _invalid(Issue("structure", "The body is not JSON.")) from None
    if not isinstance(document, dict):
        raise _invalid(Issue("structure", "The body must be a FHIR resource (a JSON object)."))
    kind = document.get("resourceType")
    if kind not in ("ServiceRequest", "Bundle"):
        raise _invalid(Issue(
            "structure",
            "Post a ServiceRequest, or a Bundle (collection or transaction) holding one.",
            (kind,) if isinstance(kind, str) and kind else ()))
    if kind == "Bundle" and document.get("type") not in ACCEPTED_BUNDLE_TYPES:
        raise _invalid(Issue("value", "A Bundle must be of type collection or transaction.",
                             ("Bundle.type",)))
    _validate(document, kind)
    root = Located(document, kind)
    if kind == "ServiceRequest":
        intake = Intake(root)
    else:
        intake = _bundle_intake(root)
    _check_codes(intake)
    return intake


def _validate(document: JSON, kind: str) -> None:
    issues = list(_unknown_resource_types(document, kind))
    if issues:
        raise FhirError(400, issues)
    model = get_fhir_model_class(kind)
    try:
        model.model_validate(document)
    except ValidationError as exc:
        raise FhirError(400, [
            Issue(_pydantic_code(str(err["type"])), _clean(str(err["msg"])),
                  _document_paths(document, kind, err["loc"]))
            for err in exc.errors(include_url=False, include_input=False)
        ]) from None
    except (KeyError, ValueError, TypeError) as exc:  # fhir.resources' own lookups
        raise _invalid(Issue("structure", f"Not a valid {kind}: {type(exc).__name__}.",
                             (kind,))) from None


def _unknown_resource_types(document: JSON, path: str) -> Iterable[Issue]:
    """Contained resources and Bundle entries whose resourceType is not an R4 resource."""
    places: list[tuple[object, str]] = []
    contained = document.get("contained")
    if isinstance(contained, list):
        places += [(item, f"{path}.contained[{i}]") for i, item in enumerate(contained)]
    entries = document.get("entry") if document.get("resourceType") == "Bundle" else None
    if isinstance(entries, list):
        places += [(e.get("resource"), f"{path}.entry[{i}].resource")
                   for i, e in enumerate(entries) if isinstance(e, dict) and "resource" in e]
    for item, where in places:
        if not isinstance(item, dict):
            yield Issue("structure", "A resource must be a JSON object.", (where,))
            continue
        kind = item.get("resourceType")
        if not (isinstance(kind, str) and _is_resource_type(kind)):
            yield Issue("structure", "Not a FHIR resource type.", (f"{where}.resourceType",))
            continue
        yield from _unknown_resource_types(item, where)


def _is_resource_type(name: str) -> bool:
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except ValueError:
        return False


def _document_paths(document: JSON, root: str, loc: Sequence[str | int]) -> tuple[str, ...]:
    """FHIRPaths of a pydantic ``loc`` in ``document``: from its own resource, and from root."""
    full = own = root
    node: object = document
    for part in loc:
        if isinstance(part, int):
            step = f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            step = f".{part}"
            node = node.get(part) if isinstance(node, dict) else None
        full += step
        own += step
        if isinstance(node, dict) and isinstance(node.get("resourceType"), str):
            own = node["resourceType"]
    return (own,) if own == full else (own, full)


def _pydantic_code(kind: str) -> str:
    if kind == "missing" or kind.endswith(".missing"):
        return "required"
    if kind == "extra_forbidden" or kind.endswith("_type") or kind.startswith("json"):
        return "structure"
    return "value"


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def _bundle_intake(bundle: Located) -> Intake:
    entries: list[tuple[str | None, Located]] = []
    for i, entry in enumerate(bundle.resource.get("entry") or []):
        resource = entry.get("resource")
        if isinstance(resource, dict):
            full_url = entry.get("fullUrl")
            entries.append((full_url if isinstance(full_url, str) else None,
                            Located(resource, f"Bundle.entry[{i}].resource")))
    requests = [located for _, located in entries if located.type == "ServiceRequest"]
    if not requests:
        raise _invalid(Issue("required", "The Bundle holds no ServiceRequest.",
                             ("Bundle.entry",)))
    if len(requests) > 1:
        raise _invalid(Issue("structure", "Send one ServiceRequest per request; the Bundle "
                             f"holds {len(requests)}.", ("Bundle.entry",)))
    return Intake(requests[0], tuple(entries))


def _check_codes(intake: Intake) -> None:
    """Codes of required bindings that fhir.resources lets through, where we use them."""
    issues: list[Issue] = []
    request = intake.service_request
    status = request.resource.get("status")
    if status not in STATUSES:
        issues.append(Issue("value", f"status must be one of {', '.join(STATUSES)}.",
                            request.expression(".status")))
    priority = request.resource.get("priority")
    if priority is not None and priority not in PRIORITIES:
        issues.append(Issue("value", f"priority must be one of {', '.join(PRIORITIES)}.",
                            request.expression(".priority")))
    for located in intake.everything():
        gender = located.resource.get("gender")
        if located.type == "Patient" and gender is not None and gender not in SEX_BY_GENDER:
            issues.append(Issue("value", f"gender must be one of {', '.join(SEX_BY_GENDER)}.",
                                located.expression(".gender")))
    if issues:
        raise FhirError(400, issues)


# --- Mapping -------------------------------------------------------------------------------


class _Mapping:
    """Builds the referral body and remembers where in the FHIR each field came from."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.request = intake.service_request
        self.sr: JSON = intake.service_request.resource
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
        subject = self.intake.resolve(self.sr.get("subject"), self.request)
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
        who = self.intake.resolve(reference, self.request)
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
            practitioner = self.intake.resolve(resource.get("practitioner"), who)
            name = None
            if practitioner is not None:
                name = _first_human_name(practitioner.resource.get("name"))
                telecom += practitioner.resource.get("telecom") or []
            elif isinstance(resource.get("practitioner"), dict):
                name = resource["practitioner"].get("display")
            return name, _concept_text(resource.get("code")), telecom
        if who.type == "Practitioner":
            role = next((r for r in self.intake.everything() if r.type == "PractitionerRole"
                         and self.intake.resolve(r.resource.get("practitioner"), r) == who), None)
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
                         or _describe_reason(self.intake.resolve(reference, self.request)))
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


def to_referral(intake: Intake) -> ReferralCreate:
    """The referral a valid FHIR intake asks for; FhirError(422) if it breaks our rules."""
    mapping = _Mapping(intake)
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


# --- Answers -------------------------------------------------------------------------------


def created_service_request(intake: Intake, referral_id: str, reference: str,
                            received_at: datetime) -> JSON:
    """The posted ServiceRequest as the hub now holds it: our id, reference and time."""
    echo = copy.deepcopy(intake.service_request.resource)
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


def capability_statement(base_url: str, token_endpoint: str) -> JSON:
    """What the hub's FHIR endpoint does: create ServiceRequest, with OAuth2 tokens."""
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "MASH referral hub",
        "kind": "instance",
        "software": {"name": "MASH referral hub", "version": "0.1.0"},
        "implementation": {
            "description": "Multi-Agency Safeguarding Hub: referrals about children at risk",
            "url": f"{base_url.rstrip('/')}/fhir/r4",
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{
            "mode": "server",
            "documentation": "Health systems refer a child to the hub by creating a "
                             "ServiceRequest whose subject is a Patient contained in it, or "
                             "by posting a Bundle (collection or transaction) holding the "
                             "ServiceRequest and its Patient.",
            "security": {
                "service": [{
                    "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/"
                                  "restful-security-service",
                        "code": "OAuth",
                        "display": "OAuth",
                    }],
                    "text": "OAuth2 client credentials",
                }],
                "description": "Bearer access tokens from the token endpoint "
                               f"{token_endpoint} (client credentials grant; client "
                               "authentication by private_key_jwt or client_secret_basic).",
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                           "oauth-uris",
                    "extension": [{"url": "token", "valueUri": token_endpoint}],
                }],
            },
            "resource": [{
                "type": "ServiceRequest",
                "interaction": [{
                    "code": "create",
                    "documentation": "201 with Location /api/v1/referrals/{id}; errors are "
                                     "OperationOutcomes (400 invalid FHIR, 422 a referral "
                                     "rule broken).",
                }],
            }],
        }],
    }
