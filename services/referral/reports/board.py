"""The board report: the front door's figures by week or month over any range, for the
safeguarding partnership's board. Aggregates only: no child, no person, no narrative.

Each figure counts against the party it belongs to. The MASH owns its decisions: a late
decision counts as the MASH's, whoever referred. A partner owns its referrals and its
answers to the MASH's questions: a late or missing answer is the partner's.

Referrals are counted by when they were received, decisions by when they were made and
questions by when they were asked, each in the hub's time zone.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, distinct, func, literal, or_, select, union_all

from services.referral.codes import REFERRAL_SOURCES
from services.referral.encompass.models import EncompassAcknowledgement
from services.referral.peers.schemas import ExchangeFigures
from services.referral.peers.service import exchange_figures
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
from shared.db import UnitOfWork, UTCDateTime
from shared.slices import streamed_rows

INTERVALS = ("week", "month")
WITHDRAWN = "withdrawn"  # sent in error and withdrawn by the referrer: not a referral
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
_K = EncompassAcknowledgement.__table__  # type: ignore[attr-defined]


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
    """One period's counts, added up from grouped rows (``n`` referrals each)."""

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
            self.notifications += row.n
        else:
            self.referrals += row.n
        self.sources[row.source] += row.n
        if row.once:
            self.counted_once += row.n
            self.re_referrals += row.n if row.is_re_referral else 0

    def decided(self, row: Any) -> None:
        self.decisions += row.n
        self.in_time += row.n if row.in_time else 0
        self.outcomes[row.outcome] += row.n

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
    """One agency's questions of the range (those the MASH withdrew left out)."""

    asked: int = 0
    answered: int = 0
    on_time: int = 0
    median_hours: float | None = None


class Board:
    """Builds the report with the database's own aggregates: a handful of GROUP BY
    queries over indexed ranges, so the cost follows the range, not the rows' number
    in Python. The periods are a small VALUES table joined on the time ranges (each
    period's bounds are computed here, in the hub's time zone, so SQLite needs no
    time-zone arithmetic)."""

    def __init__(self, first: date, last: date, interval: str, zone: ZoneInfo) -> None:
        self.first, self.last, self.interval, self.zone = first, last, interval, zone
        self.spans = periods(first, last, interval)
        self.starts_at = self._midnight(first)
        self.ends_at = self._midnight(last + timedelta(days=1))

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time.min, self.zone)

    def _periods(self) -> Any:
        """The periods as a CTE of one row each (SQLite has no column list for VALUES)."""
        rows = [select(literal(i, Integer).label("idx"),
                       literal(self._midnight(first), UTCDateTime()).label("starts"),
                       literal(self._midnight(last + timedelta(days=1)),
                               UTCDateTime()).label("ends"))
                for i, (first, last) in enumerate(self.spans)]
        return union_all(*rows).cte("periods")

    async def build(self, uow: UnitOfWork, now: datetime) -> BoardReport:
        within = (self.starts_at, self.ends_at)
        spans = self._periods()
        once = _R.c.same_day_as.is_(None).label("once")
        received = await _rows(uow, select(
            spans.c.idx, _R.c.kind, _R.c.source, once, _R.c.is_re_referral,
            _R.c.referring_agency_id, func.count().label("n"))
            .select_from(_R.join(spans, and_(_R.c.received_at >= spans.c.starts,
                                             _R.c.received_at < spans.c.ends)))
            .where(_R.c.status != WITHDRAWN)
            .group_by(spans.c.idx, _R.c.kind, _R.c.source, once, _R.c.is_re_referral,
                      _R.c.referring_agency_id))
        by_agency: Counter[str] = Counter()
        for row in received:
            by_agency[row.referring_agency_id] += row.n
        in_time = or_(_R.c.decision_due_at.is_(None),
                      _R.c.decided_at <= _R.c.decision_due_at).label("in_time")
        decided = await _rows(uow, select(
            spans.c.idx, _R.c.outcome, in_time, func.count().label("n"))
            .select_from(_R.join(spans, and_(_R.c.decided_at >= spans.c.starts,
                                             _R.c.decided_at < spans.c.ends)))
            .where(_R.c.outcome.is_not(None))
            .group_by(spans.c.idx, _R.c.outcome, in_time))
        answers = await _answers(uow, within)
        notices = dict(await _rows(uow, select(
            _S.c.school_urn, func.count(distinct(_S.c.referral_id)))
            .join(_R, _R.c.id == _S.c.referral_id)
            .where(_R.c.source == POLICE, _R.c.status != WITHDRAWN,
                   _R.c.received_at >= within[0],
                   _R.c.received_at < within[1], _S.c.role == "child",
                   _S.c.school_urn.is_not(None))
            .group_by(_S.c.school_urn)))
        directory = {row.agency_id: row for row in await _rows(uow, select(
            _A.c.agency_id, _A.c.name, _A.c.kind, _A.c.school_urn))}
        # Tens of thousands of rows tallied and a model made of them: pure Python of 15-20
        # ms, on a worker thread, where the interpreter's switch interval lets the event
        # loop in every 5 ms rather than wait for the whole of it.
        report = await asyncio.to_thread(self._report, now, received, decided, by_agency,
                                         answers, notices, directory)
        await _acknowledgements(uow, within, report.schools)
        report.peer_hubs = [ExchangeFigures(**line) for line in await exchange_figures(
            uow, since=within[0], until=within[1])]
        return report

    def _report(self, now: datetime, received: Sequence[Any], decided: Sequence[Any],
                by_agency: Counter[str], answers: dict[str, _Answers],
                notices: dict[str, int], directory: dict[str, Any]) -> BoardReport:
        total = _Tally()
        by_span: defaultdict[int, _Tally] = defaultdict(_Tally)
        for row in received:
            total.received(row)
            by_span[row.idx].received(row)
        for row in decided:
            total.decided(row)
            by_span[row.idx].decided(row)
        agencies = [self._engagement(agency_id, by_agency.get(agency_id, 0),
                                     answers.get(agency_id, _Answers()),
                                     directory.get(agency_id))
                    for agency_id in sorted(set(by_agency) | set(answers))]
        return BoardReport(
            from_date=self.first, to_date=self.last, interval=self.interval,
            time_zone=str(self.zone), generated_at=now,
            totals=total.figures(self.first, self.last),
            periods=[by_span[i].figures(first, last)
                     for i, (first, last) in enumerate(self.spans)],
            agencies=sorted(agencies, key=lambda a: ((a.name or "~").lower(), a.agency_id)),
            schools=_schools(directory.values(), by_agency, answers, notices))

    @staticmethod
    def _engagement(agency_id: str, referrals: int, answers: _Answers,
                    entry: Any) -> AgencyEngagement:
        return AgencyEngagement(
            agency_id=agency_id, name=entry.name if entry else None,
            kind=entry.kind if entry else None, school_urn=entry.school_urn if entry else None,
            referrals=referrals, information_requests=answers.asked, answered=answers.answered,
            answered_on_time=answers.on_time,
            answered_on_time_percent=_percent(answers.on_time, answers.asked),
            median_hours_to_answer=answers.median_hours,
            unanswered=answers.asked - answers.answered)


