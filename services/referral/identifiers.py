"""Identifiers a referral carries: NHS number, unique pupil number, postcode."""

from __future__ import annotations

import re

from stdnum.gb import upn as stdnum_upn

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


def normalise_nhs_number(value: str) -> str:
    """Ten digits without spaces, if the check digit is right; else ValueError.

    The check digit: weights 10..2 on the first nine digits, sum mod 11, 11 minus that
    (11 means 0; 10 means the number is not valid).
    """
    digits = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValueError("an NHS number is 10 digits")
    if digits == "0" * 10:  # its check digit holds, but no one has it
        raise ValueError("0000000000 is not an NHS number")
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        raise ValueError("the NHS number's check digit is wrong")
    return digits


def normalise_upn(value: str) -> str:
    """A unique pupil number in upper case, if its check letter is right; else ValueError."""
    compact = re.sub(r"\s", "", value).upper()
    if not re.fullmatch(r"[A-Z][0-9]{11}[0-9A-Z]", compact):
        raise ValueError("a UPN is a check letter, 11 digits, and a digit or letter")
    if stdnum_upn.calc_check_digit(compact[1:]) != compact[0]:
        raise ValueError("the UPN's check letter is wrong")
    return compact


def normalise_postcode(value: str) -> str:
    """A UK postcode in upper case with one space (``S60 1AA``); else ValueError."""
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE.fullmatch(compact[:-3] + " " + compact[-3:]) if len(compact) > 4 else None
    if match is None:
        raise ValueError("not a UK postcode (like S60 1AA)")
    return f"{match.group(1)} {match.group(2)}"
