"""The MASH queue: open referrals, most urgent first, with their deadlines.

Most urgent means: immediate risk first, then red, amber, green and not yet rated, then
the nearest decision deadline. Pages are keyset-paged on that order, so a referral
arriving while a practitioner pages on neither repeats nor skips a row."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func
from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.referrals.models import Referral
from services.referral.workflow.lifecycle import AWAITING_ANSWER, OPEN_STATUSES
from services.referral.workflow.models import InformationRequest
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.pagination import after as keyset_after

RAG_ORDER = {"red": 0, "amber": 1, "green": 2}  # then not yet rated
UNRATED = len(RAG_ORDER)
RAG_RANK = case(*((col(Referral.rag) == rag, rank) for rag, rank in RAG_ORDER.items()),
                else_=UNRATED)


RISK_RANK = case((col(Referral.immediate_risk).is_(True), 0), else_=1)





@dataclass(frozen=True)
class QueueFilters:
    """What the queue may be narrowed to."""

    status: str | None = None
    rag: str | None = None  # red, amber, green or "unrated"
    source: str | None = None


SortKey = tuple[int, int, datetime, str]


def sort_key(referral: Referral) -> SortKey:
    """Where a referral stands in the queue's order (and in its cursors)."""
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
        query = query.where(keyset_after(
            [RISK_RANK, RAG_RANK, col(Referral.decision_due_at), col(Referral.id)], after))
    query = query.order_by(RISK_RANK, RAG_RANK, col(Referral.decision_due_at),
                           col(Referral.id)).limit(limit)
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
