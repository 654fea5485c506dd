"""Reading referrals: one in full or limited, and the list."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from services.referral.deps import PurposeHeader
from services.referral.links import REFERRALS
from services.referral.people import index as people_index
from services.referral.people.models import SubjectDetails
from services.referral.permissions import (
    ReferralReader,
    is_mash_staff,
)
from services.referral.referrals import service
from services.referral.referrals.models import ReferralSubject
from services.referral.referrals.schemas import (
    ReferralFullView,
    ReferralLimitedView,
    ReferralListItem,
    ReferralPage,
    SubjectMatch,
    SubjectView,
    TimelineView,
)
from services.referral.workflow import service as workflow
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    aware_datetime,
    page_of,
    read_cursor,
)
from shared.problems import Problem
from shared.service import UnitOfWorkDep

router = APIRouter(prefix=REFERRALS, tags=["referrals"])


@router.get("/{referral_id}", response_model=ReferralFullView | ReferralLimitedView,
            responses={404: {"description": "No such referral, or not yours to see"}})
async def read_referral(referral_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                        response: Response, purpose: PurposeHeader = None,
                        ) -> ReferralFullView | ReferralLimitedView:
    """One referral: MASH staff see it all, with its chronology and an ETag to send back
    as If-Match with a change; the referring agency sees where it stands."""
    found = await service.read_referral(uow, referral_id, caller,
                                        purpose or service.default_purpose(caller))
    if found is None:
        raise Problem(404, "No such referral.")
    referral, subjects = found
    chronology = await workflow.timeline(uow, referral.id) if is_mash_staff(caller) else []
    matches = await people_index.matches_of(uow, referral.id) if is_mash_staff(caller) else {}
    if not is_mash_staff(caller):
        return ReferralLimitedView.of(referral)
    response.headers["ETag"] = workflow.etag(referral)
    return ReferralFullView.of(
        referral, subjects=[_subject_view(s, matches.get(s.id)) for s in subjects],
        timeline=[TimelineView.model_validate(t.model_dump()) for t in chronology])


def _subject_view(subject: ReferralSubject, indexed: SubjectDetails | None) -> SubjectView:
    view = SubjectView.model_validate(subject.model_dump())
    if indexed is not None:
        view.person_id = indexed.person_id
        view.match = SubjectMatch(status=indexed.match_status,
                                  review_id=indexed.review_id)
    return view


@router.get("", response_model=ReferralPage)
async def list_referrals(
    caller: ReferralReader, uow: UnitOfWorkDep, request: Request,
    status: str | None = None,
    rag: Literal["red", "amber", "green"] | None = None,
    source: str | None = None,
    received_from: AwareDatetime | None = None,
    received_to: AwareDatetime | None = None,
    q: Annotated[str | None, Query(max_length=100, description=(
        "a reference, your own reference, or (MASH staff) a name, NHS number or UPN"))] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    purpose: PurposeHeader = None,
) -> ReferralPage:
    """Referrals newest first: all of them for MASH staff, your agency's for partners."""
    after = read_cursor(cursor, aware_datetime, str)
    filters = service.ReferralFilters(status=status, rag=rag, source=source,
                                      received_from=received_from, received_to=received_to,
                                      q=q)
    referrals = await service.list_referrals(uow, caller, filters, after, limit + 1,
                                             purpose or service.default_purpose(caller))
    page, links = page_of(referrals, limit, request.url, lambda r: (r.received_at, r.id))
    children = await service.children_summaries(uow, caller, [r.id for r in page])
    return ReferralPage(items=[ReferralListItem.of(
        r, children=None if children is None else children[r.id]) for r in page], links=links)
