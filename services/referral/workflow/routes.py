"""HTTP layer of the workflow: triage, information requests, decisions, reopen, close."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.referral.deps import IfMatch
from services.referral.links import INFORMATION_REQUESTS, REFERRALS, information_request_path
from services.referral.permissions import (
    InformationRequestAnswerer,
    InformationRequestReader,
    MashWorker,
    is_mash_staff,
)
from services.referral.referrals import service as referral_service
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ChildSummary, ReferralLinks
from services.referral.runtime import RuntimeDep
from services.referral.workflow import service as workflow
from services.referral.workflow.lifecycle import ReferralStatus
from services.referral.workflow.models import InformationRequest
from services.referral.workflow.schemas import (
    ApprovalBody,
    AssigneeBody,
    DecisionBody,
    InformationRequestCreate,
    InformationRequestPage,
    InformationRequestView,
    InformationResponse,
    ReferralState,
    ReopenBody,
    TriageBody,
)
from shared.auth import Principal
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    aware_datetime,
    page_of,
    read_cursor,
)
from shared.problems import Problem
from shared.service import UnitOfWorkDep

referrals = APIRouter(prefix=REFERRALS, tags=["workflow"])
requests = APIRouter(prefix=INFORMATION_REQUESTS, tags=["information requests"])

CHANGE_RESPONSES: dict[int | str, dict[str, str]] = {
    409: {"description": "Not possible in the referral's status"},
    412: {"description": "Someone changed the referral since you read it"},
    428: {"description": "If-Match is missing"},
}



def _state(referral: Referral, response: Response) -> ReferralState:
    response.headers["ETag"] = workflow.etag(referral)
    return ReferralState.of(referral)


def _request_view(request: InformationRequest, reader: Principal,
                  children: dict[str, list[ChildSummary]] | None = None,
                  ) -> InformationRequestView:
    return InformationRequestView(
        children=None if children is None else children.get(request.referral_id, []),
        id=request.id, agency_id=request.agency_id, question=request.question,
        status=request.status, due_at=request.due_at, created_at=request.created_at,
        answer=request.answer, answered_at=request.answered_at,
        declined_at=request.declined_at, decline_reason=request.decline_reason,
        decline_detail=request.decline_detail, held_by_agency_id=request.held_by_agency_id,
        extension_until=request.extension_until, extension_reason=request.extension_reason,
        extension_requested_at=request.extension_requested_at,
        referral_id=request.referral_id if is_mash_staff(reader) else None,
        legal_basis=request.legal_basis,
        links=ReferralLinks(self=information_request_path(request.id)))


@referrals.post("/{referral_id}/triage", response_model=ReferralState,
                responses=CHANGE_RESPONSES)
async def triage(referral_id: str, body: TriageBody, caller: MashWorker, uow: UnitOfWorkDep,
                 runtime: RuntimeDep, response: Response,
                 if_match: IfMatch = None) -> ReferralState:
    """Rate the referral red, amber or green; this sets its deadlines."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    await workflow.triage(uow, referral, caller, body.rag, body.rationale, runtime.calendar)
    return _state(referral, response)


@referrals.post("/{referral_id}/information-requests", status_code=201,
                response_model=InformationRequestView, responses=CHANGE_RESPONSES)
async def request_information(referral_id: str, body: InformationRequestCreate,
                              caller: MashWorker, uow: UnitOfWorkDep, runtime: RuntimeDep,
                              response: Response,
                              if_match: IfMatch = None) -> InformationRequestView:
    """Ask a partner agency a question; it is told, and sees only the question."""
    referral = await workflow.load_for_change(uow, referral_id, if_match, required=False)
    request = await workflow.request_information(uow, referral, caller, body.agency_id,
                                                 body.question, body.due_at, runtime.calendar,
                                                 body.legal_basis)
    response.headers["Location"] = information_request_path(request.id)
    response.headers["ETag"] = workflow.etag(referral)
    return _request_view(request, caller)


@referrals.post("/{referral_id}/decision", response_model=ReferralState,
                responses={**CHANGE_RESPONSES, 202: {
                    "model": ReferralState,
                    "description": "A practitioner's strategy discussion or immediate "
                                   "protection: waiting for a MASH manager's approval"}})
