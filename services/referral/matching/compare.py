"""The comparison level of each field of a pair of prepared records.

Each function answers one level name from LEVELS (the model holds an m and a u
probability for each); ``missing`` when either side lacks the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

from rapidfuzz.distance import OSA, Indel, JaroWinkler
from rapidfuzz.fuzz import token_sort_ratio

from services.referral.matching.normalise import PreparedRecord
from services.referral.matching.variants import are_variants

LEVELS: dict[str, tuple[str, ...]] = {
    "given_name": ("exact", "variant", "close", "other_name", "initial", "different", "missing"),
    "family_name": ("exact", "part", "close", "different", "missing"),
    "date_of_birth": ("exact", "transposed", "one_digit", "year_month", "different", "missing"),
    "sex": ("exact", "different", "missing"),
    "postcode": ("exact", "sector", "district", "close", "different", "missing"),
    "address": ("exact", "close", "street", "number", "different", "missing"),
    "nhs_number": ("exact", "different", "missing"),
    "upn": ("exact", "different", "missing"),
}

CLOSE_NAME = 0.9  # Jaro-Winkler similarity at or above which two names are "close"
CLOSE_ADDRESS = 85.0  # token-sort ratio (0-100) for an address with the same house number


def names_close(first: str, second: str) -> bool:
    """A likely typo: Jaro-Winkler at least CLOSE_NAME; or one letter added, dropped,
    changed or two swapped; or two such slips in names of five letters or more."""
    if JaroWinkler.normalized_similarity(first, second) >= CLOSE_NAME:
        return True
    shorter, longer = sorted((len(first), len(second)))
    if shorter < 2 or longer < 3:
        return False
    slips = 2 if shorter >= 4 else 1
    return OSA.distance(first, second, score_cutoff=slips) <= slips


def given_name(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, variant (nickname, or one of two given names), close (typo), other_name
    (one side's given name is the other's middle name), initial, different."""
    first, second = subject.given, candidate.given
    if not first or not second:
        return "missing"
    if subject.given_joined == candidate.given_joined or first[0] == second[0]:
        return "exact"
    if are_variants(first[0], second[0]) or first[0] in second or second[0] in first:
        return "variant"
    if len(first[0]) == 1 or len(second[0]) == 1:
        return "initial" if first[0][0] == second[0][0] else "different"
    if names_close(first[0], second[0]) or names_close(
        subject.given_joined, candidate.given_joined
    ):
        return "close"
    if first[0] in candidate.others or second[0] in subject.others:
        return "other_name"
    return "different"


