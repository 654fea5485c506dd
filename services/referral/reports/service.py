"""Timeliness figures for MASH staff: how many referrals came in, how many were decided
within the one working day, and what is overdue: the MASH's decisions, and each partner's
answers (a late decision is never counted against the agency that referred)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from services.referral.referrals.models import Referral
from services.referral.reports.schemas import AgencyOverdue, PeriodFigures, TimelinessReport
from services.referral.workflow.lifecycle import AWAITING_ANSWER, OPEN_STATUSES
from services.referral.workflow.models import InformationRequest
from shared.db import UnitOfWork


async def _period(uow: UnitOfWork, starts_at: datetime) -> PeriodFigures:
    received = (await uow.session.exec(
        select(func.count()).select_from(Referral)
        .where(col(Referral.received_at) >= starts_at))).one()
    decided = (await uow.session.exec(
        select(Referral.decided_at, Referral.decision_due_at)
        .where(col(Referral.decided_at) >= starts_at))).all()
    in_time = sum(1 for at, due in decided if due is None or (at is not None and at <= due))
    percent = round(100 * in_time / len(decided), 1) if decided else None
    return PeriodFigures(starts_at=starts_at, referrals_received=received,
                         decisions=len(decided), decided_in_time=in_time,
                         decided_in_time_percent=percent)


async def timeliness(uow: UnitOfWork, now: datetime, zone: ZoneInfo) -> TimelinessReport:
    """Today's and this week's figures, and what is overdue now, by agency."""
    local = now.astimezone(zone)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    open_count = (await uow.session.exec(
        select(func.count()).select_from(Referral)
        .where(col(Referral.status).in_(OPEN_STATUSES)))).one()
    # A late decision is the MASH's, whoever referred: counted once, for the hub.
    late_decisions = (await uow.session.exec(
        select(func.count()).select_from(Referral)
        .where(col(Referral.status).in_(OPEN_STATUSES),
               col(Referral.decision_due_at) <= now))).one()
    # A late answer is the partner's: counted against the agency asked.
    late_answers = dict((await uow.session.exec(
        select(InformationRequest.agency_id, func.count())
        .where(col(InformationRequest.status).in_(AWAITING_ANSWER),
               col(InformationRequest.due_at) <= now)
        .group_by(col(InformationRequest.agency_id)))).all())
    agencies = sorted(late_answers, key=lambda a: -late_answers[a])
    return TimelinessReport(
        as_of=now, time_zone=str(zone), today=await _period(uow, today),
        this_week=await _period(uow, week), open_referrals=open_count,
        overdue_decisions=late_decisions,
        overdue_information_requests=sum(late_answers.values()),
        overdue_by_agency=[AgencyOverdue(agency_id=a, overdue_information_requests=late_answers[a])
                           for a in agencies])
