"""A referral's contexts, normalised so that the same car, place, phone or handle written
differently by different agencies is one value."""

from __future__ import annotations

import re
from typing import Literal

from services.referral.identifiers import normalise_postcode

ContextKind = Literal["vehicle", "place", "phone", "online"]
CONTEXT_KINDS: tuple[str, ...] = ("vehicle", "place", "phone", "online")
PHONE_REGION = "GB"

# Current (AB12 CDE), prefix (A123 BCD), suffix (ABC 123D) and dateless (1234 AB)
# registrations, once spaces and dashes are gone: letters and digits, with both.
_VEHICLE = re.compile(r"^(?=.*[A-Z])(?=.*[0-9])[A-Z0-9]{2,8}$")
_POSTCODE_AT_END = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")
_ONLINE = re.compile(r"^\s*([A-Za-z0-9 ._-]{2,40}?)\s*[:/]\s*@?([^\s:/]{1,100})\s*$")


def normalise_vehicle(value: str) -> str:
    """A UK registration in upper case without spaces or dashes (``AB12CDE``)."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if not _VEHICLE.fullmatch(compact):
        raise ValueError("not a UK vehicle registration (like AB12 CDE)")
    return compact


def normalise_place(value: str) -> str:
    """A postcode (``S60 1AA``) when the place is one or ends in one (an address);
    otherwise a named place, lower case, single spaces (``the arches, mill road``)."""
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("a place needs a postcode, an address or a name")
    found = _POSTCODE_AT_END.search(cleaned.upper())
    if found is not None:
        try:
            return normalise_postcode(found.group(0))
        except ValueError:
            pass
    return cleaned.lower()


def normalise_phone(value: str) -> str:
    """E.164 (``+447700900123``); numbers without a country code are taken as UK."""
    import phonenumbers  # loaded by the first number, not by every start of the hub

    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_online(value: str) -> str:
    """``platform:handle`` in lower case, without an ``@`` (``snapchat:jaydee_99``)."""
    found = _ONLINE.fullmatch(value)
    if found is None:
        raise ValueError("give the platform and the handle, like 'snapchat: @name'")
    platform = re.sub(r"[\s._-]", "", found.group(1).lower())
    return f"{platform}:{found.group(2).lower()}"


NORMALISERS = {"vehicle": normalise_vehicle, "place": normalise_place,
               "phone": normalise_phone, "online": normalise_online}


def normalise(kind: str, value: str) -> str:
    """A context's value in its one spelling; ValueError when it is not one of its kind."""
    return NORMALISERS[kind](value)