def family_name(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, part (one part of a hyphenated or double-barrelled name), close, different."""
    first, second = subject.family, candidate.family
    if not first or not second:
        return "missing"
    if subject.family_joined == candidate.family_joined:
        return "exact"
    if set(first) & set(second):
        return "part"
    if (
        JaroWinkler.normalized_similarity(subject.family_joined, candidate.family_joined)
        >= CLOSE_NAME
    ):
        return "close"
    if len(first) > 1 or len(second) > 1:
        for one in first:
            for other in second:
                if JaroWinkler.normalized_similarity(one, other) >= CLOSE_NAME:
                    return "close"
    return "different"


def _one_digit_apart(first: date, second: date, first_digits: str, second_digits: str) -> bool:
    if sum(a != b for a, b in zip(first_digits, second_digits, strict=True)) == 1:
        return True
    # 09 and 10 differ in two digits but are one keystroke of thought apart
    differences = (
        abs(first.year - second.year),
        abs(first.month - second.month),
        abs(first.day - second.day),
    )
    return sorted(differences) == [0, 0, 1]


def date_of_birth(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, transposed (day and month swapped), one_digit, year_month, different."""
    first, second = subject.date_of_birth, candidate.date_of_birth
    if first is None or second is None or not subject.dob_digits or not candidate.dob_digits:
        return "missing"
    if first == second:
        return "exact"
    if first.year == second.year and first.day == second.month and first.month == second.day:
        return "transposed"
    if _one_digit_apart(first, second, subject.dob_digits, candidate.dob_digits):
        return "one_digit"
    if first.year == second.year and first.month == second.month:
        return "year_month"
    return "different"


def sex(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, different; missing when either is unknown ("U" counts as unknown)."""
    if subject.sex is None or candidate.sex is None:
        return "missing"
    return "exact" if subject.sex == candidate.sex else "different"


def postcode(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, sector (S60 1), district (S60), close (one character changed, added,
    dropped, or two swapped: a typo), different."""
    if subject.postcode is None or candidate.postcode is None:
        return "missing"
    if subject.postcode == candidate.postcode:
        return "exact"
    if subject.sector is not None and subject.sector == candidate.sector:
        return "sector"
    if subject.district == candidate.district:
        return "district"
    if OSA.distance(subject.postcode, candidate.postcode, score_cutoff=1) <= 1:
        return "close"
    return "different"


def _streets_close(subject: PreparedRecord, candidate: PreparedRecord) -> bool:
    """The street parts, run together, differ by little more than a typo (a space in
    the wrong place, a letter changed or dropped): an Indel similarity of at least
    CLOSE_ADDRESS, written either way (street types abbreviated or as written)."""
    return any(
        first and second and Indel.normalized_similarity(first, second) * 100 >= CLOSE_ADDRESS
        for first, second in zip(subject.street_compact, candidate.street_compact, strict=True)
    )


def address(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact (after normalising), close (same house number, similar words), street
    (similar street words, another or no house number), number (the same house number,
    the street missing on one side or both), different; missing where either side has
    no address, or only a number that is not the other's. Words are compared both as
    words (in any order) and run together (a space typed in the wrong place)."""
    if not subject.address or not candidate.address:
        return "missing"
    if not subject.street_compact[1] or not candidate.street_compact[1]:
        # a house number without its street
        shared = subject.address_numbers & candidate.address_numbers
        return "number" if shared else "missing"
    if subject.address == candidate.address:
        return "exact"
    if subject.address_numbers == candidate.address_numbers:
        ratio = token_sort_ratio(" ".join(subject.address), " ".join(candidate.address))
        if ratio >= CLOSE_ADDRESS or _streets_close(subject, candidate):
            return "close"
        return "different"
    first = " ".join(word for word in subject.address if word not in subject.address_numbers)
    second = " ".join(
        word for word in candidate.address if word not in candidate.address_numbers
    )
    if first and second and token_sort_ratio(first, second) >= CLOSE_ADDRESS:
        return "street"
    if _streets_close(subject, candidate):
        return "street"
    return "different"


def _identifier(first: str | None, second: str | None) -> str:
    if first is None or second is None:
        return "missing"
    return "exact" if first == second else "different"


def nhs_number(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, different."""
    return _identifier(subject.nhs_number, candidate.nhs_number)


def upn(subject: PreparedRecord, candidate: PreparedRecord) -> str:
    """exact, different."""
    return _identifier(subject.upn, candidate.upn)


COMPARATORS: dict[str, Callable[[PreparedRecord, PreparedRecord], str]] = {
    "given_name": given_name,
    "family_name": family_name,
    "date_of_birth": date_of_birth,
    "sex": sex,
    "postcode": postcode,
    "address": address,
    "nhs_number": nhs_number,
    "upn": upn,
}


def all_levels(
    subject: PreparedRecord, candidate: PreparedRecord, partly_crossed: bool = False
) -> dict[str, str]:
    """The level of every field; names compared crosswise when they look swapped
    (then the extra key ``swapped`` is present): both names agree crosswise, or, with
    ``partly_crossed``, one name is exactly the other side's other name (a surname
    written as the given name, and the other name recorded afresh). Among children in
    households a family name written as a given name meets the siblings' family name,
    so there a partial crossing is no evidence (``MatchModel`` passes its households)."""
    levels = {field: comparator(subject, candidate) for field, comparator in COMPARATORS.items()}
    if (
        levels["given_name"] == "different"
        and levels["family_name"] in ("different", "part")
        and _may_be_swapped(subject, candidate)
    ):
        crossed = swapped(subject)
        given, family = given_name(crossed, candidate), family_name(crossed, candidate)
        if (given != "different" and family != "different") or (
            partly_crossed and "exact" in (given, family)
        ):
            levels["given_name"], levels["family_name"] = given, family
            levels["swapped"] = "yes"
    return levels


def _may_be_swapped(subject: PreparedRecord, candidate: PreparedRecord) -> bool:
    """A cheap first look: each name begins as the other side's other name does, or one
    name is the other side's other name (both sides have both names: all_levels asks only
    when the given names differ and the family names differ or share a part)."""
    return (
        subject.family_joined[:1] == candidate.given_joined[:1]
        and subject.given_joined[:1] == candidate.family_joined[:1]
    ) or (
        subject.family_joined == candidate.given_joined
        or subject.given_joined == candidate.family_joined
    )


def swapped(subject: PreparedRecord) -> PreparedRecord:
    """The record with its given and family names exchanged."""
    return replace(
        subject,
        given=subject.family,
        family=subject.given,
        given_joined=subject.family_joined,
        family_joined=subject.given_joined,
    )
