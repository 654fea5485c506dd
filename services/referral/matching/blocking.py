"""Blocking keys: a subject is scored only against index records sharing a key.

Each key is selective on its own (a few hundred records at most per key among a million
children) and together they catch almost every true match (pair completeness is
measured by ``bench/matching_quality.py``):

- ``n:`` / ``u:`` the NHS number / UPN;
- ``d:`` the date of birth with day and month in sorted order (so transposed dates meet)
  and the initial of the given name or of a family-name part (one key each, so swapped
  names and one changed name still meet);
- ``np:`` the phonetic codes of the given name and one family-name part, in sorted order
  (so swapped names meet; any age, so a wrong date of birth still meets);
- ``p:`` the postcode with the birth year (a changed name or a nickname still meets);
- ``pf:`` the postcode with a family-name part's code (the household: a wrong date of
  birth with a nickname still meets); ``pg:`` the postcode with the given name's code;
- ``gm:`` the given name's code with the year and month of birth (a changed or
  misspelt family name with a wrong day still meets);
- ``s:`` the house number and the street's code with the initial of the given name or of
  a family-name part (a mistyped postcode still meets);
- ``ps:`` the postcode and the street's code (both names recorded wrongly, or a surname
  given as the given name, still meet at home).
"""

from __future__ import annotations

from datetime import date

from services.referral.matching.normalise import phonetic, prepare
from services.referral.matching.records import PersonRecord


def birthday_key(born: date) -> str:
    """The date of birth with day and month in sorted order (transposed dates agree)."""
    low, high = sorted((born.day, born.month))
    return f"{born.year:04d}-{low:02d}-{high:02d}"


def blocking_keys(record: PersonRecord) -> frozenset[str]:
    """The blocking keys of a record (each at most 40 characters)."""
    prepared = prepare(record)
    keys: set[str] = set()
    if prepared.nhs_number:
        keys.add(f"n:{prepared.nhs_number}")
    if prepared.upn:
        keys.add(f"u:{prepared.upn}")
    born = prepared.date_of_birth
    if born is not None:
        for initial in {part[0] for part in (*prepared.given[:1], *prepared.family)}:
            keys.add(f"d:{birthday_key(born)}:{initial}")
    if prepared.given:
        given_code = phonetic(prepared.given[0])
        for part in prepared.family:
            first, second = sorted((given_code, phonetic(part)))
            keys.add(f"np:{first}:{second}")
    postcode = prepared.postcode.replace(" ", "") if prepared.postcode else None
    if postcode and born is not None:
        keys.add(f"p:{postcode}:{born.year:04d}")
    if postcode:
        for part in prepared.family:
            keys.add(f"pf:{postcode}:{phonetic(part)}")
        if prepared.given:
            keys.add(f"pg:{postcode}:{phonetic(prepared.given[0])}")
    if prepared.given and born is not None:
        keys.add(f"gm:{phonetic(prepared.given[0])}:{born.year:04d}-{born.month:02d}")
    street = [word for word in prepared.address if word not in prepared.address_numbers]
    street_code = phonetic(street[0]) if street else ""
    if street_code:
        if postcode:
            keys.add(f"ps:{postcode}:{street_code}")
        initials = {part[0] for part in (*prepared.given[:1], *prepared.family)}
        for number in prepared.address_numbers:
            for initial in initials:
                keys.add(f"s:{number}:{street_code}:{initial}")
    return frozenset(key[:40] for key in keys)
