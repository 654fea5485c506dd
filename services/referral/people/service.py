"""Reading the person index, for MASH staff only; every read is audited."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.people import index, search
from services.referral.people.models import (
    MatchReview,
    Person,
    PersonIdentifier,
    PersonLink,
    SubjectDetails,
)
from services.referral.permissions import is_mash_staff
from services.referral.referrals.models import Referral
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.problems import Problem


@dataclass(frozen=True)
class PersonFile:
    """Everything the index holds about one person."""

    person: Person
    records: list[tuple[SubjectDetails, Referral]]
    identifiers: list[PersonIdentifier]
    links: list[PersonLink]
    household: list[search.Housemate] = field(default_factory=list)
    # The details of each subject a link is about (undone links' subjects included).
    linked_subjects: dict[str, SubjectDetails] = field(default_factory=dict)


def require_mash_staff(reader: Principal, what: str) -> None:
    """Partners do not learn that a person or review exists."""
    if not is_mash_staff(reader):
        raise Problem(404, f"No such {what}.")


async def person_file(uow: UnitOfWork, person_id: str) -> PersonFile:
    """The person with their records, identifiers and link decisions."""
    person = await uow.session.get(Person, person_id)
    if person is None:
        raise Problem(404, "No such person.")
    records = await index.person_records(uow, person_id)
    links = await index.person_links(uow, person_id)
    subject_ids = sorted({link.subject_id for link in links})
    linked = {d.subject_id: d for d in (await uow.session.exec(
        select(SubjectDetails).where(col(SubjectDetails.subject_id).in_(subject_ids)))).all()}
    return PersonFile(person, records, await index.person_identifiers(uow, person_id), links,
                      await search.household(uow, person_id, [d for d, _ in records]),
                      linked)


async def search_people(uow: UnitOfWork, reader: Principal, query: search.PersonQuery,
                        after: tuple[int, str, str] | None, limit: int, purpose: str
                        ) -> list[tuple[search.Hit, search.PersonSummary]]:
    """People matching the query, best first, after a cursor; the search and its terms
    are audited."""
    hits = await search.search(uow, query)
    if after is not None:
        hits = [hit for hit in hits if hit.key() > after]
    hits = hits[:limit]
    found = await search.summaries(uow, [hit.person_id for hit in hits])
    await audit.record(uow, reader, "search", "person", "*", purpose,
                       detail=dataclasses.asdict(query))
    return [(hit, found[hit.person_id]) for hit in hits]


async def read_person(uow: UnitOfWork, person_id: str, reader: Principal,
                      purpose: str) -> PersonFile:
    """One person, audited (a refusal too)."""
    if not is_mash_staff(reader) or await uow.session.get(Person, person_id) is None:
        await audit.record_refusal(uow, reader, "person", person_id, purpose)
        raise NotFound("No such person.")
    found = await person_file(uow, person_id)
    await audit.record(uow, reader, "read", "person", person_id, purpose)
    return found


async def list_reviews(uow: UnitOfWork, reader: Principal, status: str | None,
                       after: tuple[datetime, str] | None, limit: int,
                       purpose: str) -> list[tuple[MatchReview, SubjectDetails]]:
    """Match reviews newest first; the search is audited."""
    require_mash_staff(reader, "match reviews")
    found = await index.match_reviews(uow, status, after, limit)
    await audit.record(uow, reader, "search", "match_review", "*", purpose,
                       detail={"status": status})
    return found


async def read_review(uow: UnitOfWork, review_id: str, reader: Principal,
                      purpose: str) -> tuple[MatchReview, SubjectDetails]:
    """One match review, audited (a refusal too)."""
    review = await uow.session.get(MatchReview, review_id) if is_mash_staff(reader) else None
    details = await uow.session.get(SubjectDetails, review.subject_id) if review else None
    if review is None or details is None:
        await audit.record_refusal(uow, reader, "match_review", review_id, purpose)
        raise NotFound("No such match review.")
    await audit.record(uow, reader, "read", "match_review", review_id, purpose)
    return review, details
