"""The queue as MASH staff see it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from services.referral.referrals.schemas import (
    AssigneeView,
    ConcernView,
    PendingDecision,
    ReferralListItem,
)
from shared.pagination import PageLinks
from shared.schemas import Schema


class QueueItem(ReferralListItem):
    """A referral in the queue: the children it is about, what it is about in codes and
    words, and when it is due. No narrative (open the referral for that: that read is
    audited)."""

    source_description: str
    concerns: list[ConcernView]
    decision_due_at: datetime | None
    decision_overdue: bool
    response_due_at: datetime | None
    open_information_requests: int
    next_information_due_at: datetime | None
    information_overdue: bool
    is_re_referral: bool
    same_day_as: str | None
    assignee: AssigneeView | None = Field(description="who is working on it; null if nobody")
    pending_decision: PendingDecision | None = Field(
        description="while awaiting_approval: the practitioner's decision waiting for a "
                    "manager")
    cse_level: str | None = None  # the latest CSE screening's level


class QueuePage(Schema):
    """One page of the queue, most urgent first; ``as_of`` is the hub's clock."""

    items: list[QueueItem]
    total: int = Field(description="exactly how many referrals the filters select, on "
                                   "every page")
    as_of: datetime
    links: PageLinks
