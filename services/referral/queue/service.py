"""The MASH queue: open referrals, most urgent first, with their deadlines.

Most urgent means: immediate risk first, then red, amber, green and not yet rated, then
the nearest decision deadline. Pages are keyset-paged on that order, so a referral
arriving while a practitioner pages on neither repeats nor skips a row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.referrals.models import OPEN_REFERRAL, Referral
from services.referral.workflow.lifecycle import AWAITING_ANSWER
from services.referral.workflow.models import InformationRequest
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.pagination import after as keyset_after


@dataclass(frozen=True)
class QueueFilters:
    """What the queue may be narrowed to."""

    status: str | None = None
    rag: str | None = None  # red, amber, green or "unrated"
    source: str | None = None
    assignee: str | None = None  # a user id, or "none" for the unallocated


SortKey = tuple[int, datetime, datetime, str]
ORDER = (col(Referral.urgency), col(Referral.decision_due_at), col(Referral.received_at),
         col(Referral.id))


def sort_key(referral: Referral) -> SortKey:
    """Where a referral stands in the queue's order (and in its cursors): urgency, the
    decision deadline, the time received, the id (so equal deadlines keep one order)."""
    assert referral.decision_due_at is not None
    return (referral.urgency, referral.decision_due_at, referral.received_at, referral.id)


# The queue's partial index holds exactly the open referrals (see OPEN_REFERRAL).
_OPEN = OPEN_REFERRAL
# SQLite, without statistics, would rather read the status index and sort every open
# referral; likely() tells it the condition selects most rows, so it reads the partial
# index in the queue's order and stops at the page's end.
_OPEN_SQLITE = func.likely(_OPEN)


def _filtered(query: Any, filters: QueueFilters, sqlite: bool) -> Any:
    if filters.status:
        query = query.where(Referral.status == filters.status)
    else:
        query = query.where(_OPEN_SQLITE if sqlite else _OPEN)
    if filters.rag == "unrated":
        query = query.where(col(Referral.rag).is_(None))
    elif filters.rag:
        query = query.where(Referral.rag == filters.rag)
    if filters.source:
        query = query.where(Referral.source == filters.source)
    if filters.assignee == "none":
        query = query.where(col(Referral.assignee_id).is_(None))
    elif filters.assignee:
        query = query.where(Referral.assignee_id == filters.assignee)
    return query


async def count_open(uow: UnitOfWork, filters: QueueFilters) -> int:
    """How many referrals the filtered queue holds, exactly."""
    query = _filtered(select(func.count()).select_from(Referral), filters,
                      uow.database.is_sqlite)
    return int((await uow.session.exec(query)).one())


async def open_referrals(uow: UnitOfWork, reader: Principal, filters: QueueFilters,
                         after: SortKey | None, limit: int) -> list[Referral]:
    """Open referrals in the order of urgency, after a cursor; the read is audited."""
    query = _filtered(select(Referral), filters, uow.database.is_sqlite)
    if after is not None:
        query = query.where(keyset_after(list(ORDER), after))
    query = query.order_by(*ORDER).limit(limit)
    referrals = list((await uow.session.exec(query)).all())
    await audit.record(uow, reader, "search", "referral", "*", "queue",
                       detail=dataclasses.asdict(filters))
    return referrals


async def open_requests_of(uow: UnitOfWork,
                           referral_ids: list[str]) -> dict[str, tuple[int, datetime]]:
    """For each referral: how many information requests await an answer, the first due."""
    if not referral_ids:
        return {}
    rows = (await uow.session.exec(
        select(InformationRequest.referral_id, func.count(), func.min(InformationRequest.due_at))
        .where(col(InformationRequest.referral_id).in_(referral_ids),
               col(InformationRequest.status).in_(AWAITING_ANSWER))
        .group_by(col(InformationRequest.referral_id)))).all()
    return {referral_id: (count, due) for referral_id, count, due in rows}
