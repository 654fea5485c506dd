"""HTTP layer of case work: case notes and strategy discussions on a referral (MASH staff).

Both are added, never edited or deleted (no PUT, no DELETE). If-Match is checked when sent
(a colleague's change since you read the referral is 412); each addition is a new version
of the referral (its ETag is in the response)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.referral.audit import service as audit
from services.referral.casework import service
from services.referral.casework.schemas import (
    NoteCreate,
    NoteList,
    NoteView,
    StrategyDiscussionCreate,
    StrategyDiscussionList,
    StrategyDiscussionView,
)
from services.referral.deps import IfMatch, PurposeHeader
from services.referral.links import REFERRALS
from services.referral.permissions import MashWorker
from services.referral.referrals.models import Referral
from services.referral.workflow import service as workflow
from shared.auth import Principal
from shared.errors import NotFound
from shared.service import UnitOfWorkDep

router = APIRouter(prefix=REFERRALS, tags=["case work"])
RESPONSES: dict[int | str, dict[str, str]] = {
    403: {"description": "Management oversight is a MASH manager's"},
    404: {"description": "No such referral"},
    409: {"description": "Not possible in the referral's status"},
    412: {"description": "Someone changed the referral since you read it"},
}


async def _readable(uow: UnitOfWorkDep, referral_id: str, caller: Principal,
                    purpose: str | None) -> Referral:
    referral = await uow.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound("No such referral.")
    await audit.record(uow, caller, "read", "referral", referral.id, purpose or "triage")
    return referral


@router.get("/{referral_id}/notes", response_model=NoteList, responses=RESPONSES)
async def list_notes(referral_id: str, caller: MashWorker, uow: UnitOfWorkDep,
                     purpose: PurposeHeader = None) -> NoteList:
    """The referral's case notes, oldest first."""
    referral = await _readable(uow, referral_id, caller, purpose)
    return NoteList(items=[NoteView.of(n) for n in await service.notes(uow, referral.id)])


@router.post("/{referral_id}/notes", status_code=201, response_model=NoteView,
             responses=RESPONSES)
async def add_note(referral_id: str, body: NoteCreate, caller: MashWorker, uow: UnitOfWorkDep,
                   response: Response, if_match: IfMatch = None) -> NoteView:
    """Add a case note: a note, a phone call, a meeting, or (a MASH manager) management
    oversight. It shows in the chronology and cannot be changed afterwards."""
    referral = await workflow.load_for_change(uow, referral_id, if_match, required=False)
    note = await service.add_note(uow, referral, caller, body.kind, body.text)
    response.headers["ETag"] = workflow.etag(referral)
    return NoteView.of(note)


@router.get("/{referral_id}/strategy-discussions", response_model=StrategyDiscussionList,
            responses=RESPONSES)
async def list_strategy_discussions(referral_id: str, caller: MashWorker, uow: UnitOfWorkDep,
                                    purpose: PurposeHeader = None) -> StrategyDiscussionList:
    """The referral's strategy discussions, oldest first."""
    referral = await _readable(uow, referral_id, caller, purpose)
    return StrategyDiscussionList(items=[
        StrategyDiscussionView.of(d)
        for d in await service.strategy_discussions(uow, referral.id)])


@router.post("/{referral_id}/strategy-discussions", status_code=201,
             response_model=StrategyDiscussionView,
             responses={**RESPONSES, 422: {"description": "An agency the hub does not know, "
                                                          "or held_at in the future"}})
async def record_strategy_discussion(referral_id: str, body: StrategyDiscussionCreate,
                                     caller: MashWorker, uow: UnitOfWorkDep,
                                     response: Response,
                                     if_match: IfMatch = None) -> StrategyDiscussionView:
    """Record a strategy discussion: who attended for which agency, the outcome (a
    section 47 enquiry or not, or further information), the reasons and the actions
    agreed, each with the agency that owns it and when it is due."""
    referral = await workflow.load_for_change(uow, referral_id, if_match, required=False)
    discussion = await service.record_strategy_discussion(
        uow, referral, caller, body.model_dump())
    response.headers["ETag"] = workflow.etag(referral)
    return StrategyDiscussionView.of(discussion)
