"""Blocking keys: a subject is scored only against index records sharing a key.

Each key is selective on its own (a few hundred records at most per key among a million
children) and together they catch almost every true match (pair completeness is
measured by ``bench/matching_quality.py``):

- ``n:`` / ``u:`` the NHS number / UPN;
- ``d:`` the date of birth with day and month in sorted order (so transposed dates meet);
- ``np:`` the phonetic codes of the given name and one family-name part, in sorted order
  (so swapped names meet; any age, so a wrong date of birth still meets);
- ``p:`` the postcode with the birth year (a changed name or a nickname still meets).
"""

from __future__ import annotations

from services.referral.matching.normalise import phonetic, prepare
from services.referral.matching.records import PersonRecord


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
        low, high = sorted((born.day, born.month))
        keys.add(f"d:{born.year:04d}-{low:02d}-{high:02d}")
    if prepared.given:
        given_code = phonetic(prepared.given[0])
        for part in prepared.family:
            first, second = sorted((given_code, phonetic(part)))
            keys.add(f"np:{first}:{second}")
    if prepared.postcode and born is not None:
        keys.add(f"p:{prepared.postcode.replace(' ', '')}:{born.year:04d}")
    return frozenset(key[:40] for key in keys)
