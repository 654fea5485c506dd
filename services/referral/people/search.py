"""Finding people in the index by name, date of birth, NHS number, UPN or postcode.

A name is looked for as the matcher looks for candidates (matching.blocking: the phonetic
codes of the given and family names, with each known variant of the given name, so Bill
finds William; with a date of birth or postcode, their keys too), and also by the exact
given or family name, so one misspelt name still meets the other; each record found is
then compared with the matcher's own comparisons (matching.compare), and kept when the
family name agrees at least closely and the given name exactly, as a variant, closely
(a typo), as another name or by its initial. A typo in both names, or in a name's first
letter, is found only when the phonetic codes still agree. Criteria given together hold
for one record of the person; an NHS number or UPN for any of the person's records. At
most MAX_RECORDS records are weighed: one common name alone finds the first of them; a
date of birth or postcode narrows it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, or_, union
from sqlmodel import col, select

from services.referral.matching import PersonRecord
from services.referral.matching.blocking import blocking_keys
from services.referral.matching.compare import family_name, given_name
from services.referral.matching.normalise import (
    PreparedRecord,
    address_words,
    name_parts,
    phonetic,
    prepare,
)
from services.referral.matching.variants import variants_of
from services.referral.people.models import BlockingKey, PersonIdentifier, SubjectDetails
from services.referral.referrals.models import Referral
from shared.db import UnitOfWork

MAX_RECORDS = 1000
_DETAILS = SubjectDetails.__table__  # type: ignore[attr-defined]
# How well a record's names agree with the query: lower is better.
GIVEN_RANK = {"exact": 0, "variant": 1, "close": 2, "other_name": 2, "initial": 3}
FAMILY_RANK = {"exact": 0, "part": 1, "close": 2}


@dataclass(frozen=True)
class PersonQuery:
    """What to look for; at least one field."""

    q: str | None = None
    date_of_birth: date | None = None
    nhs_number: str | None = None
    upn: str | None = None
    postcode: str | None = None


@dataclass(frozen=True)
class Hit:
    """A person found, how well they matched (lower is better) and the names to sort by."""

    person_id: str
    rank: int
    sort_name: str

    def key(self) -> tuple[int, str, str]:
        """The order of the results (and their cursors)."""
        return (self.rank, self.sort_name, self.person_id)


@dataclass(frozen=True)
class PersonSummary:
    """A person as a search result shows them: the latest name and date of birth given,
    their identifiers, how many referrals and the latest."""

    person_id: str
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    identifiers: list[PersonIdentifier]
    referral_count: int
    last_referral_at: datetime | None


def has_name(q: str) -> bool:
    """Whether a query has a name in it (letters, not only punctuation or digits)."""
    return bool(name_parts(q))


def _name_query(q: str) -> tuple[str | None, str | None]:
    """The given and family name of a query: the last word is the family name; one word
    may be either."""
    words = name_parts(q)
    if len(words) < 2:
        return None, (words[0] if words else None)
    return " ".join(words[:-1]), words[-1]


def _name_keys(record: PersonRecord) -> set[str]:
    """Blocking keys of the query, and of each known variant of its given name."""
    keys = set(blocking_keys(record))
    prepared = prepare(record)
    if prepared.given:
        for variant in variants_of(prepared.given[0]):
            keys |= blocking_keys(replace(record, given_name=variant))
            for part in prepared.family:  # the name pair alone, in case the blocking
                first, second = sorted((phonetic(variant), phonetic(part)))  # changes
                keys.add(f"np:{first}:{second}"[:40])
    return {key for key in keys if not key.startswith(("n:", "u:"))}


@lru_cache(maxsize=65536)
def _prepared_names(given: str | None, family: str | None,
                    others: tuple[str, ...]) -> PreparedRecord:
    """A record's names in normal form (cached by the names themselves: a common name's
    records are weighed by search after search; prepare's own cache, keyed by whole
    records, is the matcher's and is left to it)."""
    return prepare.__wrapped__(PersonRecord(given_name=given, family_name=family,
                                            other_names=others))