async def _answers(uow: UnitOfWork, within: tuple[datetime, datetime]) -> dict[str, _Answers]:
    """Each agency's questions asked in the range: counts by the database; the median time
    to answer by PostgreSQL's percentile_cont, or from the answered ones' times (SQLite)."""
    asked = and_(_Q.c.created_at >= within[0], _Q.c.created_at < within[1],
                 _Q.c.withdrawn_at.is_(None))
    on_time = func.sum(case((_Q.c.answered_at <= _Q.c.due_at, 1), else_=0))
    found = {agency: _Answers(int(n), int(answered), int(timely or 0)) for agency, n, answered,
             timely in await _rows(uow, select(_Q.c.agency_id, func.count(),
                                               func.count(_Q.c.answered_at), on_time)
                                   .where(asked).group_by(_Q.c.agency_id))}
    answered = and_(asked, _Q.c.answered_at.is_not(None))
    if uow.database.is_sqlite:
        # The hours as SQLite works them out (julianday), not two timestamps a row parsed
        # in Python: the median of those numbers is taken here.
        taken = (func.julianday(_Q.c.answered_at) - func.julianday(_Q.c.created_at)) * 24
        hours: defaultdict[str, list[float]] = defaultdict(list)
        for agency, spent in await _rows(uow, select(_Q.c.agency_id, taken).where(answered)):
            hours[agency].append(float(spent))
        medians = {agency: statistics.median(values) for agency, values in hours.items()}
    else:
        seconds = func.extract("epoch", _Q.c.answered_at - _Q.c.created_at)
        medians = dict(await _rows(uow, select(
            _Q.c.agency_id, func.percentile_cont(0.5).within_group(seconds) / 3600)
            .where(answered).group_by(_Q.c.agency_id)))
    for agency, median in medians.items():
        found[agency].median_hours = round(float(median), 1)
    return found


async def _acknowledgements(uow: UnitOfWork, within: tuple[datetime, datetime],
                            schools: list[SchoolFigures]) -> None:
    """Per school, how many notices of the range it has acknowledged, and the median time
    from the notice's receipt to the school's first read."""
    hours: defaultdict[str, list[float]] = defaultdict(list)
    for row in await _rows(uow, select(_K.c.agency_id, _K.c.read_at, _R.c.received_at)
                           .join(_R, _R.c.id == _K.c.referral_id)
                           .where(_R.c.received_at >= within[0],
                                  _R.c.received_at < within[1])):
        hours[row.agency_id].append((row.read_at - row.received_at).total_seconds() / 3600)
    for school in schools:
        taken = hours.get(school.agency_id, [])
        school.encompass_acknowledged = len(taken)
        school.encompass_median_hours_to_read = (round(statistics.median(taken), 1)
                                                 if taken else None)


def _schools(entries: Iterable[Any], referrals: dict[str, int], answers: dict[str, _Answers],
             notices: dict[str, int]) -> list[SchoolFigures]:
    """Every school in the directory, by name and URN, those that did nothing included."""
    none = _Answers()
    schools = [SchoolFigures(agency_id=entry.agency_id, name=entry.name, urn=entry.school_urn,
                             referrals=referrals.get(entry.agency_id, 0),
                             encompass_notices=notices.get(entry.school_urn, 0),
                             information_requests=answers.get(entry.agency_id, none).asked,
                             answered=answers.get(entry.agency_id, none).answered)
               for entry in entries if entry.kind == "school" and entry.school_urn]
    return sorted(schools, key=lambda s: ((s.name or "~").lower(), s.urn))


async def _rows(uow: UnitOfWork, query: Any) -> Sequence[Any]:
    """The rows, fetched a slice at a time (the answered questions' times are one row each:
    tens of thousands in a year), the loop let go in between."""
    return [row async for row in streamed_rows(uow, query)]


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
    for peer in report.peer_hubs:
        for name, value in peer.model_dump(exclude={"peer_hub_id", "name", "la_code"}).items():
            writer.writerow(("peer_hub", *span, peer.la_code or "", peer.name or "", name,
                             "" if value is None else value))
    return out.getvalue()
