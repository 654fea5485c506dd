"""The timeliness report's shape."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from services.referral.peers.schemas import ExchangeFigures
from shared.schemas import Schema


class PeriodFigures(Schema):
    """One period (today, this week) in the hub's time zone."""

    starts_at: datetime
    referrals_received: int
    decisions: int
    decided_in_time: int
    decided_in_time_percent: float | None


class AgencyOverdue(Schema):
    """What is late at one agency: the answers it owes the MASH (late decisions are the
    MASH's own, in ``TimelinessReport.overdue_decisions``)."""

    agency_id: str
    overdue_information_requests: int


class TimelinessReport(Schema):
    """The manager's view of timeliness."""

    as_of: datetime
    time_zone: str
    today: PeriodFigures
    this_week: PeriodFigures
    open_referrals: int
    overdue_decisions: int
    overdue_information_requests: int
    overdue_by_agency: list[AgencyOverdue]


# --- the board report ---------------------------------------------------------------------


class Count(Schema):
    """A figure by one key (a source code, an outcome)."""

    key: str
    label: str
    count: int


class BoardPeriod(Schema):
    """The front door's figures for one week or month (or the whole range), all the
    MASH's own: what came in, and how it was decided."""

    starts_on: date
    ends_on: date  # inclusive
    referrals: int
    notifications: int  # information only (police notifications and the like)
    children_referrals: int  # same-day referrals of a child counted once (CIN census)
    re_referrals: int
    re_referral_percent: float | None
    by_source: list[Count]
    decisions: int
    decided_within_timescale: int  # one working day on the hub's calendar (red: 24 hours)
    decided_within_timescale_percent: float | None
    late_decisions: int  # the MASH's, whoever referred
    outcomes: list[Count]
    no_further_action_percent: float | None


class AgencyEngagement(Schema):
    """One partner agency: what it referred, and how it answered the MASH's questions
    (only what is the agency's own to answer for)."""

    agency_id: str
    name: str | None
    kind: str | None
    school_urn: str | None
    referrals: int
    information_requests: int
    answered: int
    answered_on_time: int
    answered_on_time_percent: float | None
    median_hours_to_answer: float | None
    unanswered: int


class SchoolFigures(Schema):
    """One school, by name and DfE URN."""

    agency_id: str
    name: str | None
    urn: str
    referrals: int
    encompass_notices: int
    # Notices of the range the school has read (acknowledged in its Encompass inbox), and
    # the median hours from the police's notification to that first read.
    encompass_acknowledged: int = 0
    encompass_median_hours_to_read: float | None = None
    information_requests: int
    answered: int


class BoardReport(Schema):
    """Aggregates for the safeguarding partnership's board: no child, no person named."""

    from_date: date
    to_date: date
    interval: str
    time_zone: str
    generated_at: datetime
    totals: BoardPeriod
    periods: list[BoardPeriod]
    agencies: list[AgencyEngagement]
    schools: list[SchoolFigures]
    peer_hubs: list[ExchangeFigures] = Field(
        default_factory=list, description="notices exchanged with each peer hub, and how "
                                          "fast the peer accepted them")


class CensusRecordView(Schema):
    """One child's referral in the CIN census's item names."""

    LAchildID: str
    UPN: str | None
    PersonBirthDate: date | None
    GenderCurrent: str
    CINreferralDate: date
    ReferralSource: str
    PrimaryNeedCode: str | None
    ReferralNFA: bool | None
    ReReferral: bool


class CensusExtract(Schema):
    """The referral part of the census return for one collection year, with the
    specification's checks that fail (to put right before the return is made)."""

    year: int
    period_start: date
    period_end: date
    records: list[CensusRecordView]
    problems: list[str]
