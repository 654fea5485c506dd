"""The Patient of a ServiceRequest mapped to the referral's subject (see the package's
docstring for the rules)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from services.referral.fhir.document import (
    JSON,
    SEX_BY_GENDER,
    FhirError,
    Issue,
    Located,
)

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
_FULL_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

if TYPE_CHECKING:
    from services.referral.fhir.mapping import Mapping


def patient_of(mapping: Mapping) -> Located:
    """The Patient the ServiceRequest is about; FhirError(422) if it did not come with it."""
    subject = mapping.document.resolve(mapping.sr.get("subject"), mapping.request)
    if subject is None or subject.type != "Patient":
        found = "" if subject is None else f"; it is a {subject.type}"
        raise FhirError(422, [*mapping.issues, Issue(
            "required",
            "The subject must be a Patient sent with the request: contained in the "
            "ServiceRequest (reference \"#id\") or an entry of the Bundle (reference "
            f"by fullUrl){found}.",
            mapping.request.expression(".subject"))])
    return subject


def subject_of(mapping: Mapping, patient: Located) -> JSON:
    """The referral's subject (a child) from the Patient: identifier, names, birth date,
    sex, address."""
    resource = patient.resource
    subject: JSON = {"role": "child"}
    mapping.at(("subjects", 0), patient.expression())
    mapping.at(("subjects",), mapping.request.expression(".subject"))
    for i, identifier in enumerate(resource.get("identifier") or []):
        if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
            subject["nhs_number"] = identifier["value"]
            mapping.at(("subjects", 0, "nhs_number"),
                    patient.expression(f".identifier[{i}].value"))
            break
    _names(mapping, patient, subject)
    birth_date = resource.get("birthDate")
    if isinstance(birth_date, str):
        if _FULL_DATE.match(birth_date):
            subject["date_of_birth"] = birth_date
            mapping.at(("subjects", 0, "date_of_birth"), patient.expression(".birthDate"))
        else:
            mapping.issues.append(Issue(
                "value", "A partial birth date cannot be recorded: send the full date, "
                "or leave it out.", patient.expression(".birthDate")))
    gender = resource.get("gender")
    if gender in SEX_BY_GENDER:
        subject["sex"] = SEX_BY_GENDER[gender]
        mapping.at(("subjects", 0, "sex"), patient.expression(".gender"))
    address = _address(mapping, patient)
    if address:
        subject["address"] = address
    return subject


def _names(mapping: Mapping, patient: Located, subject: JSON) -> None:
    names = [n for n in patient.resource.get("name") or [] if isinstance(n, dict)]
    chosen = preferred_name(names)
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
        mapping.at(("subjects", 0, "given_name"), patient.expression(f"{where}.given"))
    if family:
        subject["family_name"] = family
        mapping.at(("subjects", 0, "family_name"), patient.expression(f"{where}.family"))
    others: list[str] = []
    for i, other in enumerate(names):
        text = human_name(other)
        if i != chosen and text and text not in others:
            mapping.at(("subjects", 0, "other_names", len(others)),
                    patient.expression(f".name[{i}]"))
            others.append(text)
    if others:
        subject["other_names"] = others


def _address(mapping: Mapping, patient: Located) -> JSON:
    addresses = patient.resource.get("address") or []
    chosen = next((i for i, a in enumerate(addresses) if a.get("use") != "old"), None)
    if chosen is None:
        return {}
    address, where = addresses[chosen], f".address[{chosen}]"
    mapping.at(("subjects", 0, "address"), patient.expression(where))
    lines = [line for line in address.get("line") or [] if line]
    mapped: JSON = {}
    if lines:
        mapped["line1"] = lines[0]
        mapping.at(("subjects", 0, "address", "line1"), patient.expression(f"{where}.line[0]"))
        if len(lines) > 1:
            mapped["line2"] = ", ".join(lines[1:])
            mapping.at(("subjects", 0, "address", "line2"), patient.expression(f"{where}.line"))
    elif address.get("text"):
        mapped["line1"] = address["text"]
        mapping.at(("subjects", 0, "address", "line1"), patient.expression(f"{where}.text"))
    if address.get("city"):
        mapped["town"] = address["city"]
        mapping.at(("subjects", 0, "address", "town"), patient.expression(f"{where}.city"))
    if address.get("postalCode"):
        mapped["postcode"] = address["postalCode"]
        mapping.at(("subjects", 0, "address", "postcode"),
                patient.expression(f"{where}.postalCode"))
    return mapped


def preferred_name(names: list[JSON]) -> int | None:
    for use in ("official", "usual"):
        for i, name in enumerate(names):
            if name.get("use") == use and human_name(name):
                return i
    return next((i for i, n in enumerate(names) if n.get("use") != "old" and human_name(n)),
                None)


def human_name(name: object) -> str | None:
    if not isinstance(name, dict):
        return None
    parts = [*(name.get("given") or []), *([name["family"]] if name.get("family") else [])]
    return " ".join(parts) or name.get("text") or None
