"""GET /api/v1/referrals/queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from services.referral.codes import REFERRAL_SOURCES
from services.referral.links import referral_path
from services.referral.permissions import MashWorker
from services.referral.queue.schemas import QueueItem, QueuePage
from services.referral.queue.service import (
    QueueFilters,
    SortKey,
    _sort_key,
    open_referrals,
    open_requests_of,
)
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ConcernView, ReferralLinks
from shared.events import utcnow
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PageLinks,
    decode_cursor,
    encode_cursor,
)
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/referrals", tags=["queue"])


def _item(referral: Referral, requests: tuple[int, datetime] | None, now: datetime) -> QueueItem:
    count, next_due = requests or (0, None)
    due = referral.decision_due_at
    return QueueItem(
        id=referral.id, reference=referral.reference, status=referral.status,
        kind=referral.kind, source=referral.source,
        source_description=REFERRAL_SOURCES.get(referral.source, ""),
        immediate_risk=referral.immediate_risk, rag=referral.rag,
        concerns=ConcernView.of(referral.concerns),
        referring_agency_id=referral.referring_agency_id, received_at=referral.received_at,
        decision_due_at=due, decision_overdue=due is not None and due <= now,
        response_due_at=referral.response_due_at, open_information_requests=count,
        next_information_due_at=next_due,
        information_overdue=next_due is not None and next_due <= now,
        is_re_referral=referral.is_re_referral, same_day_as=referral.same_day_as,
        external_reference=referral.external_reference, outcome=referral.outcome,
        links=ReferralLinks(self=referral_path(referral.id)))


def _after(cursor: str | None) -> SortKey | None:
    if not cursor:
        return None
    risk, rank, due, last_id = decode_cursor(cursor, 4)
    return int(risk), int(rank), datetime.fromisoformat(str(due)), str(last_id)


@router.get("/queue", response_model=QueuePage)
async def read_queue(
    caller: MashWorker, uow: UnitOfWorkDep, request: Request,
    status: Literal["received", "triaged", "awaiting_information"] | None = None,
    rag: Literal["red", "amber", "green", "unrated"] | None = None,
    source: Annotated[str | None, Query(max_length=4)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> QueuePage:
    """New and open referrals, most urgent first: immediate risk, then red, amber, green,
    not yet rated, then the nearest decision deadline (MASH staff)."""
    filters = QueueFilters(status=status, rag=rag, source=source)
    found = await open_referrals(uow, caller, filters, _after(cursor), limit + 1)
    page, more = found[:limit], len(found) > limit
    requests = await open_requests_of(uow, [r.id for r in page])
    now = utcnow()
    next_link = None
    if more:
        risk, rank, due, last_id = _sort_key(page[-1])
        next_link = str(request.url.include_query_params(
            cursor=encode_cursor(risk, rank, due.isoformat(), last_id)))
    items: list[Any] = [_item(r, requests.get(r.id), now) for r in page]
    return QueuePage(items=items, as_of=now, links=PageLinks(next=next_link))