def _name_rank(query: PersonRecord, one_word: str | None,
               names: tuple[str | None, str | None, tuple[str, ...]]) -> int | None:
    """How well a record's names (given, family, others) agree with the query (None: not
    at all)."""
    candidate = _prepared_names(*names)
    if one_word is not None:
        if one_word in candidate.family:
            return 0 if candidate.family_joined == one_word else 1
        if one_word in candidate.given or one_word in candidate.others:
            return 2
        return None
    wanted = prepare(query)
    family = FAMILY_RANK.get(family_name(wanted, candidate))
    given = GIVEN_RANK.get(given_name(wanted, candidate))
    if family is None or given is None:
        return None
    return family + given


def _named(record: PersonRecord, given: str | None, family: str) -> Any:
    """The records a name may find, each way narrow enough to seek an index: with a given
    name, those sharing a name key (a nickname's too), or the exact family name and a
    given name of the same initial (a typo in the given name), or the exact given name and
    a family name of the same initial (a typo in the family name); one word, the exact
    family or given name.

    With a given name, the three ways are found as a union of subject ids: as three
    conditions ORed, PostgreSQL cannot seek the blocking keys' subquery by index and read
    every record to test it (about 80 ms at 100,000 referrals, growing with them)."""
    family_lower = func.lower(col(SubjectDetails.family_name))
    given_lower = func.lower(col(SubjectDetails.given_name))
    if given is None:
        return or_(family_lower == family, given_lower == family)
    first = given.split()[0]
    named = _DETAILS.alias("named")
    named_family, named_given = func.lower(named.c.family_name), func.lower(named.c.given_name)
    ways: list[Any] = [
        select(named.c.subject_id).where(named_family == family,
                                         named_given.like(f"{first[0]}%")),
        select(named.c.subject_id).where(named_given == first,
                                         named_family.like(f"{family[0]}%"))]
    keys = sorted(_name_keys(record))
    if keys:
        ways.append(select(BlockingKey.subject_id).where(col(BlockingKey.key).in_(keys)))
    return col(SubjectDetails.subject_id).in_(union(*ways))


async def _identified(uow: UnitOfWork, query: PersonQuery) -> set[str] | None:
    """The people with the NHS number and/or UPN asked for (None if none was asked)."""
    found: set[str] | None = None
    for kind, value in (("nhs_number", query.nhs_number), ("upn", query.upn)):
        if value is None:
            continue
        rows = await uow.session.exec(
            select(PersonIdentifier.person_id).where(
                PersonIdentifier.type == kind, PersonIdentifier.value == value,
                col(PersonIdentifier.person_id).is_not(None)))
        people = {person_id for person_id in rows.all() if person_id}
        found = people if found is None else found & people
    return found


# What a search weighs of a record: a common name alone brings MAX_RECORDS of them, read as
# plain rows of these, not as whole records.
RECORD_COLUMNS = (col(SubjectDetails.person_id), col(SubjectDetails.given_name),
                  col(SubjectDetails.family_name), col(SubjectDetails.other_names))


def records_statement(query: PersonQuery, people: set[str] | None) -> Any:
    """The records worth weighing (of ``people`` if the query named identifiers), as rows
    of RECORD_COLUMNS."""
    statement = select(*RECORD_COLUMNS)
    if people is not None:
        statement = statement.where(col(SubjectDetails.person_id).in_(sorted(people)))
    if query.date_of_birth is not None:
        statement = statement.where(SubjectDetails.date_of_birth == query.date_of_birth)
    if query.postcode is not None:
        statement = statement.where(SubjectDetails.postcode == query.postcode)
    given, family = _name_query(query.q or "")
    if family is not None:
        record = PersonRecord(given_name=given, family_name=family,
                              date_of_birth=query.date_of_birth, postcode=query.postcode)
        statement = statement.where(_named(record, given, family))
    return statement.limit(MAX_RECORDS)


