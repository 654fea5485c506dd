"""Bodies and views of the workflow: triage, information requests, decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
)

from services.referral.referrals.schemas import ReferralLinks, ReferralView
from shared.pagination import PageLinks
from shared.schemas import StrictStripped


class TriageBody(StrictStripped):
    """A RAG rating and why."""

    rag: Literal["red", "amber", "green"]
    rationale: str = Field(min_length=1, max_length=5000)


class DecisionBody(StrictStripped):
    """The outcome and why; a manager's sign-off where the outcome needs one."""

    outcome: Literal["no_further_action", "advice_signposting", "early_help", "cin_assessment",
                     "strategy_discussion", "immediate_protection"]
    rationale: str = Field(min_length=1, max_length=10_000)
    signed_off_by: str | None = Field(
        default=None, max_length=100,
        description="the MASH manager who signed off a strategy discussion or immediate "
                    "protection decided by a practitioner")


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


class InformationRequestView(BaseModel):
    """An information request. Partners see the question, not the referral behind it."""

    id: str
    agency_id: str
    question: str
    status: str
    due_at: datetime
    created_at: datetime
    answer: str | None = None
    answered_at: datetime | None = None
    referral_id: str | None = None
    legal_basis: str | None = None
    links: ReferralLinks


class InformationRequestPage(BaseModel):
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
    links: ReferralLinks

