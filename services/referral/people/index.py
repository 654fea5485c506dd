"""Queries and writes of the person index (no decisions here: see intake and decisions)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, text, true, union, update
from sqlmodel import col
from sqlmodel import select as orm_select

from services.referral.matching import PersonRecord, blocking_keys
from services.referral.people.models import (
    BlockingKey,
    MatchReview,
    Person,
    PersonIdentifier,
    PersonLink,
    SubjectDetails,
)
from services.referral.referrals.models import Referral
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.pagination import after as keyset_after
from shared.rows import Rows, in_slots, slot_params

# Candidates scored per subject at most: the records sharing the most blocking keys.
MAX_CANDIDATES = 200
# Records sharing the subject's NHS number or UPN, the latest first: a child referred
# hundreds of times is scored against its latest records, not all of them.
MAX_IDENTIFIER_CANDIDATES = 50
IDENTIFIER_TYPES = ("nhs_number", "upn", "police_reference", "local_id")


def _clean(value: str | None) -> str | None:
    """Whitespace collapsed; empty is missing."""
    if value is None:
        return None
    cleaned = " ".join(value.split())
    return cleaned or None


def details_of(subject: Mapping[str, Any], agency_id: str, seen_at: datetime
               ) -> dict[str, Any]:
    """What a referral subject (a row of referral_subjects) says about the person,
    normalised, not yet linked: a row of person_records."""
    address = subject["address"] or {}
    return {
        "subject_id": subject["id"], "referral_id": subject["referral_id"],
        "person_id": None, "role": subject["role"], "agency_id": agency_id,
        "seen_at": seen_at, "match_status": "new", "review_id": None,
        "given_name": _clean(subject["given_name"]),
        "family_name": _clean(subject["family_name"]),
        "other_names": [n for n in (_clean(o) for o in subject["other_names"]) if n],
        "date_of_birth": subject["date_of_birth"], "sex": subject["sex"],
        "postcode": subject["postcode"], "address_line1": _clean(address.get("line1")),
        "nhs_number": subject["nhs_number"], "upn": subject["upn"]}


def record_of(details: SubjectDetails | Mapping[str, Any]) -> PersonRecord:
    """The engine's view of stored details (an ORM row or a plain one)."""
    values = details if isinstance(details, Mapping) else details.model_dump()
    return PersonRecord(
        given_name=values["given_name"], family_name=values["family_name"],
        other_names=tuple(values["other_names"]), date_of_birth=values["date_of_birth"],
        sex=values["sex"], postcode=values["postcode"],
        address_line1=values["address_line1"], nhs_number=values["nhs_number"],
        upn=values["upn"])


def record_json(record: PersonRecord) -> dict[str, Any]:
    """A record's fields as JSON (dates as YYYY-MM-DD)."""
    values = asdict(record)
    values["other_names"] = list(record.other_names)
    if record.date_of_birth is not None:
        values["date_of_birth"] = record.date_of_birth.isoformat()
    return values


_DETAILS = SubjectDetails.__table__  # type: ignore[attr-defined]
_KEYS = BlockingKey.__table__  # type: ignore[attr-defined]
_IDENTIFIERS = PersonIdentifier.__table__  # type: ignore[attr-defined]
_SCORED = ("person_id", "given_name", "family_name", "other_names", "date_of_birth", "sex",
           "postcode", "address_line1", "nhs_number", "upn")


KEY_SLOTS = 16  # blocking keys of a record: usually 6-10


