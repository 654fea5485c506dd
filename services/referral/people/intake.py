"""Matching on intake: every subject of a new referral is linked to a person, in the
referral's own transaction, with a bounded number of statements per subject."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlmodel import col, select

from services.referral import events
from services.referral.matching import (
    MatchModel,
    MatchScore,
    PersonRecord,
    best_match,
    blocking_keys,
    shares_identifier,
)
from services.referral.models import Referral, ReferralSubject
from services.referral.people import flags, index
from services.referral.people.models import MatchReview, PersonLink, SubjectDetails
from services.referral.working_time import WorkingCalendar
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.outbox import add_to_outbox

SYSTEM = "mash.person-index"


def explanation(score: MatchScore, model: MatchModel) -> dict[str, Any]:
    """Which fields agreed, which disagreed, and each field's weight."""
    return {"total_weight": score.total_weight,
            "thresholds": {"lower": model.lower, "upper": model.upper},
            "comparisons": [asdict(c) for c in score.comparisons]}


def link(uow: UnitOfWork, details: SubjectDetails, person_id: str, method: str,
         decided_by: str, reason: str, score: MatchScore | None = None,
         model: MatchModel | None = None, review_id: str | None = None) -> PersonLink:
    """Record the decision that the subject is ``person_id``."""
    decision = PersonLink(
        subject_id=details.subject_id, referral_id=details.referral_id, person_id=person_id,
        method=method, weight=score.total_weight if score else None,
        explanation=explanation(score, model) if score and model else None,
        review_id=review_id, decided_by=decided_by, decided_at=utcnow(), reason=reason)
    uow.session.add(decision)
    return decision


@dataclass(frozen=True)
class Match:
    """What the index and the model say about one subject's details."""

    keys: frozenset[str]
    candidates: list[tuple[str, PersonRecord]]
    decision: str
    person_id: str | None
    score: MatchScore | None


async def find_match(uow: UnitOfWork, record: PersonRecord, referral_id: str,
                     model: MatchModel) -> Match:
    """Candidates by identifier and blocking keys (one statement), scored by the model."""
    keys = blocking_keys(record)
    pairs = await index.candidates(uow, record, keys, exclude_referral=referral_id)
    decision, person_id, score = best_match(model, record, pairs)
    return Match(keys, pairs, decision, person_id, score)


async def match_subject(uow: UnitOfWork, subject: ReferralSubject, details: SubjectDetails,
                        model: MatchModel) -> None:
    """Link one subject: to the person it matches, to a review, or to a new person."""
    record = index.record_of(details)
    match = await find_match(uow, record, details.referral_id, model)
    keys, pairs = match.keys, match.candidates
    decision, person_id, score = match.decision, match.person_id, match.score
    if decision == "link" and person_id is not None:
        same = [r for p, r in pairs if p == person_id]
        method = "identifier" if any(shares_identifier(record, r) for r in same) \
            else "probabilistic"
        details.person_id, details.match_status = person_id, "linked"
        index.add_to_index(uow, details, subject, keys)
        link(uow, details, person_id, method, SYSTEM,
             "same NHS number or UPN" if method == "identifier"
             else "match weight above the upper threshold", score, model)
        return
    if decision == "review" and person_id is not None and score is not None:
        review = open_review(uow, details, person_id, score, model,
                             [r for p, r in pairs if p == person_id])
        details.match_status, details.review_id = "review", review.id
        index.add_to_index(uow, details, subject, keys)
        return
    person = index.new_person(uow)
    details.person_id, details.match_status = person.id, "new"
    index.add_to_index(uow, details, subject, keys)
    link(uow, details, person.id, "new", SYSTEM,
         "no candidate above the lower threshold" if score else "no candidate", score, model)


def open_review(uow: UnitOfWork, details: SubjectDetails, person_id: str, score: MatchScore,
                model: MatchModel, records: Sequence[PersonRecord]) -> MatchReview:
    """A possible match for a human, announced through the outbox (ids and links only)."""
    subject = index.record_of(details)
    best = max(records, key=lambda r: model.score(subject, r).total_weight) if records else None
    review = MatchReview(
        created_at=utcnow(), referral_id=details.referral_id, subject_id=details.subject_id,
        candidate_person_id=person_id,
        candidate=index.record_json(best) if best else {},
        total_weight=score.total_weight,
        thresholds={"lower": model.lower, "upper": model.upper},
        comparisons=[asdict(c) for c in score.comparisons])
    uow.session.add(review)
    add_to_outbox(uow, events.match_review_needed(review.id, review.referral_id))
    return review


async def index_referral(uow: UnitOfWork, referral: Referral,
                         subjects: Sequence[ReferralSubject],
                         calendar: WorkingCalendar) -> None:
    """Link every subject of a new referral to a person, then set the referral's
    same-day and re-referral flags by its children's people."""
    model = MatchModel.load_default()
    known_children: list[str] = []
    for subject in subjects:
        details = index.details_of(subject, referral.referring_agency_id, referral.received_at)
        await match_subject(uow, subject, details, model)
        if subject.role == "child" and details.match_status == "linked" and details.person_id:
            known_children.append(details.person_id)
    await flags.derive(uow, referral, known_children, calendar)


async def index_earlier_subjects(uow: UnitOfWork, batch: int = 500) -> int:
    """Link subjects stored before the person index existed, oldest referral first (their
    referrals keep the flags they were given); how many were linked in this batch."""
    rows = (await uow.session.exec(
        select(ReferralSubject, Referral)
        .join(Referral, col(Referral.id) == col(ReferralSubject.referral_id))
        .outerjoin(SubjectDetails,
                   col(SubjectDetails.subject_id) == col(ReferralSubject.id))
        .where(col(SubjectDetails.subject_id).is_(None))
        .order_by(col(Referral.received_at), col(ReferralSubject.position))
        .limit(batch))).all()
    model = MatchModel.load_default()
    for subject, referral in rows:
        details = index.details_of(subject, referral.referring_agency_id, referral.received_at)
        await match_subject(uow, subject, details, model)
        await uow.session.flush()  # the next subject may match this one
    return len(rows)
