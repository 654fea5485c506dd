"""Timeliness figures for MASH managers: how many referrals came in, how many were
decided within the one working day, and what is overdue at which agency."""

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
    late_decisions = dict((await uow.session.exec(
        select(Referral.referring_agency_id, func.count())
        .where(col(Referral.status).in_(OPEN_STATUSES), col(Referral.decision_due_at) <= now)
        .group_by(col(Referral.referring_agency_id)))).all())
    late_answers = dict((await uow.session.exec(
        select(InformationRequest.agency_id, func.count())
        .where(col(InformationRequest.status).in_(AWAITING_ANSWER),
               col(InformationRequest.due_at) <= now)
        .group_by(col(InformationRequest.agency_id)))).all())
    agencies = sorted(set(late_decisions) | set(late_answers),
                      key=lambda a: -(late_decisions.get(a, 0) + late_answers.get(a, 0)))
    return TimelinessReport(
        as_of=now, time_zone=str(zone), today=await _period(uow, today),
        this_week=await _period(uow, week), open_referrals=open_count,
        overdue_decisions=sum(late_decisions.values()),
        overdue_information_requests=sum(late_answers.values()),
        overdue_by_agency=[AgencyOverdue(agency_id=a,
                                         overdue_decisions=late_decisions.get(a, 0),
                                         overdue_information_requests=late_answers.get(a, 0))
                           for a in agencies])
