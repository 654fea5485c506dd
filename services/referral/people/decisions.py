"""Human decisions on the person index: match reviews and undoing a wrong link. Each is
recorded as a link decision, re-derives the referrals' flags and is audited."""

from __future__ import annotations

from sqlmodel import col, update

from services.referral.audit import service as audit
from services.referral.people import flags, index
from services.referral.people.linking import link
from services.referral.people.models import MatchReview, Person, PersonLink, SubjectDetails
from services.referral.workflow.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.problems import Problem


def _conflict(detail: str) -> Problem:
    return Problem(409, detail, title="Already decided",
                   type_="https://mash.example/problems/already-decided")


async def _details(uow: UnitOfWork, subject_id: str) -> SubjectDetails:
    details = await uow.session.get(SubjectDetails, subject_id)
    if details is None:  # every review and link has the subject's details
        raise Problem(404, "No such subject in the person index.")
    return details


async def decide_review(uow: UnitOfWork, review_id: str, who: Principal, decision: str,
                        reason: str | None, calendar: WorkingCalendar
                        ) -> tuple[MatchReview, SubjectDetails]:
    """"same" links the subject to the candidate; "different" gives it its own person."""
    review = await uow.session.get(MatchReview, review_id)
    if review is None:
        raise Problem(404, "No such match review.")
    if review.status != "open":
        raise _conflict(f"This review was decided ({review.decision}) by {review.decided_by}; "
                        "to change a link, undo it on the person.")
    details = await _details(uow, review.subject_id)
    now = utcnow()
    # Claimed by a conditional update: of two staff deciding at once, one gets the 409.
    claimed = await uow.session.exec(
        update(MatchReview).where(col(MatchReview.id) == review.id,
                                  col(MatchReview.status) == "open")
        .values(status="decided", decision=decision, decided_by=who.subject,
                decided_at=now, reason=reason)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise _conflict("This review has just been decided by someone else.")
    review.status, review.decision = "decided", decision
    review.decided_by, review.decided_at, review.reason = who.subject, now, reason
    why = reason or f"match review: {decision}"
    if decision == "same":
        person_id = review.candidate_person_id
        await index.move_subject(uow, details, person_id, "linked")
        decided = link(uow, details, person_id, "review", who.subject, why, review_id=review.id)
        decided.weight = review.total_weight
        decided.explanation = {"total_weight": review.total_weight,
                               "thresholds": review.thresholds,
                               "comparisons": review.comparisons}
    else:
        person = index.new_person(uow)
        await index.move_subject(uow, details, person.id, "new")
        link(uow, details, person.id, "new", who.subject, why, review_id=review.id)
    await uow.session.flush()
    await flags.rederive(uow, details.referral_id, [details.person_id or ""], calendar)
    await audit.record(uow, who, "decide_match_review", "match_review", review.id,
                       (reason or "person_matching")[:100])
    return review, details


async def undo_link(uow: UnitOfWork, person_id: str, link_id: str, who: Principal,
                    reason: str, calendar: WorkingCalendar) -> Person:
    """Undo a wrong link: the subject falls back to a person of its own; the decision
    stays on record with who undid it, when and why."""
    person = await uow.session.get(Person, person_id)
    wrong = await uow.session.get(PersonLink, link_id)
    if person is None or wrong is None or wrong.person_id != person_id:
        raise Problem(404, "No such link on this person.")
    if wrong.undone_at is not None:
        raise _conflict(f"This link was undone at {wrong.undone_at.isoformat()}.")
    if wrong.method == "new":
        raise Problem(409, "This link gave the subject a person of its own; there is no "
                           "other person to part it from.", title="Nothing to undo",
                      type_="https://mash.example/problems/nothing-to-undo")
    details = await _details(uow, wrong.subject_id)
    now = utcnow()
    claimed = await uow.session.exec(
        update(PersonLink).where(col(PersonLink.id) == wrong.id,
                                 col(PersonLink.undone_at).is_(None))
        .values(undone_at=now, undone_by=who.subject, undo_reason=reason)
        .execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise _conflict("This link has just been undone by someone else.")
    wrong.undone_at, wrong.undone_by, wrong.undo_reason = now, who.subject, reason
    own = index.new_person(uow)
    await index.move_subject(uow, details, own.id, "new")
    link(uow, details, own.id, "new", who.subject, f"undo of link {wrong.id}: {reason}")
    await uow.session.flush()
    await flags.rederive(uow, details.referral_id, [person_id], calendar)
    await audit.record(uow, who, "undo_person_link", "person", person_id, reason[:100])
    return person
