"""Matching on intake: every subject of a new referral is linked to a person, in the
referral's own transaction, with a bounded number of statements per subject."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from services.referral.events import MatchReviewNeeded
from services.referral.matching import (
    MatchModel,
    MatchScore,
    PersonRecord,
    best_match,
    blocking_keys,
    shares_identifier,
)
from services.referral.people import flags, index
from services.referral.people.models import MatchReview, Person, PersonLink, SubjectDetails
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.workflow.working_time import WorkingCalendar
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.outbox import outbox_row
from shared.rows import Rows

SYSTEM = "mash.person-index"


def explanation(score: MatchScore, model: MatchModel) -> dict[str, Any]:
    """Which fields agreed, which disagreed, and each field's weight."""
    return {"total_weight": score.total_weight,
            "thresholds": {"lower": model.lower, "upper": model.upper},
            "comparisons": [c.as_dict() for c in score.comparisons]}


def _link_values(subject_id: str, referral_id: str, person_id: str, method: str,
                 decided_by: str, reason: str, score: MatchScore | None,
                 model: MatchModel | None, review_id: str | None) -> dict[str, Any]:
    return {"subject_id": subject_id, "referral_id": referral_id, "person_id": person_id,
            "method": method, "weight": score.total_weight if score else None,
            "explanation": explanation(score, model) if score and model else None,
            "review_id": review_id, "decided_by": decided_by, "decided_at": utcnow(),
            "reason": reason}


def link(uow: UnitOfWork, details: SubjectDetails, person_id: str, method: str,
         decided_by: str, reason: str, score: MatchScore | None = None,
         model: MatchModel | None = None, review_id: str | None = None) -> PersonLink:
    """Record the decision that the subject is ``person_id`` (through the ORM)."""
    decision = PersonLink(**_link_values(details.subject_id, details.referral_id, person_id,
                                         method, decided_by, reason, score, model, review_id))
    uow.session.add(decision)
    return decision


def _record_link(rows: Rows, details: dict[str, Any], person_id: str, method: str,
                 reason: str, score: MatchScore | None, model: MatchModel) -> None:
    rows.add(PersonLink, **_link_values(details["subject_id"], details["referral_id"],
                                        person_id, method, SYSTEM, reason, score, model, None))


@dataclass(frozen=True)
class Match:
    """What the index and the model say about one subject's details."""

    keys: frozenset[str]
    candidates: list[tuple[str, PersonRecord]]
    decision: str
    person_id: str | None
    score: MatchScore | None


async def find_match(uow: UnitOfWork, record: PersonRecord, referral_id: str,
                     model: MatchModel, batch: index.BatchIndex | None = None) -> Match:
    """Candidates by identifier and blocking keys (one statement, and the batch's subjects
    not written yet), scored by the model."""
    keys = blocking_keys(record)
    pairs = await index.candidates(uow, record, keys, exclude_referral=referral_id,
                                   batch=batch)
    decision, person_id, score = best_match(model, record, pairs)
    return Match(keys, pairs, decision, person_id, score)


async def match_subject(uow: UnitOfWork, rows: Rows, subject: Mapping[str, Any],
                        details: dict[str, Any], model: MatchModel,
                        batch: index.BatchIndex | None = None) -> None:
    """Link one subject (a row of referral_subjects, whose person_records row is
    ``details``): to the person it matches, to a review, or to a new person. The rows go
    to ``rows``; with a ``batch``, the subject joins it for the next ones to match."""
    record = index.record_of(details)
    match = await find_match(uow, record, details["referral_id"], model, batch)
    _decide(rows, subject, details, model, record, match)
    if batch is not None:
        batch.add(index.Unwritten(details["referral_id"], details["person_id"], match.keys,
                                  record))


