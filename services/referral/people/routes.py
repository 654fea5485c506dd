"""HTTP layer of the person index: people, their links, and match reviews (MASH staff).

Partners pass the role check (as for referrals) and get 404: they do not learn whether a
person or review exists.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator

from services.referral.deps import PurposeHeader
from services.referral.identifiers import (
    normalise_nhs_number,
    normalise_postcode,
    normalise_upn,
)
from services.referral.intelligence.flags import person_flags
from services.referral.links import MATCH_REVIEWS, PEOPLE
from services.referral.people import decisions, search, service
from services.referral.people.schemas import (
    MatchReviewPage,
    MatchReviewView,
    PersonSearchPage,
    PersonView,
    ReviewDecision,
    UndoLink,
    person_view,
    review_view,
    search_item,
)
from services.referral.permissions import MashWorker, ReferralReader
from services.referral.runtime import RuntimeDep
from shared.errors import InvalidValue
from shared.events import utcnow
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    aware_datetime,
    page_of,
    position,
    read_cursor,
)
from shared.service import UnitOfWorkDep

people = APIRouter(prefix=PEOPLE, tags=["people"])
reviews = APIRouter(prefix=MATCH_REVIEWS, tags=["match reviews"])
NOT_FOUND: dict[int | str, dict[str, str]] = {
    404: {"description": "No such person or review, or you are not MASH staff"}}
DECIDED: dict[int | str, dict[str, str]] = {
    **NOT_FOUND, 409: {"description": "Already decided or undone"}}


@people.get("", response_model=PersonSearchPage)
async def search_people(
    caller: MashWorker, uow: UnitOfWorkDep, request: Request,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description=(
        "a name: given and family name, or either; typos and nicknames are tolerated"))
    ] = None,
    date_of_birth: date | None = None,
    nhs_number: Annotated[str | None, Query(max_length=13), AfterValidator(
        lambda v: v and normalise_nhs_number(v))] = None,
    upn: Annotated[str | None, Query(max_length=13), AfterValidator(
        lambda v: v and normalise_upn(v))] = None,
    postcode: Annotated[str | None, Query(max_length=10), AfterValidator(
        lambda v: v and normalise_postcode(v))] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    purpose: PurposeHeader = None,
) -> PersonSearchPage:
    """Find people in the index by name, date of birth, NHS number, UPN or postcode (MASH
    staff); criteria given together must all hold. Best match first; the search and its
    terms are audited."""
    query = search.PersonQuery(q=q.strip() if q else None, date_of_birth=date_of_birth,
                               nhs_number=nhs_number or None, upn=upn or None,
                               postcode=postcode or None)
    if query.q is not None and not search.has_name(query.q):
        raise InvalidValue("Give a name to search for (letters).",
                           errors=[{"loc": ["query", "q"], "msg": "has no letters"}])
    if not any(dataclasses.astuple(query)):
        raise InvalidValue("Give a name, a date of birth, an NHS number, a UPN or a "
                           "postcode to search for.",
                           errors=[{"loc": ["query", "q"], "msg": "give at least one term"}])
    after = read_cursor(cursor, position, str, str)
    found = await service.search_people(uow, caller, query, after, limit + 1,
                                        purpose or "triage")
    page, links = page_of(found, limit, request.url, lambda row: row[0].key())
    today = utcnow().date()
    return PersonSearchPage(items=[search_item(summary, today) for _, summary in page],
                            links=links)


@people.get("/{person_id}", response_model=PersonView, responses=NOT_FOUND)
async def read_person(person_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                      purpose: PurposeHeader = None) -> PersonView:
    """A person as the hub knows them across agencies: identifiers with their source,
    names and addresses seen, every referral about them oldest first (with re-referral
    and same-day flags), and the link decisions behind it, each with its explanation and
    an `undo` link."""
    found = await service.read_person(uow, person_id, caller, purpose or "triage")
    view = person_view(found)
    view.flags = await person_flags(uow, person_id, [r.id for r in view.referrals])
    return view


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
