"""The board report: the front door's figures by week or month over any range, for the
safeguarding partnership's board. Aggregates only: no child, no person, no narrative.

Each figure counts against the party it belongs to. The MASH owns its decisions: a late
decision counts as the MASH's, whoever referred. A partner owns its referrals and its
answers to the MASH's questions: a late or missing answer is the partner's.

Referrals are counted by when they were received, decisions by when they were made and
questions by when they were asked, each in the hub's time zone.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from services.referral.codes import REFERRAL_SOURCES
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.reports.schemas import (
    AgencyEngagement,
    BoardPeriod,
    BoardReport,
    Count,
    SchoolFigures,
)
from services.referral.workflow.lifecycle import Outcome
from services.referral.workflow.models import InformationRequest
from shared.agencies import AgencyDirectoryEntry
from shared.db import UnitOfWork

INTERVALS = ("week", "month")
POLICE = "6"
OUTCOME_LABELS = {
    Outcome.NO_FURTHER_ACTION: "No further action",
    Outcome.ADVICE_SIGNPOSTING: "Advice and signposting",
    Outcome.EARLY_HELP: "Early help",
    Outcome.CIN_ASSESSMENT: "Child and family assessment (s17)",
    Outcome.STRATEGY_DISCUSSION: "Strategy discussion (s47)",
    Outcome.IMMEDIATE_PROTECTION: "Immediate protection",
}

_R = Referral.__table__  # type: ignore[attr-defined]
_S = ReferralSubject.__table__  # type: ignore[attr-defined]
_Q = InformationRequest.__table__  # type: ignore[attr-defined]
_A = AgencyDirectoryEntry.__table__  # type: ignore[attr-defined]


def period_start(day: date, interval: str) -> date:
    """The first day of the week (Monday) or month holding ``day``."""
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_period(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods(first: date, last: date, interval: str) -> list[tuple[date, date]]:
    """The (first day, last day) of each period from ``first`` to ``last``, clipped to
    the range."""
    spans = []
    start = period_start(first, interval)
    while start <= last:
        end = next_period(start, interval) - timedelta(days=1)
        spans.append((max(start, first), min(end, last)))
        start = next_period(start, interval)
    return spans


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class _Tally:
    """One period's counts, added up as rows are read."""

    referrals: int = 0
    notifications: int = 0
    counted_once: int = 0
    re_referrals: int = 0
    sources: Counter[str] = field(default_factory=Counter)
    decisions: int = 0
    in_time: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def received(self, row: Any) -> None:
        if row.kind == "notification":
            self.notifications += 1
        else:
            self.referrals += 1
        self.sources[row.source] += 1
        if row.same_day_as is None:
            self.counted_once += 1
            self.re_referrals += bool(row.is_re_referral)

    def decided(self, row: Any) -> None:
        self.decisions += 1
        self.in_time += row.decision_due_at is None or row.decided_at <= row.decision_due_at
        self.outcomes[row.outcome] += 1

    def figures(self, first: date, last: date) -> BoardPeriod:
        nfa = self.outcomes.get(Outcome.NO_FURTHER_ACTION, 0)
        return BoardPeriod(
            starts_on=first, ends_on=last, referrals=self.referrals,
            notifications=self.notifications, children_referrals=self.counted_once,
            re_referrals=self.re_referrals,
            re_referral_percent=_percent(self.re_referrals, self.counted_once),
            by_source=[Count(key=code, label=REFERRAL_SOURCES.get(code, "unknown"), count=n)
                       for code, n in sorted(self.sources.items())],
            decisions=self.decisions, decided_within_timescale=self.in_time,
            decided_within_timescale_percent=_percent(self.in_time, self.decisions),
            late_decisions=self.decisions - self.in_time,
            outcomes=[Count(key=str(outcome), label=label, count=self.outcomes.get(outcome, 0))
                      for outcome, label in OUTCOME_LABELS.items()],
            no_further_action_percent=_percent(nfa, self.decisions))


@dataclass
class _Answers:
    """One agency's questions of the range."""

    asked: int = 0
    answered: int = 0
    on_time: int = 0
    hours: list[float] = field(default_factory=list)

    def add(self, row: Any) -> None:
        if row.withdrawn_at is not None:
            return  # withdrawn by the MASH: nothing the agency owed
        self.asked += 1
        if row.answered_at is not None:
            self.answered += 1
            self.on_time += row.answered_at <= row.due_at
            self.hours.append((row.answered_at - row.created_at).total_seconds() / 3600)


