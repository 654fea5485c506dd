"""GET /api/v1/referrals/queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from services.referral.links import REFERRALS
from services.referral.permissions import MashWorker
from services.referral.queue.schemas import QueueItem, QueuePage
from services.referral.queue.service import (
    QueueFilters,
    count_open,
    open_referrals,
    open_requests_of,
    sort_key,
)
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ChildSummary
from services.referral.referrals.service import children_of
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

router = APIRouter(prefix=REFERRALS, tags=["queue"])


def _item(referral: Referral, requests: tuple[int, datetime] | None, now: datetime,
          children: list[ChildSummary]) -> QueueItem:
    count, next_due = requests or (0, None)
    due = referral.decision_due_at
    return QueueItem.of(
        referral, children=children, decision_overdue=due is not None and due <= now,
        open_information_requests=count, next_information_due_at=next_due,
        information_overdue=next_due is not None and next_due <= now)


@router.get("/queue", response_model=QueuePage)
async def read_queue(
    caller: MashWorker, uow: UnitOfWorkDep, request: Request,
    status: Literal["received", "triaged", "awaiting_information",
                    "awaiting_approval"] | None = None,
    rag: Literal["red", "amber", "green", "unrated"] | None = None,
    source: Annotated[str | None, Query(max_length=4)] = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=36, description=(
        '"me": allocated to you; "none": allocated to nobody; or a user id'))] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> QueuePage:
    """New and open referrals, most urgent first: immediate risk, then red, amber, green,
    not yet rated, then the nearest decision deadline, then the earliest received (MASH
    staff). ``total`` is the exact number of referrals the filters select."""
    filters = QueueFilters(status=status, rag=rag, source=source,
                           assignee=caller.subject if assignee == "me" else assignee)
    after = read_cursor(cursor, position, aware_datetime, aware_datetime, str)
    found = await open_referrals(uow, caller, filters, after, limit + 1)
    page, links = page_of(found, limit, request.url, sort_key)
    ids = [r.id for r in page]
    requests = await open_requests_of(uow, ids)
    children = await children_of(uow, ids)
    total = await count_open(uow, filters)
    now = utcnow()
    today = now.date()
    items: list[Any] = [_item(r, requests.get(r.id), now,
                              [ChildSummary.of(c, today) for c in children.get(r.id, [])])
                        for r in page]
    return QueuePage(items=items, total=total, as_of=now, links=links)