@cache
def _candidates_query(slots: int | None, lateral: bool) -> Any:
    """Linked records sharing an identifier or a blocking key, those sharing the most keys
    first: one Core statement, built once (see shared.rows.in_slots).

    ``lateral`` (PostgreSQL): each candidate's record is read by its primary key in a
    LATERAL subquery, a plan that cannot turn into a scan of every record. Without it,
    while a growing index has not been analysed yet, PostgreSQL estimated the candidates
    at the LIMIT (200) and hash-joined them with a full scan of person_records, once per
    subject: intake then slowed down with every referral until autovacuum came round.
    """
    by_key = (select(_KEYS.c.subject_id)
              .where(in_slots(_KEYS.c.key, "keys", slots))
              .group_by(_KEYS.c.subject_id).order_by(func.count().desc())
              .limit(MAX_CANDIDATES))
    by_identifier = (select(_IDENTIFIERS.c.subject_id).where(or_(
        and_(_IDENTIFIERS.c.type == "nhs_number", _IDENTIFIERS.c.value == bindparam("nhs")),
        and_(_IDENTIFIERS.c.type == "upn", _IDENTIFIERS.c.value == bindparam("upn"))))
        .order_by(_IDENTIFIERS.c.id.desc()).limit(MAX_IDENTIFIER_CANDIDATES))
    wanted = union(by_key.subquery().select(), by_identifier.subquery().select())
    linked = (_DETAILS.c.person_id.is_not(None),
              _DETAILS.c.referral_id != bindparam("referral"))
    scored = [_DETAILS.c[name] for name in _SCORED]
    if not lateral:
        return select(*scored).where(_DETAILS.c.subject_id.in_(wanted), *linked)
    ids = wanted.subquery("candidate")
    # LIMIT 1 (it is the primary key): PostgreSQL would otherwise flatten the subquery
    # into a plain join and be free to choose the scan again.
    record = (select(*scored).where(_DETAILS.c.subject_id == ids.c.subject_id, *linked)
              .limit(1).lateral("record"))
    return select(*(record.c[name] for name in _SCORED)).select_from(
        ids.join(record, true()))


@dataclass(frozen=True)
class Unwritten:
    """A subject indexed in this batch whose rows are not written yet."""

    referral_id: str
    person_id: str | None
    keys: frozenset[str]
    record: PersonRecord


@dataclass
class UnwrittenReferral:
    """A referral of this batch, not written yet: its children's people, and its flags,
    settled at the end of the batch (``flags.settle``) in its row."""

    referral_id: str
    received_at: datetime
    start_of_day: datetime  # midnight of its day in the hub's zone
    known_children: frozenset[str]  # people its children were linked to (not new ones)
    child_people: frozenset[str]
    row: dict[str, Any]  # the referral's row, whose flags are set when settled
    same_day_as: str | None = None
    is_re_referral: bool = False


@dataclass
class BatchIndex:
    """What the referrals of one intake batch have added to the index so far, before
    their rows are written at the end of the batch: a later referral of the batch is
    matched (and flagged) against the earlier ones as if they were in the database.

    ``stored``: the candidates in the database of the batch's records, read for the whole
    batch at its start by ``prefetch`` (PostgreSQL), by record."""

    subjects: list[Unwritten] = field(default_factory=list)
    referrals: list[UnwrittenReferral] = field(default_factory=list)
    stored: dict[PersonRecord, list[tuple[str, PersonRecord]]] = field(default_factory=dict)
    # The positions in ``subjects`` of those with each key, NHS number ("n") or UPN ("u").
    _by_key: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def add(self, subject: Unwritten) -> None:
        """A subject matched in this batch, to be found by the later ones."""
        position = len(self.subjects)
        self.subjects.append(subject)
        keys = [("k", key) for key in subject.keys]
        keys += [("n", subject.record.nhs_number)] if subject.record.nhs_number else []
        keys += [("u", subject.record.upn)] if subject.record.upn else []
        for key in keys:
            self._by_key.setdefault(key, []).append(position)

    def candidates(self, record: PersonRecord, keys: frozenset[str],
                   exclude_referral: str) -> list[tuple[str, PersonRecord]]:
        """Linked subjects of the batch sharing a blocking key or an identifier."""
        wanted = [("k", key) for key in keys]
        wanted += [("n", record.nhs_number)] if record.nhs_number else []
        wanted += [("u", record.upn)] if record.upn else []
        found = sorted({p for key in wanted for p in self._by_key.get(key, ())})
        return [(s.person_id, s.record) for s in map(self.subjects.__getitem__, found)
                if s.person_id is not None and s.referral_id != exclude_referral]


async def candidates(uow: UnitOfWork, record: PersonRecord, keys: Iterable[str],
                     exclude_referral: str, batch: BatchIndex | None = None
                     ) -> list[tuple[str, PersonRecord]]:
    """Linked records sharing the subject's NHS number or UPN, or a blocking key (those
    sharing the most keys first, at most MAX_CANDIDATES): one statement; with those of
    ``batch`` not written yet."""
    keys = frozenset(keys)
    if not keys and not record.nhs_number and not record.upn:
        return []
    if batch is not None and record in batch.stored:
        return batch.stored[record] + batch.candidates(record, keys, exclude_referral)
    slots, params = slot_params("keys", sorted(keys), KEY_SLOTS)
    connection = await uow.session.connection()
    lateral = not uow.database.is_sqlite
    rows = await connection.execute(_candidates_query(slots, lateral), {
        **params, "nhs": record.nhs_number, "upn": record.upn, "referral": exclude_referral})
    found = [_scored(row) for row in rows.all()]
    if batch is not None:
        found += batch.candidates(record, keys, exclude_referral)
    return found


