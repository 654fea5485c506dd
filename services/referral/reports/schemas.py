"""The timeliness report's shape."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class PeriodFigures(BaseModel):
    """One period (today, this week) in the hub's time zone."""

    starts_at: datetime
    referrals_received: int
    decisions: int
    decided_in_time: int
    decided_in_time_percent: float | None


class AgencyOverdue(BaseModel):
    """What is late at one agency: decisions on its referrals, answers it owes."""

    agency_id: str
    overdue_decisions: int
    overdue_information_requests: int


class TimelinessReport(BaseModel):
    """The manager's view of timeliness."""

    as_of: datetime
    time_zone: str
    today: PeriodFigures
    this_week: PeriodFigures
    open_referrals: int
    overdue_decisions: int
    overdue_information_requests: int
    overdue_by_agency: list[AgencyOverdue]
