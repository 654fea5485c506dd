"""Queries and writes of the person index (no decisions here: see intake and decisions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, union, update
from sqlmodel import col, select

from services.referral.matching import PersonRecord
from services.referral.models import Referral, ReferralSubject
from services.referral.people.models import (
    BlockingKey,
    MatchReview,
    Person,
    PersonIdentifier,
    PersonLink,
    SubjectDetails,
)
from shared.db import UnitOfWork
from shared.events import utcnow

# Candidates scored per subject at most: the records sharing the most blocking keys.
MAX_CANDIDATES = 200
IDENTIFIER_TYPES = ("nhs_number", "upn", "police_reference", "local_id")


def _clean(value: str | None) -> str | None:
    """Whitespace collapsed; empty is missing."""
    if value is None:
        return None
    cleaned = " ".join(value.split())
    return cleaned or None


def details_of(subject: ReferralSubject, agency_id: str, seen_at: datetime) -> SubjectDetails:
    """What a referral subject says about the person, normalised, not yet linked."""
    address = subject.address or {}
    return SubjectDetails(
        subject_id=subject.id, referral_id=subject.referral_id, role=subject.role,
        agency_id=agency_id, seen_at=seen_at, match_status="new",
        given_name=_clean(subject.given_name), family_name=_clean(subject.family_name),
        other_names=[n for n in (_clean(o) for o in subject.other_names) if n],
        date_of_birth=subject.date_of_birth, sex=subject.sex, postcode=subject.postcode,
        address_line1=_clean(address.get("line1")), nhs_number=subject.nhs_number,
        upn=subject.upn)


def record_of(details: SubjectDetails) -> PersonRecord:
    """The engine's view of stored details."""
    return PersonRecord(
        given_name=details.given_name, family_name=details.family_name,
        other_names=tuple(details.other_names), date_of_birth=details.date_of_birth,
        sex=details.sex, postcode=details.postcode, address_line1=details.address_line1,
        nhs_number=details.nhs_number, upn=details.upn)


def record_json(record: PersonRecord) -> dict[str, Any]:
    """A record's fields as JSON (dates as YYYY-MM-DD)."""
    values = asdict(record)
    values["other_names"] = list(record.other_names)
    if record.date_of_birth is not None:
        values["date_of_birth"] = record.date_of_birth.isoformat()
    return values


async def candidates(uow: UnitOfWork, record: PersonRecord, keys: Iterable[str],
                     exclude_referral: str) -> list[tuple[str, PersonRecord]]:
    """Linked records sharing the subject's NHS number or UPN, or a blocking key (those
    sharing the most keys first, at most MAX_CANDIDATES): one statement."""
    keys = list(keys)
    wanted: list[Any] = []
    if keys:
        wanted.append(select(BlockingKey.subject_id).where(col(BlockingKey.key).in_(keys))
                      .group_by(col(BlockingKey.subject_id))
                      .order_by(func.count().desc()).limit(MAX_CANDIDATES))
    identifiers = [(kind, value) for kind, value in (("nhs_number", record.nhs_number),
                                                    ("upn", record.upn)) if value]
    if identifiers:
        wanted.append(select(PersonIdentifier.subject_id).where(or_(*(
            and_(col(PersonIdentifier.type) == kind, col(PersonIdentifier.value) == value)
            for kind, value in identifiers))))
    if not wanted:
        return []
    ids: Any = wanted[0]
    if len(wanted) > 1:
        parts: list[Any] = [w.subquery().select() for w in wanted]
        ids = union(*parts)
    # Plain rows, not ORM objects: this runs for every subject of every referral.
    query = select(*(col(getattr(SubjectDetails, c)) for c in _SCORED)).where(
        col(SubjectDetails.subject_id).in_(ids), col(SubjectDetails.person_id).is_not(None),
        SubjectDetails.referral_id != exclude_referral)
    rows = (await uow.session.exec(query)).all()
    return [_scored(row) for row in rows]


def _scored(row: Any) -> tuple[str, PersonRecord]:
    values = dict(zip(_SCORED, row, strict=True))
    person_id = values.pop("person_id")
    values["other_names"] = tuple(values["other_names"] or ())
    return person_id, PersonRecord(**values)


