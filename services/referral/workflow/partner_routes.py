"""HTTP layer of what partners do besides answering (decline, ask for more time, withdraw a
referral, read what they sent), and the hub's settings that are safe to show."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Response

from services.referral.links import INFORMATION_REQUESTS, REFERRALS
from services.referral.permissions import (
    InformationRequestAnswerer,
    ReferralReader,
    ReferralSubmitter,
)
from services.referral.referrals import service as referrals_service
from services.referral.referrals.schemas import (
    ReferralAsSentView,
    ReferralLimitedView,
    SentSubjectView,
)
from services.referral.runtime import RuntimeDep
from services.referral.workflow import partners
from services.referral.workflow import service as workflow
from services.referral.workflow.routes import _request_view, _visible_request
from services.referral.workflow.schemas import (
    DeclineBody,
    ExtensionBody,
    HubContact,
    HubSettingsView,
    InformationRequestView,
    PartnerHours,
    WithdrawalBody,
)
from shared.auth import Principal, RolePermission
from shared.events import utcnow
from shared.problems import Problem
from shared.roles import Role
from shared.service import UnitOfWorkDep

referrals = APIRouter(prefix=REFERRALS, tags=["referrals"])
requests = APIRouter(prefix=INFORMATION_REQUESTS, tags=["information requests"])
hub = APIRouter(prefix="/api/v1/hub", tags=["hub"])

SignedIn = RolePermission("read the hub's settings", *[role.value for role in Role])

DECLINE_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "No such request, or not addressed to your agency"},
    409: {"description": "Already answered, declined or withdrawn"},
}


@requests.post("/{request_id}/decline", response_model=InformationRequestView,
               responses=DECLINE_RESPONSES)
async def decline(request_id: str, body: DeclineBody, caller: InformationRequestAnswerer,
                  uow: UnitOfWorkDep) -> InformationRequestView:
    """Decline a question addressed to your agency: not known to you, held by another
    agency (say which), or not yours to share. The MASH sees it on the referral."""
    found = await _visible_request(uow, request_id, caller)
    await partners.decline(uow, found, caller, body.reason, body.detail,
                           body.held_by_agency_id)
    return _request_view(found, caller)


@requests.post("/{request_id}/extension", response_model=InformationRequestView,
               responses=DECLINE_RESPONSES)
async def ask_for_time(request_id: str, body: ExtensionBody,
                       caller: InformationRequestAnswerer,
                       uow: UnitOfWorkDep) -> InformationRequestView:
    """Ask for more time to answer, until a later moment, and why. The deadline stands
    until the MASH agrees; they see the ask on the referral."""
    found = await _visible_request(uow, request_id, caller)
    await partners.ask_for_time(uow, found, caller, body.reason, body.until)
    return _request_view(found, caller)


@referrals.post("/{referral_id}/withdrawal", response_model=ReferralLimitedView,
                responses={404: {"description": "No such referral, or not your agency's"},
                           409: {"description": "Already decided or withdrawn"}})
async def withdraw(referral_id: str, body: WithdrawalBody, caller: ReferralSubmitter,
                   uow: UnitOfWorkDep) -> ReferralLimitedView:
    """Withdraw a referral your agency sent in error, with the reason, before the MASH
    decides. It leaves the queue; the reason is in its chronology and the audit log."""
    referral = await workflow.load_for_change(uow, referral_id, None, required=False)
    await partners.withdraw_referral(uow, referral, caller, body.reason)
    return ReferralLimitedView.of(referral)


@referrals.get("/{referral_id}/as-sent", response_model=ReferralAsSentView,
               responses={404: {"description": "No such referral, or not your agency's"}})
async def as_sent(referral_id: str, caller: ReferralReader,
                  uow: UnitOfWorkDep) -> ReferralAsSentView:
    """Exactly what your agency sent (the referring agency's own copy; audited)."""
    found = await referrals_service.read_referral(uow, referral_id, caller,
                                                  "referrer_follow_up")
    if found is None or found[0].referring_agency_id != caller.agency_id:
        raise Problem(404, "No such referral.")
    referral = found[0]
    subjects = [SentSubjectView.model_validate(s.model_dump())
                for s in await partners.sent_subjects(uow, referral.id)]
    return ReferralAsSentView.of(referral, subjects=subjects)


@hub.get("/settings", response_model=HubSettingsView)
async def hub_settings(runtime: RuntimeDep, response: Response,
                       _caller: Principal = Depends(SignedIn)) -> HubSettingsView:
    """The MASH's contact, working calendar and response times (safe to show)."""
    calendar = runtime.calendar
    settings = calendar.settings
    today = utcnow().astimezone(calendar.zone).date()
    holidays = [(today + timedelta(days=n)).isoformat() for n in range(366)
                if calendar.is_bank_holiday(today + timedelta(days=n))]
    response.headers["Cache-Control"] = "private, max-age=300"
    return HubSettingsView(
        contact=HubContact(phone=settings.contact_phone, duty_mailbox=settings.duty_mailbox),
        timezone=settings.hub_timezone, opening_time=settings.opening_time.isoformat("minutes"),
        closing_time=settings.closing_time.isoformat("minutes"),
        working_days=settings.working_days,
        partner_hours=[PartnerHours(agency_kind=kind, opening_time=opens.isoformat("minutes"),
                                    closing_time=closes.isoformat("minutes"))
                       for kind, (opens, closes) in settings.partner_hours.items()],
        bank_holidays=holidays, rag_response_hours=settings.rag_response_hours,
        red_on_clock_time=settings.red_on_clock_time,
        decision_working_days=settings.decision_working_days)
