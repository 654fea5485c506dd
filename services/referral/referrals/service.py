"""Reading referrals: who may see which, and every read audited."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from services.referral.audit import service as audit
from services.referral.permissions import is_mash_staff
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.referrals.schemas import ChildSummary
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.pagination import after as keyset_after


def default_purpose(reader: Principal) -> str:
    """The purpose recorded when a reader gives none."""
    return "triage" if is_mash_staff(reader) else "referrer_follow_up"


def readable_by(reader: Principal) -> ColumnElement[bool]:
    """The referrals ``reader`` may read: every one for MASH staff, a partner's own
    agency's for a partner."""
    if is_mash_staff(reader):
        return true()
    return col(Referral.referring_agency_id) == reader.agency_id


def can_read(reader: Principal, referral: Referral) -> bool:
    """Whether ``reader`` may read this referral (the rule of ``readable_by``)."""
    return is_mash_staff(reader) or referral.referring_agency_id == reader.agency_id


async def read_referral(uow: UnitOfWork, referral_id: str, reader: Principal,
                        purpose: str) -> tuple[Referral, list[ReferralSubject]] | None:
    """A referral and (for MASH staff) its subjects, audited; None if the reader may not
    know it exists."""
    referral = await uow.session.get(Referral, referral_id)
    if referral is None or not can_read(reader, referral):
        await audit.record_refusal(uow, reader, "referral", referral_id, purpose)
        return None
    subjects: list[ReferralSubject] = []
    if is_mash_staff(reader):
        result = await uow.session.exec(
            select(ReferralSubject).where(ReferralSubject.referral_id == referral.id)
            .order_by(col(ReferralSubject.position)))
        subjects = list(result.all())
    await audit.record(uow, reader, "read", "referral", referral.id, purpose)
    return referral, subjects


@dataclass(frozen=True)
class ReferralFilters:
    """What GET /api/v1/referrals may filter by."""

    status: str | None = None
    rag: str | None = None
    source: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    q: str | None = None


async def list_referrals(uow: UnitOfWork, reader: Principal, filters: ReferralFilters,
                         after: tuple[datetime, str] | None, limit: int,
                         purpose: str) -> list[Referral]:
    """Referrals the reader may see, newest first, after a cursor; the search is audited."""
    query = select(Referral).where(readable_by(reader))
    if filters.status:
        query = query.where(Referral.status == filters.status)
    if filters.rag:
        query = query.where(Referral.rag == filters.rag)
    if filters.source:
        query = query.where(Referral.source == filters.source)
    if filters.received_from:
        query = query.where(col(Referral.received_at) >= filters.received_from)
    if filters.received_to:
        query = query.where(col(Referral.received_at) < filters.received_to)
    if filters.q:
        query = query.where(_matches(filters.q, reader))
    if after is not None:
        query = query.where(keyset_after([col(Referral.received_at), col(Referral.id)], after,
                                         descending=True))
    query = query.order_by(col(Referral.received_at).desc(), col(Referral.id).desc()).limit(limit)
    referrals = list((await uow.session.exec(query)).all())
    await audit.record(uow, reader, "search", "referral", "*", purpose,
                       detail=dataclasses.asdict(filters))
    return referrals


def _matches(q: str, reader: Principal) -> Any:
    """Reference or sender's reference; MASH staff may also search subjects' names."""
    term = q.strip()
    by_reference = or_(func.upper(Referral.reference) == term.upper(),
                       col(Referral.external_reference) == term)
    if not is_mash_staff(reader):
        return by_reference
    pattern = term.lower().replace("%", "").replace("_", "") + "%"
    named = select(ReferralSubject.referral_id).where(or_(
        func.lower(ReferralSubject.family_name).like(pattern),
        func.lower(ReferralSubject.given_name).like(pattern),
        col(ReferralSubject.nhs_number) == term.replace(" ", ""),
        col(ReferralSubject.upn) == term.upper(),
    ))
    return or_(by_reference, col(Referral.id).in_(named))


async def children_of(uow: UnitOfWork, referral_ids: list[str]
                      ) -> dict[str, list[ReferralSubject]]:
    """The child subjects of each referral, in the referrer's order (one query)."""
    if not referral_ids:
        return {}
    rows = await uow.session.exec(
        select(ReferralSubject).where(col(ReferralSubject.referral_id).in_(referral_ids),
                                      ReferralSubject.role == "child")
        .order_by(col(ReferralSubject.referral_id), col(ReferralSubject.position)))
    found: dict[str, list[ReferralSubject]] = {}
    for subject in rows.all():
        found.setdefault(subject.referral_id, []).append(subject)
    return found


async def children_summaries(uow: UnitOfWork, reader: Principal, referral_ids: list[str]
                             ) -> dict[str, list[ChildSummary]] | None:
    """Each referral's children as lists show them, for MASH staff (None for others);
    ages on the hub's clock."""
    if not is_mash_staff(reader):
        return None
    today = utcnow().date()
    found = await children_of(uow, referral_ids)
    return {referral_id: [ChildSummary.of(s, today) for s in found.get(referral_id, [])]
            for referral_id in referral_ids}
