"""Bodies and views of the workflow: triage, information requests, decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    AwareDatetime,
    Field,
    ValidationInfo,
    field_validator,
)

from services.referral.referrals.schemas import (
    AssigneeView,
    ChildSummary,
    PendingDecision,
    ReferralLinks,
    ReferralView,
)
from shared.pagination import PageLinks
from shared.schemas import Schema, StrictStripped


class TriageBody(StrictStripped):
    """A RAG rating and why."""

    rag: Literal["red", "amber", "green"]
    rationale: str = Field(min_length=1, max_length=5000)


PrimaryNeed = Literal["N0", "N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8", "N9"]
# Outcomes after which social care assesses: the CIN census needs the primary need.
ASSESSMENT_OUTCOMES = frozenset({"cin_assessment", "strategy_discussion",
                                 "immediate_protection"})


class DecisionBody(StrictStripped):
    """The outcome and why; a manager's sign-off where the outcome needs one."""

    outcome: Literal["no_further_action", "advice_signposting", "early_help", "cin_assessment",
                     "strategy_discussion", "immediate_protection"]
    rationale: str = Field(min_length=1, max_length=10_000)
    signed_off_by: str | None = Field(
        default=None, max_length=100, deprecated=True,
        description="ignored: a strategy discussion or immediate protection decided by a "
                    "practitioner now waits for a MASH manager's approval (202, status "
                    "awaiting_approval; POST .../decision/approval)")
    primary_need: PrimaryNeed | None = Field(
        default=None, validate_default=True,
        description="the child's primary need (CIN census N0-N9): required when the "
                    "outcome leads to an assessment")

    @field_validator("primary_need")
    @classmethod
    def _need_for_assessments(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("outcome") in ASSESSMENT_OUTCOMES:
            raise ValueError("give the child's primary need (N0-N9) for an outcome that "
                             "leads to an assessment")
        return value


class ApprovalBody(StrictStripped):
    """A MASH manager's answer to a decision waiting for approval."""

    approve: bool = Field(description="true: the decision is made; false: it goes back to "
                                      "triage")
    comment: str | None = Field(default=None, max_length=5000,
                                description="required when returning the decision")


class AssigneeBody(StrictStripped):
    """Whom to allocate the referral to: an active member of MASH staff (yourself or a
    colleague, by user id), or null for nobody."""

    user_id: str | None = Field(min_length=1, max_length=36)


class ReopenBody(StrictStripped):
    """Why a decided referral is being looked at again."""

    reason: str = Field(min_length=1, max_length=2000)


class InformationRequestCreate(StrictStripped):
    """A question for one partner agency."""

    agency_id: str = Field(min_length=1, max_length=36)
    question: str = Field(min_length=1, max_length=5000)
    due_at: AwareDatetime | None = Field(default=None,
                                         description="default: the RAG response time")
    legal_basis: str = Field(
        default="Children Act 2004 s11 / DPA 2018 Sch 8", min_length=3, max_length=200,
        description="the lawful basis for asking (recorded in the sharing ledger)")


class InformationResponse(StrictStripped):
    """A partner's answer."""

    text: str = Field(min_length=1, max_length=20_000)


class DeclineBody(StrictStripped):
    """Why the addressed agency cannot answer, and who holds the information if it knows."""

    reason: Literal["not_known", "held_elsewhere", "cannot_share"]
    detail: str | None = Field(default=None, max_length=5000)
    held_by_agency_id: str | None = Field(
        default=None, min_length=1, max_length=36,
        description="with held_elsewhere: the agency that holds the information")


class ExtensionBody(StrictStripped):
    """More time asked for: until when, and why."""

    reason: str = Field(min_length=1, max_length=2000)
    until: AwareDatetime


class WithdrawalBody(StrictStripped):
    """Why the referring agency withdraws a referral (sent in error)."""

    reason: str = Field(min_length=1, max_length=2000)


class InformationRequestView(Schema):
    """An information request. Partners see the question, not the referral behind it."""

    id: str
    agency_id: str
    question: str
    status: str
    due_at: datetime
    created_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    declined_at: datetime | None = None
    decline_reason: str | None = None
    decline_detail: str | None = None
    held_by_agency_id: str | None = None
    extension_until: datetime | None = None
    extension_reason: str | None = None
    extension_requested_at: datetime | None = None
    referral_id: str | None = None
    legal_basis: str | None = None
    children: list[ChildSummary] | None = Field(
        default=None, description="the children of the referral asked about (MASH staff "
                                  "only; null for partners)")
    links: ReferralLinks


class InformationRequestPage(Schema):
    """One page of information requests, newest first."""

    items: list[InformationRequestView]
    links: PageLinks


class ReferralState(ReferralView):
    """Where a referral stands after a change (its ETag is in the response header)."""

    id: str
    reference: str
    status: str
    rag: str | None
    response_due_at: datetime | None
    decision_due_at: datetime | None
    outcome: str | None
    decided_at: datetime | None
    version: int
    assignee: AssigneeView | None = None
    pending_decision: PendingDecision | None = None
    links: ReferralLinks


class HubContact(Schema):
    """How partners reach the MASH."""

    phone: str
    duty_mailbox: str


class PartnerHours(Schema):
    """A kind of partner's working hours where they differ from the hub's."""

    agency_kind: str
    opening_time: str
    closing_time: str


class HubSettingsView(Schema):
    """The hub's settings that are safe to show anyone signed in: its contact, its working
    calendar and its response times (red runs on the clock when red_on_clock_time)."""

    contact: HubContact
    timezone: str
    opening_time: str
    closing_time: str
    working_days: list[int] = Field(description="Monday is 0")
    partner_hours: list[PartnerHours]
    bank_holidays: list[str] = Field(description="the next twelve months' bank holidays")
    rag_response_hours: dict[str, float]
    red_on_clock_time: bool
    decision_working_days: float