# Every record's candidates in one statement: for each record (its position ``i``, its
# NHS number and UPN), the same two limited look-ups as ``_candidates_query``'s, in a
# LATERAL subquery, then each candidate's details by primary key.
_BATCH_CANDIDATES = text(f"""
WITH subject AS (
    SELECT s.i, s.nhs, s.upn, coalesce(w.keys, '{{}}') AS keys
    FROM unnest(CAST(:position AS integer[]), CAST(:nhs AS text[]),
                CAST(:upn AS text[])) AS s(i, nhs, upn)
    LEFT JOIN (SELECT i, array_agg(key) AS keys
               FROM unnest(CAST(:key_of AS integer[]), CAST(:keys AS text[])) AS w(i, key)
               GROUP BY i) AS w ON w.i = s.i
)
SELECT subject.i, {", ".join(f"record.{name}" if name != "other_names"
                             else "CAST(record.other_names AS text)" for name in _SCORED)}
FROM subject
CROSS JOIN LATERAL (
    (SELECT k.subject_id FROM {_KEYS.name} AS k
     WHERE k.key = ANY(subject.keys)
     GROUP BY k.subject_id ORDER BY count(*) DESC LIMIT {MAX_CANDIDATES})
    UNION
    (SELECT p.subject_id FROM {_IDENTIFIERS.name} AS p
     WHERE (p.type = 'nhs_number' AND p.value = subject.nhs)
        OR (p.type = 'upn' AND p.value = subject.upn)
     ORDER BY p.id DESC LIMIT {MAX_IDENTIFIER_CANDIDATES})
) AS candidate
CROSS JOIN LATERAL (
    SELECT {", ".join(_SCORED)} FROM {_DETAILS.name} AS d
    WHERE d.subject_id = candidate.subject_id AND d.person_id IS NOT NULL LIMIT 1
) AS record
""")  # noqa: S608 (the names and limits are this module's constants, not input)


async def prefetch(uow: UnitOfWork, batch: BatchIndex, records: Iterable[PersonRecord]) -> None:
    """Read the stored candidates of every record of a batch in one statement, before
    its referrals are matched one by one (PostgreSQL; on SQLite, where a statement costs
    no round trip, each record's are read as it is matched).

    The batch's own referrals are not in the database yet, so no candidate need be left
    out as the referral's own; the batch's subjects are added as each is matched."""
    if uow.database.is_sqlite:
        return
    wanted = list(dict.fromkeys(r for r in records if r not in batch.stored))
    if not wanted:
        return
    key_of: list[int] = []
    keys: list[str] = []
    for position, record in enumerate(wanted):
        for key in sorted(blocking_keys(record)):
            key_of.append(position)
            keys.append(key)
    connection = await uow.session.connection()
    found = await connection.execute(_BATCH_CANDIDATES, {
        "key_of": key_of, "keys": keys, "position": list(range(len(wanted))),
        "nhs": [r.nhs_number for r in wanted], "upn": [r.upn for r in wanted]})
    for record in wanted:
        batch.stored[record] = []
    for position, *row in found.all():  # other names as JSON text: most are none
        others = row[3]
        row[3] = json.loads(others) if others != "[]" else ()
        batch.stored[wanted[position]].append(_scored(row))


def _scored(row: Any) -> tuple[str, PersonRecord]:
    person_id, given, family, others, born, sex, postcode, line1, nhs, upn = row
    return person_id, PersonRecord(given, family, tuple(others or ()), born, sex, postcode,
                                   line1, nhs, upn)


def new_person(uow: UnitOfWork) -> Person:
    """A person of their own."""
    person = Person(created_at=utcnow())
    uow.session.add(person)
    return person