_SCORED = ("person_id", "given_name", "family_name", "other_names", "date_of_birth", "sex",
           "postcode", "address_line1", "nhs_number", "upn")


def new_person(uow: UnitOfWork) -> Person:
    """A person of their own."""
    person = Person(created_at=utcnow())
    uow.session.add(person)
    return person


def add_to_index(uow: UnitOfWork, details: SubjectDetails, subject: ReferralSubject,
                 keys: Iterable[str]) -> None:
    """Store a subject's details, identifiers and blocking keys."""
    uow.session.add(details)
    for kind in IDENTIFIER_TYPES:
        value = getattr(subject, kind)
        if value:
            uow.session.add(PersonIdentifier(
                person_id=details.person_id, subject_id=details.subject_id, type=kind,
                value=value, source_agency_id=details.agency_id,
                referral_id=details.referral_id, first_seen_at=details.seen_at))
    for key in keys:
        uow.session.add(BlockingKey(key=key, subject_id=details.subject_id))


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
        select(PersonLink).where(PersonLink.subject_id == subject_id,
                                 col(PersonLink.undone_at).is_(None))
        .order_by(col(PersonLink.decided_at).desc()).limit(1))).first()


async def matches_of(uow: UnitOfWork, referral_id: str) -> dict[str, SubjectDetails]:
    """Each subject's index entry for one referral, by subject id."""
    rows = await uow.session.exec(select(SubjectDetails)
                                  .where(SubjectDetails.referral_id == referral_id))
    return {row.subject_id: row for row in rows.all()}


async def person_records(uow: UnitOfWork, person_id: str
                         ) -> list[tuple[SubjectDetails, Referral]]:
    """Every subject linked to the person now, with its referral, oldest first."""
    rows = await uow.session.exec(
        select(SubjectDetails, Referral)
        .join(Referral, col(Referral.id) == col(SubjectDetails.referral_id))
        .where(SubjectDetails.person_id == person_id)
        .order_by(col(Referral.received_at), col(Referral.id)))
    return [(details, referral) for details, referral in rows.all()]


async def person_identifiers(uow: UnitOfWork, person_id: str) -> list[PersonIdentifier]:
    """The person's identifiers, earliest sighting first."""
    rows = await uow.session.exec(select(PersonIdentifier)
                                  .where(PersonIdentifier.person_id == person_id)
                                  .order_by(col(PersonIdentifier.first_seen_at),
                                            col(PersonIdentifier.id)))
    return list(rows.all())


async def person_links(uow: UnitOfWork, person_id: str) -> list[PersonLink]:
    """Every decision that tied a subject to the person, undone ones included."""
    rows = await uow.session.exec(select(PersonLink).where(PersonLink.person_id == person_id)
                                  .order_by(col(PersonLink.decided_at), col(PersonLink.id)))
    return list(rows.all())


async def referrals_of(uow: UnitOfWork, person_ids: Iterable[str], after: datetime,
                       limit: int = 100) -> list[Referral]:
    """The people's referrals (as a child) received after ``after``, oldest first."""
    ids = list(person_ids)
    if not ids:
        return []
    rows = await uow.session.exec(
        select(Referral).where(col(Referral.id).in_(
            select(SubjectDetails.referral_id).where(col(SubjectDetails.person_id).in_(ids),
                                                     SubjectDetails.role == "child")),
            col(Referral.received_at) > after)
        .order_by(col(Referral.received_at)).limit(limit))
    return list(rows.all())


async def match_reviews(uow: UnitOfWork, status: str | None,
                        after: tuple[datetime, str] | None, limit: int
                        ) -> list[tuple[MatchReview, SubjectDetails]]:
    """Match reviews newest first, with the details of the subject each is about."""
    query = select(MatchReview, SubjectDetails).join(
        SubjectDetails, col(SubjectDetails.subject_id) == col(MatchReview.subject_id))
    if status:
        query = query.where(MatchReview.status == status)
    if after is not None:
        at, last_id = after
        query = query.where(or_(col(MatchReview.created_at) < at,
                                and_(col(MatchReview.created_at) == at,
                                     col(MatchReview.id) < last_id)))
    query = query.order_by(col(MatchReview.created_at).desc(),
                           col(MatchReview.id).desc()).limit(limit)
    return [(review, details) for review, details in (await uow.session.exec(query)).all()]