async def decide(referral_id: str, body: DecisionBody, caller: MashWorker, uow: UnitOfWorkDep,
                 response: Response, if_match: IfMatch = None) -> ReferralState:
    """Record the outcome; the referrer is told. A strategy discussion or immediate
    protection decided by a practitioner waits for a MASH manager's approval: 202 with
    status `awaiting_approval` (a manager's decision is made at once)."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    await workflow.decide(uow, referral, caller, body.outcome, body.rationale,
                          body.primary_need)
    if referral.status == ReferralStatus.AWAITING_APPROVAL:
        response.status_code = 202
    return _state(referral, response)


@referrals.post("/{referral_id}/decision/approval", response_model=ReferralState,
                responses={**CHANGE_RESPONSES,
                           403: {"description": "Only a MASH manager approves"}})
async def approve_decision(referral_id: str, body: ApprovalBody, caller: MashWorker,
                           uow: UnitOfWorkDep, response: Response,
                           if_match: IfMatch = None) -> ReferralState:
    """A MASH manager approves a practitioner's decision (it is made, the referrer is
    told) or returns it to triage with a comment (`approve: false`); the approver is the
    caller."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    await workflow.approve(uow, referral, caller, body.approve, body.comment)
    return _state(referral, response)


@referrals.put("/{referral_id}/assignee", response_model=ReferralState,
               responses={**CHANGE_RESPONSES,
                          422: {"description": "Not an active member of MASH staff"}})
async def assign(referral_id: str, body: AssigneeBody, caller: MashWorker, uow: UnitOfWorkDep,
                 response: Response, if_match: IfMatch = None) -> ReferralState:
    """Allocate the referral to yourself or a colleague (`user_id`), or to nobody
    (`user_id: null`); the chronology records it."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    await workflow.assign(uow, referral, caller, body.user_id)
    return _state(referral, response)


@referrals.post("/{referral_id}/reopen", response_model=ReferralState,
                responses=CHANGE_RESPONSES)
async def reopen(referral_id: str, body: ReopenBody, caller: MashWorker, uow: UnitOfWorkDep,
                 runtime: RuntimeDep, response: Response,
                 if_match: IfMatch = None) -> ReferralState:
    """Take a decided referral back to triage, recording why."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    await workflow.reopen(uow, referral, caller, body.reason, runtime.calendar)
    return _state(referral, response)


@referrals.post("/{referral_id}/close", response_model=ReferralState,
                responses=CHANGE_RESPONSES)
async def close(referral_id: str, caller: MashWorker, uow: UnitOfWorkDep, response: Response,
                if_match: IfMatch = None) -> ReferralState:
    """Close a decided referral."""
    referral = await workflow.load_for_change(uow, referral_id, if_match)
    await workflow.close(uow, referral, caller)
    return _state(referral, response)


@requests.get("", response_model=InformationRequestPage)
async def list_information_requests(
    caller: InformationRequestReader, uow: UnitOfWorkDep, request: Request,
    status: str | None = None, cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> InformationRequestPage:
    """Requests addressed to your agency (partners), or all of them (MASH staff)."""
    after = read_cursor(cursor, aware_datetime, str)
    found = await workflow.information_requests(uow, caller, status, after, limit + 1)
    page, links = page_of(found, limit, request.url, lambda r: (r.created_at, r.id))
    children = await referral_service.children_summaries(
        uow, caller, sorted({r.referral_id for r in page}))
    return InformationRequestPage(items=[_request_view(r, caller, children) for r in page],
                                  links=links)


async def _visible_request(uow: UnitOfWorkDep, request_id: str,
                           caller: Principal) -> InformationRequest:
    found = await workflow.information_request_for(uow, request_id, caller)
    if found is None:
        raise Problem(404, "No such information request.")
    return found


@requests.get("/{request_id}", response_model=InformationRequestView)
async def read_information_request(request_id: str, caller: InformationRequestReader,
                                   uow: UnitOfWorkDep) -> InformationRequestView:
    """One request, if it is addressed to your agency (or you are MASH staff)."""
    found = await _visible_request(uow, request_id, caller)
    children = await referral_service.children_summaries(uow, caller, [found.referral_id])
    return _request_view(found, caller, children)


@requests.post("/{request_id}/response", response_model=InformationRequestView,
               responses={409: {"description": "Already answered or withdrawn"}})
async def answer(request_id: str, body: InformationResponse, caller: InformationRequestAnswerer,
                 uow: UnitOfWorkDep) -> InformationRequestView:
    """Answer a request addressed to your agency."""
    found = await _visible_request(uow, request_id, caller)
    await workflow.answer(uow, found, caller, body.text)
    return _request_view(found, caller)


@requests.post("/{request_id}/withdraw", response_model=InformationRequestView)
async def withdraw(request_id: str, caller: MashWorker,
                   uow: UnitOfWorkDep) -> InformationRequestView:
    """Withdraw a question that is no longer needed."""
    found = await _visible_request(uow, request_id, caller)
    await workflow.withdraw(uow, found, caller)
    return _request_view(found, caller)

