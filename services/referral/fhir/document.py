"""A posted FHIR document read and checked: the ServiceRequest, its references resolved, and
OperationOutcome errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

JSON = dict[str, Any]
Loc = tuple[str | int, ...]
FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
ACCEPTED_BUNDLE_TYPES = ("collection", "transaction")
PRIORITIES = ("routine", "urgent", "asap", "stat")
STATUSES = ("draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown")
_RELATIVE = re.compile(r"^([A-Za-z]+)/([A-Za-z0-9.\-]{1,64})(/_history/.+)?$")


# Diagnostics for referral fields the FHIR document did not give us.
_MISSING_HINTS: dict[Loc, str] = {
    ("referrer",): "say who is referring: a requester with a display, or a Practitioner "
                   "or PractitionerRole in the request",
    ("summary",): "say why: reasonCode, reasonReference or note",
}


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
class PostedDocument:
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


# Deeper than any ServiceRequest or Bundle we accept (about 12 levels with contained
# resources), and shallow enough for every check here to walk it without recursing too far.
MAX_DEPTH = 64


def _depth(value: object) -> int:
    """How deeply a JSON value is nested (counted without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


def _json_object(raw: bytes) -> JSON:
    """The posted JSON object, no deeper than MAX_DEPTH; FhirError(400) otherwise."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _invalid(Issue("structure", "The body is not JSON.")) from None
    except RecursionError:
        document = None  # deeper than the parser goes: refused as too deep
    if document is None or _depth(document) > MAX_DEPTH:
        raise _invalid(Issue("structure", f"The document is nested more than {MAX_DEPTH} "
                                          "levels deep; no FHIR resource we accept is."))
    if not isinstance(document, dict):
        raise _invalid(Issue("structure", "The body must be a FHIR resource (a JSON object)."))
    return document


def read_document(raw: bytes) -> PostedDocument:
    """Parse and validate a posted ServiceRequest or Bundle; FhirError(400) if unusable."""
    document = _json_object(raw)
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
    posted = PostedDocument(root) if kind == "ServiceRequest" else _bundle_document(root)
    _check_codes(posted)
    return posted


def _validate(document: JSON, kind: str) -> None:
    issues = list(_unknown_resource_types(document, kind))
    if issues:
        raise FhirError(400, issues)
    # fhir.resources (with its 40 ms of imports) is loaded by the first FHIR request, not
    # by every start of the hub.
    from fhir.resources.R4B import get_fhir_model_class

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
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.resource import Resource

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


def _bundle_document(bundle: Located) -> PostedDocument:
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
    return PostedDocument(requests[0], tuple(entries))


def _check_codes(document: PostedDocument) -> None:
    """Codes of required bindings that fhir.resources lets through, where we use them."""
    issues: list[Issue] = []
    request = document.service_request
    status = request.resource.get("status")
    if status not in STATUSES:
        issues.append(Issue("value", f"status must be one of {', '.join(STATUSES)}.",
                            request.expression(".status")))
    priority = request.resource.get("priority")
    if priority is not None and priority not in PRIORITIES:
        issues.append(Issue("value", f"priority must be one of {', '.join(PRIORITIES)}.",
                            request.expression(".priority")))
    for located in document.everything():
        gender = located.resource.get("gender")
        if located.type == "Patient" and gender is not None and gender not in SEX_BY_GENDER:
            issues.append(Issue("value", f"gender must be one of {', '.join(SEX_BY_GENDER)}.",
                                located.expression(".gender")))
    if issues:
        raise FhirError(400, issues)

SEX_BY_GENDER = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
