"""Normal forms of names, dates, postcodes and addresses, as the comparisons use them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import jellyfish

from services.referral.matching.records import PersonRecord

_APOSTROPHES = re.compile("['\u2019`]")
_NOT_LETTERS = re.compile(r"[^a-z]+")
_NOT_WORDS = re.compile(r"[^a-z0-9]+")

# Common ways of writing the same street type, so "12 High Street" equals "12 high st."
_STREET_WORDS = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "av": "ave",
    "close": "cl",
    "lane": "ln",
    "drive": "dr",
    "crescent": "cres",
    "court": "ct",
    "place": "pl",
    "gardens": "gdns",
    "terrace": "ter",
    "grove": "gr",
    "square": "sq",
    "way": "wy",
    "flat": "",
    "apartment": "",
    "the": "",
}


def fold(value: str) -> str:
    """Lower case, no diacritics (Zoë -> zoe), no apostrophes (O'Brien -> obrien)."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _APOSTROPHES.sub("", plain.casefold())


def name_parts(value: str | None) -> tuple[str, ...]:
    """The words of a name: hyphens, dots and spaces split (Jones-Smith -> jones, smith)."""
    if not value:
        return ()
    return tuple(part for part in _NOT_LETTERS.split(fold(value)) if part)


def address_words(value: str | None) -> tuple[str, ...]:
    """The words of an address line with street types abbreviated one way."""
    if not value:
        return ()
    words = (_STREET_WORDS.get(word, word) for word in _NOT_WORDS.split(fold(value)))
    return tuple(word for word in words if word)


def _street_compact(
    line: str | None, words: tuple[str, ...], numbers: frozenset[str]
) -> tuple[str, str]:
    """The address's words other than its numbers, without spaces: with street types
    abbreviated (12 High St = 12 High Street), and as written (7 Pearsonstreet = 7 Pearson
    Street, where the abbreviation cannot apply)."""
    written = _NOT_WORDS.split(fold(line)) if line else []
    return (
        "".join(word for word in words if word not in numbers),
        "".join(word for word in written if word and not any(c.isdigit() for c in word)),
    )


def phonetic(part: str) -> str:
    """A short phonetic code of one name part (NYSIIS), for blocking."""
    return jellyfish.nysiis(part)[:6] if part else ""


@dataclass(frozen=True)
class PreparedRecord:
    """A record's normal forms, computed once and reused for every comparison."""

    given: tuple[str, ...]
    family: tuple[str, ...]
    given_joined: str
    family_joined: str
    others: tuple[str, ...]
    date_of_birth: date | None
    dob_digits: str | None
    sex: str | None
    postcode: str | None
    district: str | None
    sector: str | None
    address: tuple[str, ...]
    address_numbers: frozenset[str]
    # the address's street part run together, once with street types abbreviated and
    # once as written, so that a space typed in the wrong place still compares
    street_compact: tuple[str, str]
    nhs_number: str | None
    upn: str | None


@lru_cache(maxsize=65536)
def prepare(record: PersonRecord) -> PreparedRecord:
    """Normal forms of a record (cached: the same index record meets many subjects)."""
    postcode = re.sub(r"\s+", " ", record.postcode.strip().upper()) if record.postcode else None
    district = sector = None
    if postcode:
        outward, _, inward = postcode.partition(" ")
        district = outward
        sector = f"{outward} {inward[:1]}" if inward else None
    words = address_words(record.address_line1)
    numbers = frozenset(word for word in words if any(c.isdigit() for c in word))
    sex = record.sex.upper() if record.sex and record.sex.upper() in ("F", "M") else None
    others = tuple(part for name in record.other_names for part in name_parts(name))
    dob = record.date_of_birth
    given, family = name_parts(record.given_name), name_parts(record.family_name)
    return PreparedRecord(
        given=given,
        family=family,
        given_joined="".join(given),
        family_joined="".join(family),
        others=others,
        date_of_birth=dob,
        dob_digits=dob.strftime("%Y%m%d") if dob else None,
        sex=sex,
        postcode=postcode or None,
        district=district,
        sector=sector,
        address=words,
        address_numbers=numbers,
        street_compact=_street_compact(record.address_line1, words, numbers),
        nhs_number=re.sub(r"\s", "", record.nhs_number) if record.nhs_number else None,
        upn=record.upn.strip().upper() if record.upn else None,
    )
