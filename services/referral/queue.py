"""The MASH queue: open referrals, most urgent first, with their deadlines.

Most urgent means: immediate risk first, then red, amber, green and not yet rated, then
the nearest decision deadline. Pages are keyset-paged on that order, so a referral
arriving while a practitioner pages on neither repeats nor skips a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_
from sqlmodel import col, select

from services.referral import audit
from services.referral.codes import REFERRAL_SOURCES
from services.referral.models import InformationRequest, Referral
from services.referral.permissions import MashWorker
from services.referral.schemas import ConcernView, PageLinks, ReferralLinks, ReferralListItem
from services.referral.workflow import OPEN_STATUSES
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor, encode_cursor
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/referrals", tags=["queue"])

RAG_ORDER = {"red": 0, "amber": 1, "green": 2}  # then not yet rated
UNRATED = len(RAG_ORDER)
RAG_RANK = case(*((col(Referral.rag) == rag, rank) for rag, rank in RAG_ORDER.items()),
                else_=UNRATED)
RISK_RANK = case((col(Referral.immediate_risk).is_(True), 0), else_=1)
OPEN_REQUEST = ("open", "overdue")


class QueueItem(ReferralListItem):
    """A referral in the queue: what it is about in codes and words, and when it is due.
    No names or narrative (open the referral for those: that read is audited)."""

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


class QueuePage(BaseModel):
    """One page of the queue, most urgent first; ``as_of`` is the hub's clock."""

    items: list[QueueItem]
    as_of: datetime
    links: PageLinks


@dataclass(frozen=True)
class QueueFilters:
    """What the queue may be narrowed to."""

    status: str | None = None
    rag: str | None = None  # red, amber, green or "unrated"
    source: str | None = None


SortKey = tuple[int, int, datetime, str]


def _sort_key(referral: Referral) -> SortKey:
    rank = RAG_ORDER.get(referral.rag or "", UNRATED)
    assert referral.decision_due_at is not None
    return (0 if referral.immediate_risk else 1, rank, referral.decision_due_at, referral.id)


async def open_referrals(uow: UnitOfWork, reader: Principal, filters: QueueFilters,
                         after: SortKey | None, limit: int) -> list[Referral]:
    """Open referrals in the order of urgency, after a cursor; the read is audited."""
    query = select(Referral).where(col(Referral.status).in_(
        [filters.status] if filters.status else OPEN_STATUSES))
    if filters.rag == "unrated":
        query = query.where(col(Referral.rag).is_(None))
    elif filters.rag:
        query = query.where(Referral.rag == filters.rag)
    if filters.source:
        query = query.where(Referral.source == filters.source)
    if after is not None:
        risk, rank, due, last_id = after
        query = query.where(or_(
            RISK_RANK > risk,
            and_(RISK_RANK == risk, RAG_RANK > rank),
            and_(RISK_RANK == risk, RAG_RANK == rank, col(Referral.decision_due_at) > due),
            and_(RISK_RANK == risk, RAG_RANK == rank, col(Referral.decision_due_at) == due,
                 col(Referral.id) > last_id)))
    query = query.order_by(RISK_RANK, RAG_RANK, col(Referral.decision_due_at),
                           col(Referral.id)).limit(limit)
    referrals = list((await uow.session.exec(query)).all())
    await audit.record(uow, reader, "search", "referral", "*", "queue")
    return referrals


async def open_requests_of(uow: UnitOfWork,
                           referral_ids: list[str]) -> dict[str, tuple[int, datetime]]:
    """For each referral: how many information requests await an answer, the first due."""
    if not referral_ids:
        return {}
    rows = (await uow.session.exec(
        select(InformationRequest.referral_id, func.count(), func.min(InformationRequest.due_at))
        .where(col(InformationRequest.referral_id).in_(referral_ids),
               col(InformationRequest.status).in_(OPEN_REQUEST))
        .group_by(col(InformationRequest.referral_id)))).all()
    return {referral_id: (count, due) for referral_id, count, due in rows}


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
        links=ReferralLinks(self=f"/api/v1/referrals/{referral.id}"))


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
    await uow.commit()
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
