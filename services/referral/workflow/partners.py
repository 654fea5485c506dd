"""What a partner agency does besides answering: decline a question with a reason, ask for
more time, and withdraw a referral it sent in error. Each is the addressed (or referring)
agency's alone, audited, and in the referral's chronology."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.events import InformationRequestDeclined
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.workflow.lifecycle import (
    AWAITING_ANSWER,
    InformationRequestAction,
    InformationRequestStatus,
    ReferralAction,
    next_request_status,
)
from services.referral.workflow.models import InformationRequest, TimelineEntry
from services.referral.workflow.service import transition
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidValue, NotFound
from shared.events import utcnow
from shared.outbox import add_to_outbox

DECLINE_REASONS = {
    "not_known": "Not known to us",
    "held_elsewhere": "Another agency holds this",
    "cannot_share": "We cannot share this",
}


def _addressed(request: InformationRequest, who: Principal) -> None:
    if request.agency_id != who.agency_id:
        raise NotFound("No such information request.")


def _line(uow: UnitOfWork, request: InformationRequest, what: str, who: Principal,
          **detail: Any) -> None:
    uow.session.add(TimelineEntry(
        referral_id=request.referral_id, at=utcnow(), what=what, actor=who.subject,
        agency_id=who.agency_id,
        detail={"information_request_id": request.id,
                **{k: v for k, v in detail.items() if v is not None}}))


async def decline(uow: UnitOfWork, request: InformationRequest, who: Principal, reason: str,
                  detail: str | None, held_by_agency_id: str | None) -> InformationRequest:
    """The addressed agency cannot answer: why, and who else holds it if it knows. MASH
    staff see it on the referral and are told (``mash.information_request.declined``)."""
    _addressed(request, who)
    if held_by_agency_id is not None and reason != "held_elsewhere":
        raise InvalidValue("held_by_agency_id is given only when another agency holds the "
                           "information.", errors=[{"loc": ["body", "held_by_agency_id"],
                                                    "msg": "only with held_elsewhere"}])
    if held_by_agency_id == who.agency_id:
        raise InvalidValue("The agency that holds the information is another agency.",
                           errors=[{"loc": ["body", "held_by_agency_id"],
                                    "msg": "must be another agency"}])
    request.status = next_request_status(InformationRequestAction.DECLINE, request.status)
    request.declined_at, request.declined_by = utcnow(), who.subject
    request.decline_reason, request.decline_detail = reason, detail
    request.held_by_agency_id = held_by_agency_id
    uow.session.add(request)
    _line(uow, request, "information_declined", who, reason=reason, detail=detail,
          held_by_agency_id=held_by_agency_id)
    await audit.record(uow, who, "decline_information_request", "referral",
                       request.referral_id, "information_sharing", {"reason": reason})
    add_to_outbox(uow, InformationRequestDeclined(
        information_request_id=request.id, agency_id=request.agency_id, status=request.status,
        referral_id=request.referral_id, reason=reason,
        held_by_agency_id=held_by_agency_id).cloud_event())
    return request


async def ask_for_time(uow: UnitOfWork, request: InformationRequest, who: Principal,
                       reason: str, until: datetime) -> InformationRequest:
    """The addressed agency asks for more time, until a later moment; the deadline stands
    until MASH staff agree (they see the ask on the referral and the request)."""
    _addressed(request, who)
    next_request_status(InformationRequestAction.ASK_FOR_TIME, request.status)
    if until <= request.due_at:
        raise InvalidValue("Ask for a time after the current deadline.",
                           errors=[{"loc": ["body", "until"],
                                    "msg": "must be after the request's due_at"}])
    request.extension_until, request.extension_reason = until, reason
    request.extension_requested_at = utcnow()
    uow.session.add(request)
    _line(uow, request, "information_more_time", who, until=until.isoformat(), reason=reason)
    await audit.record(uow, who, "ask_for_more_time", "referral", request.referral_id,
                       "information_sharing")
    return request


async def withdraw_referral(uow: UnitOfWork, referral: Referral, who: Principal,
                            reason: str) -> Referral:
    """The referring agency withdraws a referral sent in error, before any decision; its
    open questions to partners are withdrawn with it."""
    if referral.referring_agency_id != who.agency_id:
        raise NotFound("No such referral.")

    def withdraw(now: datetime) -> Mapping[str, Any]:
        referral.withdrawn_at, referral.withdrawal_reason = now, reason
        return {"reason": reason}

    await transition(uow, referral, who, ReferralAction.WITHDRAW, what="withdrawn",
                     purpose="withdrawal", change=withdraw)
    waiting = await uow.session.exec(
        select(InformationRequest).where(InformationRequest.referral_id == referral.id,
                                         col(InformationRequest.status).in_(AWAITING_ANSWER)))
    for request in waiting.all():
        request.status = InformationRequestStatus.WITHDRAWN
        request.withdrawn_at = utcnow()
        uow.session.add(request)
    return referral


async def sent_subjects(uow: UnitOfWork, referral_id: str) -> list[ReferralSubject]:
    """A referral's subjects in the order the referrer gave them."""
    result = await uow.session.exec(
        select(ReferralSubject).where(ReferralSubject.referral_id == referral_id)
        .order_by(col(ReferralSubject.position)))
    return list(result.all())
