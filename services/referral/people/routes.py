"""HTTP layer of the person index: people, their links, and match reviews (MASH staff).

Partners pass the role check (as for referrals) and get 404: they do not learn whether a
person or review exists.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from services.referral.deps import PurposeHeader
from services.referral.links import MATCH_REVIEWS, PEOPLE
from services.referral.people import decisions, service
from services.referral.people.schemas import (
    MatchReviewPage,
    MatchReviewView,
    PersonView,
    ReviewDecision,
    UndoLink,
    person_view,
    review_view,
)
from services.referral.permissions import ReferralReader
from services.referral.runtime import RuntimeDep
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    aware_datetime,
    page_of,
    read_cursor,
)
from shared.service import UnitOfWorkDep

people = APIRouter(prefix=PEOPLE, tags=["people"])
reviews = APIRouter(prefix=MATCH_REVIEWS, tags=["match reviews"])
NOT_FOUND: dict[int | str, dict[str, str]] = {
    404: {"description": "No such person or review, or you are not MASH staff"}}
DECIDED: dict[int | str, dict[str, str]] = {
    **NOT_FOUND, 409: {"description": "Already decided or undone"}}


@people.get("/{person_id}", response_model=PersonView, responses=NOT_FOUND)
async def read_person(person_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                      purpose: PurposeHeader = None) -> PersonView:
    """A person as the hub knows them across agencies: identifiers with their source,
    names and addresses seen, every referral about them oldest first (with re-referral
    and same-day flags), and the link decisions behind it, each with its explanation and
    an `undo` link."""
    found = await service.read_person(uow, person_id, caller, purpose or "triage")
    return person_view(found)


@people.post("/{person_id}/links/{link_id}/undo", response_model=PersonView, responses=DECIDED)
async def undo_link(person_id: str, link_id: str, body: UndoLink, caller: ReferralReader,
                    uow: UnitOfWorkDep, runtime: RuntimeDep) -> PersonView:
    """Undo a wrong link: the subject gets a person of its own again, its referral's and
    this person's later referrals' flags are worked out again, and the undone decision
    stays on record (who, when, why). Answers with this person as it is now."""
    service.require_mash_staff(caller, "person")
    await decisions.undo_link(uow, person_id, link_id, caller, body.reason,
                              runtime.calendar)
    found = await service.person_file(uow, person_id)
    return person_view(found)


@reviews.get("", response_model=MatchReviewPage)
async def list_match_reviews(
    caller: ReferralReader, uow: UnitOfWorkDep, request: Request,
    status: Literal["open", "decided"] | None = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    purpose: PurposeHeader = None,
) -> MatchReviewPage:
    """Possible matches newest first (`status=open` for the work queue), each with the
    subject, the candidate person, every field's agreement and weight, and the
    thresholds. Follow `next` for the next page."""
    after = read_cursor(cursor, aware_datetime, str)
    found = await service.list_reviews(uow, caller, status, after, limit + 1,
                                       purpose or "triage")
    page, links = page_of(found, limit, request.url, lambda row: (row[0].created_at, row[0].id))
    return MatchReviewPage(items=[review_view(r, d) for r, d in page], next=links.next,
                           links=links)


@reviews.get("/{review_id}", response_model=MatchReviewView, responses=NOT_FOUND)
async def read_match_review(review_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                            purpose: PurposeHeader = None) -> MatchReviewView:
    """One match review."""
    review, details = await service.read_review(uow, review_id, caller, purpose or "triage")
    return review_view(review, details)


@reviews.post("/{review_id}", response_model=MatchReviewView, responses=DECIDED)
async def decide_match_review(review_id: str, body: ReviewDecision, caller: ReferralReader,
                              uow: UnitOfWorkDep, runtime: RuntimeDep) -> MatchReviewView:
    """Decide a review: "same" links the subject to the candidate person (a link with
    method "review", undoable on the person); "different" gives the subject a person of
    its own. 409 if the review is already decided."""
    service.require_mash_staff(caller, "match review")
    review, details = await decisions.decide_review(uow, review_id, caller, body.decision,
                                                    body.reason, runtime.calendar)
    return review_view(review, details)