class Board:
    """Builds the report from one range's rows (read in a long read: see the route)."""

    def __init__(self, first: date, last: date, interval: str, zone: ZoneInfo) -> None:
        self.first, self.last, self.interval, self.zone = first, last, interval, zone
        self.spans = periods(first, last, interval)
        self.starts_at = datetime.combine(first, time.min, zone)
        self.ends_at = datetime.combine(last + timedelta(days=1), time.min, zone)

    def _span_of(self, instant: datetime) -> date:
        return period_start(instant.astimezone(self.zone).date(), self.interval)

    async def build(self, uow: UnitOfWork, now: datetime) -> BoardReport:
        within = (self.starts_at, self.ends_at)
        received = await _rows(uow, select(
            _R.c.id, _R.c.kind, _R.c.source, _R.c.referring_agency_id, _R.c.same_day_as,
            _R.c.is_re_referral, _R.c.received_at).where(
                _R.c.received_at >= within[0], _R.c.received_at < within[1]))
        decided = await _rows(uow, select(
            _R.c.decided_at, _R.c.decision_due_at, _R.c.outcome).where(
                _R.c.decided_at >= within[0], _R.c.decided_at < within[1],
                _R.c.outcome.is_not(None)))
        asked = await _rows(uow, select(
            _Q.c.agency_id, _Q.c.created_at, _Q.c.due_at, _Q.c.answered_at,
            _Q.c.withdrawn_at).where(_Q.c.created_at >= within[0], _Q.c.created_at < within[1]))
        notices = await _rows(uow, select(_S.c.school_urn, _S.c.referral_id).join(
            _R, _R.c.id == _S.c.referral_id).where(
                _R.c.source == POLICE, _R.c.received_at >= within[0],
                _R.c.received_at < within[1], _S.c.role == "child",
                _S.c.school_urn.is_not(None)))
        directory = {row.agency_id: row for row in await _rows(uow, select(
            _A.c.agency_id, _A.c.name, _A.c.kind, _A.c.school_urn))}
        return self._report(now, received, decided, asked, notices, directory)

    def _report(self, now: datetime, received: Sequence[Any], decided: Sequence[Any],
                asked: Sequence[Any], notices: Sequence[Any],
                directory: dict[str, Any]) -> BoardReport:
        total = _Tally()
        by_span: defaultdict[date, _Tally] = defaultdict(_Tally)
        referrals_by_agency: Counter[str] = Counter()
        for row in received:
            total.received(row)
            by_span[self._span_of(row.received_at)].received(row)
            referrals_by_agency[row.referring_agency_id] += 1
        for row in decided:
            total.decided(row)
            by_span[self._span_of(row.decided_at)].decided(row)
        answers: dict[str, _Answers] = defaultdict(_Answers)
        for row in asked:
            answers[row.agency_id].add(row)
        agencies = [self._engagement(agency_id, referrals_by_agency[agency_id],
                                     answers[agency_id], directory.get(agency_id))
                    for agency_id in sorted(set(referrals_by_agency) | set(answers))]
        return BoardReport(
            from_date=self.first, to_date=self.last, interval=self.interval,
            time_zone=str(self.zone), generated_at=now,
            totals=total.figures(self.first, self.last),
            periods=[by_span[period_start(first, self.interval)].figures(first, last)
                     for first, last in self.spans],
            agencies=sorted(agencies, key=lambda a: ((a.name or "~").lower(), a.agency_id)),
            schools=_schools(directory.values(), referrals_by_agency, answers, notices))

    @staticmethod
    def _engagement(agency_id: str, referrals: int, answers: _Answers,
                    entry: Any) -> AgencyEngagement:
        return AgencyEngagement(
            agency_id=agency_id, name=entry.name if entry else None,
            kind=entry.kind if entry else None, school_urn=entry.school_urn if entry else None,
            referrals=referrals, information_requests=answers.asked, answered=answers.answered,
            answered_on_time=answers.on_time,
            answered_on_time_percent=_percent(answers.on_time, answers.asked),
            median_hours_to_answer=(round(statistics.median(answers.hours), 1)
                                    if answers.hours else None),
            unanswered=answers.asked - answers.answered)


def _schools(entries: Iterable[Any], referrals: Counter[str], answers: dict[str, _Answers],
             notices: Sequence[Any]) -> list[SchoolFigures]:
    """Every school in the directory, by name and URN, those that did nothing included."""
    by_urn: dict[str, set[str]] = defaultdict(set)
    for urn, referral_id in notices:
        by_urn[urn].add(referral_id)
    schools = [SchoolFigures(agency_id=entry.agency_id, name=entry.name, urn=entry.school_urn,
                             referrals=referrals[entry.agency_id],
                             encompass_notices=len(by_urn.get(entry.school_urn, ())),
                             information_requests=answers[entry.agency_id].asked,
                             answered=answers[entry.agency_id].answered)
               for entry in entries if entry.kind == "school" and entry.school_urn]
    return sorted(schools, key=lambda s: ((s.name or "~").lower(), s.urn))


async def _rows(uow: UnitOfWork, query: Any) -> Sequence[Any]:
    connection = await uow.session.connection()
    return (await connection.execute(query)).all()


def default_range(today: date) -> tuple[date, date]:
    """The twelve calendar months to today (this month so far included)."""
    year, month = today.year, today.month - 11
    if month <= 0:
        year, month = year - 1, month + 12
    return date(year, month, 1), today


CSV_COLUMNS = ("section", "starts_on", "ends_on", "key", "label", "figure", "value")


def board_csv(report: BoardReport) -> str:
    """The same figures as CSV, one figure a row (``section`` says which table)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for section, period in [("total", report.totals)] + [
            (report.interval, p) for p in report.periods]:
        span = (period.starts_on.isoformat(), period.ends_on.isoformat())
        for name, value in period.model_dump(exclude={"starts_on", "ends_on", "by_source",
                                                      "outcomes"}).items():
            writer.writerow((section, *span, "", "", name, "" if value is None else value))
        for figure, counts in (("referrals_by_source", period.by_source),
                               ("decisions_by_outcome", period.outcomes)):
            for count in counts:
                writer.writerow((section, *span, count.key, count.label, figure, count.count))
    span = (report.from_date.isoformat(), report.to_date.isoformat())
    for agency in report.agencies:
        for name, value in agency.model_dump(exclude={"agency_id", "name"}).items():
            writer.writerow(("agency", *span, agency.agency_id, agency.name or "", name,
                             "" if value is None else value))
    for school in report.schools:
        for name, value in school.model_dump(exclude={"agency_id", "name", "urn"}).items():
            writer.writerow(("school", *span, school.urn, school.name or "", name, value))
    return out.getvalue()