async def search(uow: UnitOfWork, query: PersonQuery) -> list[Hit]:
    """Every person matching the query (from at most MAX_RECORDS records), best first."""
    people = await _identified(uow, query)
    if people is not None and not people:
        return []
    given, family = _name_query(query.q or "")
    one_word = family if query.q and given is None else None
    record = PersonRecord(given_name=given, family_name=family,
                          date_of_birth=query.date_of_birth, postcode=query.postcode)
    records = (await uow.session.exec(records_statement(query, people))).all()
    # A person referred again has the same names in each record: each set weighed once.
    ranks: dict[tuple[str | None, str | None, tuple[str, ...]], int | None] = {}
    best: dict[str, Hit] = {}
    for person_id, their_given, their_family, their_others in records:
        if person_id is None:
            continue
        names = (their_given, their_family, tuple(their_others))
        if names not in ranks:
            ranks[names] = 0 if family is None else _name_rank(record, one_word, names)
        rank = ranks[names]
        if rank is None:
            continue
        hit = Hit(person_id, rank, f"{their_family or ''} {their_given or ''}".casefold())
        if person_id not in best or hit.key() < best[person_id].key():
            best[person_id] = hit
    return sorted(best.values(), key=Hit.key)


async def summaries(uow: UnitOfWork, person_ids: list[str]) -> dict[str, PersonSummary]:
    """Each person's latest name and date of birth, identifiers and referrals (3 queries)."""
    if not person_ids:
        return {}
    latest: dict[str, SubjectDetails] = {}
    born: dict[str, date] = {}
    rows = await uow.session.exec(
        select(SubjectDetails).where(col(SubjectDetails.person_id).in_(person_ids))
        .order_by(col(SubjectDetails.seen_at).desc()))
    for details in rows.all():
        assert details.person_id is not None
        latest.setdefault(details.person_id, details)
        if details.date_of_birth is not None:
            born.setdefault(details.person_id, details.date_of_birth)
    identifiers: dict[str, list[PersonIdentifier]] = {}
    for identifier in (await uow.session.exec(
            select(PersonIdentifier).where(col(PersonIdentifier.person_id).in_(person_ids))
            .order_by(col(PersonIdentifier.first_seen_at), col(PersonIdentifier.id)))).all():
        assert identifier.person_id is not None
        identifiers.setdefault(identifier.person_id, []).append(identifier)
    counts: dict[str, tuple[int, datetime | None]] = {}
    for person_id, count, last in (await uow.session.exec(
            select(SubjectDetails.person_id, func.count(func.distinct(Referral.id)),
                   func.max(Referral.received_at))
            .join(Referral, col(Referral.id) == col(SubjectDetails.referral_id))
            .where(col(SubjectDetails.person_id).in_(person_ids))
            .group_by(col(SubjectDetails.person_id)))).all():
        counts[str(person_id)] = (int(count), last)
    found = {}
    for person_id in person_ids:
        named = latest.get(person_id)
        referrals, last_at = counts.get(person_id, (0, None))
        found[person_id] = PersonSummary(
            person_id=person_id, given_name=named.given_name if named else None,
            family_name=named.family_name if named else None,
            date_of_birth=born.get(person_id),
            identifiers=identifiers.get(person_id, []), referral_count=referrals,
            last_referral_at=last_at)
    return found


@dataclass(frozen=True)
class Housemate:
    """Someone sharing an address with the person: who, and the address shared."""

    summary: PersonSummary
    line1: str | None
    postcode: str


async def household(uow: UnitOfWork, person_id: str, records: list[SubjectDetails]
                    ) -> list[Housemate]:
    """Other people given the same address (postcode and first line, compared as the
    matcher compares addresses) as one of the person's records."""
    addresses = {(d.postcode, address_words(d.address_line1)) for d in records
                 if d.postcode and d.address_line1}
    if not addresses:
        return []
    rows = await uow.session.exec(
        select(SubjectDetails).where(
            col(SubjectDetails.postcode).in_(sorted({p for p, _ in addresses})),
            col(SubjectDetails.person_id).is_not(None),
            col(SubjectDetails.person_id) != person_id)
        .order_by(col(SubjectDetails.seen_at).desc()).limit(MAX_RECORDS))
    shared: dict[str, SubjectDetails] = {}
    for details in rows.all():
        if (details.postcode, address_words(details.address_line1)) in addresses:
            assert details.person_id is not None
            shared.setdefault(details.person_id, details)
    people = await summaries(uow, sorted(shared))
    return sorted((Housemate(people[p], d.address_line1, d.postcode or "")
                   for p, d in shared.items()),
                  key=lambda h: (h.summary.date_of_birth or date.max, h.summary.person_id))
