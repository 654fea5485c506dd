"""Working-time arithmetic: opening hours, weekends, England and Wales bank holidays."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

import holidays

from services.referral.settings import HubSettings


@lru_cache(maxsize=32)
def _england_and_wales(year: int) -> holidays.HolidayBase:
    return holidays.UK(subdiv="ENG", years=year)


class WorkingCalendar:
    """When the hub is working, and deadlines counted in working time or on the clock."""

    def __init__(self, settings: HubSettings, hours: tuple[time, time] | None = None) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.hub_timezone)
        self.opening, self.closing = hours or (settings.opening_time, settings.closing_time)

    def for_agency(self, kind: str | None) -> WorkingCalendar:
        """The calendar of a partner of this kind: a school's answers fall due in school
        hours; an agency kind with no hours of its own keeps the hub's."""
        hours = self.settings.partner_hours.get(kind or "")
        return WorkingCalendar(self.settings, hours) if hours else self

    @cached_property
    def _file_holidays(self) -> set[date] | None:
        path = self.settings.bank_holidays_file
        if path is None:
            return None
        document = json.loads(path.read_text())
        if isinstance(document, dict):  # gov.uk's bank-holidays.json
            events = document["england-and-wales"]["events"]
            return {date.fromisoformat(e["date"]) for e in events}
        return {date.fromisoformat(d) for d in document}

    def is_bank_holiday(self, day: date) -> bool:
        """True on an England and Wales bank holiday."""
        if self._file_holidays is not None:
            return day in self._file_holidays
        return day in _england_and_wales(day.year)

    def is_working_day(self, day: date) -> bool:
        """A weekday the hub works that is not a bank holiday."""
        return day.weekday() in self.settings.working_days and not self.is_bank_holiday(day)

    @property
    def working_day_hours(self) -> float:
        """Hours in one working day (opening to closing)."""
        opening = datetime.combine(date.min, self.opening)
        return (datetime.combine(date.min, self.closing) - opening).total_seconds() / 3600

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` of working time after ``start`` (an aware datetime)."""
        remaining = timedelta(hours=hours)
        local = start.astimezone(self.zone)
        day = local.date()
        cursor = local
        while True:
            if self.is_working_day(day):
                opens = datetime.combine(day, self.opening, self.zone)
                closes = datetime.combine(day, self.closing, self.zone)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return (begin + remaining).astimezone(start.tzinfo)
                    remaining -= available
            day += timedelta(days=1)
            cursor = datetime.combine(day, time.min, self.zone)

    def response_due(self, start: datetime, rag: str) -> datetime:
        """When a partner's answer is due for a referral of this rating."""
        hours = self.settings.rag_response_hours[rag]
        if rag == "red" and self.settings.red_on_clock_time:
            return start + timedelta(hours=hours)
        return self.add_working_hours(start, hours)

    def decision_due(self, received_at: datetime, rag: str | None) -> datetime:
        """When the decision on a referral is due (within one working day by default)."""
        days = self.settings.decision_working_days
        if rag == "red" and self.settings.red_on_clock_time:
            return received_at + timedelta(hours=24 * days)
        return self.add_working_hours(received_at, self.working_day_hours * days)