def _decide(rows: Rows, subject: Mapping[str, Any], details: dict[str, Any],
            model: MatchModel, record: PersonRecord, match: Match) -> None:
    keys, pairs = match.keys, match.candidates
    decision, person_id, score = match.decision, match.person_id, match.score
    if decision == "link" and person_id is not None:
        same = [r for p, r in pairs if p == person_id]
        method = "identifier" if any(shares_identifier(record, r) for r in same) \
            else "probabilistic"
        details.update(person_id=person_id, match_status="linked")
        index.add_to_index(rows, details, subject, keys)
        _record_link(rows, details, person_id, method,
                     "same NHS number or UPN" if method == "identifier"
                     else "match weight above the upper threshold", score, model)
        return
    if decision == "review" and person_id is not None and score is not None:
        review = open_review(rows, details, person_id, score, model,
                             [r for p, r in pairs if p == person_id])
        details.update(match_status="review", review_id=review["id"])
        index.add_to_index(rows, details, subject, keys)
        return
    person = rows.add(Person, created_at=utcnow())
    details.update(person_id=person["id"], match_status="new")
    index.add_to_index(rows, details, subject, keys)
    _record_link(rows, details, person["id"], "new",
                 "no candidate above the lower threshold" if score else "no candidate",
                 score, model)


def open_review(rows: Rows, details: dict[str, Any], person_id: str, score: MatchScore,
                model: MatchModel, records: Sequence[PersonRecord]) -> dict[str, Any]:
    """A possible match for a human, announced through the outbox (ids and links only)."""
    subject = index.record_of(details)
    best = max(records, key=lambda r: model.score(subject, r).total_weight) if records else None
    review = rows.add(
        MatchReview, created_at=utcnow(), referral_id=details["referral_id"],
        subject_id=details["subject_id"], candidate_person_id=person_id,
        candidate=index.record_json(best) if best else {},
        total_weight=score.total_weight,
        thresholds={"lower": model.lower, "upper": model.upper},
        comparisons=[c.as_dict() for c in score.comparisons])
    outbox_row(rows, MatchReviewNeeded(match_review_id=review["id"],
                                       referral_id=review["referral_id"]).cloud_event())
    return review


async def index_referral(uow: UnitOfWork, rows: Rows, referral: dict[str, Any],
                         subjects: Sequence[Mapping[str, Any]], calendar: WorkingCalendar,
                         batch: index.BatchIndex) -> None:
    """Link every subject of a new referral (rows, not yet written) to a person, the
    referrals before it in ``batch`` counting as written. Its same-day and re-referral
    flags (by its children's people) are set in its row when the batch is settled
    (``flags.settle``), before the batch is written."""
    model = MatchModel.load_default()
    known_children: set[str] = set()
    child_people: set[str] = set()
    for subject in subjects:
        details = index.details_of(subject, referral["referring_agency_id"],
                                   referral["received_at"])
        await match_subject(uow, rows, subject, details, model, batch)
        if subject["role"] == "child" and details["person_id"]:
            child_people.add(details["person_id"])
            if details["match_status"] == "linked":
                known_children.add(details["person_id"])
    batch.referrals.append(index.UnwrittenReferral(
        referral["id"], referral["received_at"],
        flags.start_of(referral["received_at"], calendar), frozenset(known_children),
        frozenset(child_people), referral))


async def index_earlier_subjects(uow: UnitOfWork, batch: int = 500) -> int:
    """Link subjects stored before the person index existed, oldest referral first (their
    referrals keep the flags they were given); how many were linked in this batch."""
    found = (await uow.session.exec(
        select(ReferralSubject, Referral)
        .join(Referral, col(Referral.id) == col(ReferralSubject.referral_id))
        .outerjoin(SubjectDetails,
                   col(SubjectDetails.subject_id) == col(ReferralSubject.id))
        .where(col(SubjectDetails.subject_id).is_(None))
        .order_by(col(Referral.received_at), col(ReferralSubject.position))
        .limit(batch))).all()
    model = MatchModel.load_default()
    rows = Rows()
    for subject, referral in found:
        values = subject.model_dump()
        details = index.details_of(values, referral.referring_agency_id, referral.received_at)
        await match_subject(uow, rows, values, details, model)
        await rows.write(uow)  # the next subject may match this one
    return len(found)