def add_to_index(rows: Rows, details: dict[str, Any], subject: Mapping[str, Any],
                 keys: Iterable[str]) -> None:
    """Store a subject's details, identifiers and blocking keys."""
    rows.add(SubjectDetails, **details)
    for kind in IDENTIFIER_TYPES:
        value = subject[kind]
        if value:
            rows.add(PersonIdentifier, person_id=details["person_id"],
                     subject_id=details["subject_id"], type=kind, value=value,
                     source_agency_id=details["agency_id"],
                     referral_id=details["referral_id"], first_seen_at=details["seen_at"])
    for key in keys:
        rows.add(BlockingKey, key=key, subject_id=details["subject_id"])


async def move_subject(uow: UnitOfWork, details: SubjectDetails, person_id: str | None,
                       status: str, review_id: str | None = None) -> None:
    """Point a subject's details and identifiers at another person (or none)."""
    details.person_id, details.match_status, details.review_id = person_id, status, review_id
    uow.session.add(details)
    await uow.session.exec(update(PersonIdentifier)
                           .where(col(PersonIdentifier.subject_id) == details.subject_id)
                           .values(person_id=person_id)
                           .execution_options(synchronize_session=False))


async def active_link(uow: UnitOfWork, subject_id: str) -> PersonLink | None:
    """The decision the subject's current person rests on."""
    return (await uow.session.exec(
        orm_select(PersonLink).where(PersonLink.subject_id == subject_id,
                                 col(PersonLink.undone_at).is_(None))
        .order_by(col(PersonLink.decided_at).desc()).limit(1))).first()


async def matches_of(uow: UnitOfWork, referral_id: str) -> dict[str, SubjectDetails]:
    """Each subject's index entry for one referral, by subject id."""
    rows = await uow.session.exec(orm_select(SubjectDetails)
                                  .where(SubjectDetails.referral_id == referral_id))
    return {row.subject_id: row for row in rows.all()}


async def person_records(uow: UnitOfWork, person_id: str
                         ) -> list[tuple[SubjectDetails, Referral]]:
    """Every subject linked to the person now, with its referral, oldest first."""
    rows = await uow.session.exec(
        orm_select(SubjectDetails, Referral)
        .join(Referral, col(Referral.id) == col(SubjectDetails.referral_id))
        .where(SubjectDetails.person_id == person_id)
        .order_by(col(Referral.received_at), col(Referral.id)))
    return [(details, referral) for details, referral in rows.all()]


async def person_identifiers(uow: UnitOfWork, person_id: str) -> list[PersonIdentifier]:
    """The person's identifiers, earliest sighting first."""
    rows = await uow.session.exec(orm_select(PersonIdentifier)
                                  .where(PersonIdentifier.person_id == person_id)
                                  .order_by(col(PersonIdentifier.first_seen_at),
                                            col(PersonIdentifier.id)))
    return list(rows.all())


async def person_links(uow: UnitOfWork, person_id: str) -> list[PersonLink]:
    """Every decision that tied a subject to the person, undone ones included."""
    rows = await uow.session.exec(orm_select(PersonLink).where(PersonLink.person_id == person_id)
                                  .order_by(col(PersonLink.decided_at), col(PersonLink.id)))
    return list(rows.all())


async def referrals_of(uow: UnitOfWork, person_ids: Iterable[str], after: datetime,
                       limit: int = 100) -> list[Referral]:
    """The people's referrals (as a child) received after ``after``, oldest first."""
    ids = list(person_ids)
    if not ids:
        return []
    rows = await uow.session.exec(
        orm_select(Referral).where(col(Referral.id).in_(
            orm_select(SubjectDetails.referral_id).where(col(SubjectDetails.person_id).in_(ids),
                                                     SubjectDetails.role == "child")),
            col(Referral.received_at) > after)
        .order_by(col(Referral.received_at)).limit(limit))
    return list(rows.all())


async def match_reviews(uow: UnitOfWork, status: str | None,
                        after: tuple[datetime, str] | None, limit: int
                        ) -> list[tuple[MatchReview, SubjectDetails]]:
    """Match reviews newest first, with the details of the subject each is about."""
    query = orm_select(MatchReview, SubjectDetails).join(
        SubjectDetails, col(SubjectDetails.subject_id) == col(MatchReview.subject_id))
    if status:
        query = query.where(MatchReview.status == status)
    if after is not None:
        query = query.where(keyset_after([col(MatchReview.created_at), col(MatchReview.id)],
                                         after, descending=True))
    query = query.order_by(col(MatchReview.created_at).desc(),
                           col(MatchReview.id).desc()).limit(limit)
    return [(review, details) for review, details in (await uow.session.exec(query)).all()]
