"""Deadlines in working time: opening hours, weekends, bank holidays, and red on the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.referral.settings import HubSettings
from services.referral.workflow.working_time import WorkingCalendar
from tests.helpers import BANK_HOLIDAY_EVE, FRIDAY_EVENING, LONDON, SUNDAY_MORNING

# Times are UTC; in winter London is on GMT (= UTC), which keeps expectations readable.


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def calendar() -> WorkingCalendar:
    return WorkingCalendar(HubSettings())


def test_hours_within_one_working_day(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_hours(at("2026-11-24T10:00"), 4) == at("2026-11-24T14:00")


def test_time_outside_opening_hours_does_not_count(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_hours(at("2026-11-24T07:30"), 1) == at("2026-11-24T10:00")
    assert calendar.add_working_hours(at("2026-11-24T16:00"), 2) == at("2026-11-25T10:00")
    assert calendar.add_working_hours(at("2026-11-24T22:00"), 1) == at("2026-11-25T10:00")


def test_weekends_are_skipped(calendar: WorkingCalendar) -> None:
    friday_afternoon = at("2026-11-27T16:00")
    assert calendar.add_working_hours(friday_afternoon, 4) == at("2026-11-30T12:00")
    assert calendar.add_working_hours(at("2026-11-28T11:00"), 1) == at("2026-11-30T10:00")


def test_england_and_wales_bank_holidays_are_skipped(calendar: WorkingCalendar) -> None:
    # Christmas Eve 2026 is a Thursday; 25th, and the 28th (Boxing Day observed) are off.
    assert calendar.add_working_hours(at("2026-12-24T16:00"), 8) == at("2026-12-29T16:00")
    # Good Friday 2027 (26 March) and Easter Monday (29 March); the clocks have gone
    # forward by Tuesday, so 10:00 in London is 09:00 UTC.
    assert calendar.add_working_hours(at("2027-03-25T16:00"), 2) == at("2027-03-30T09:00")
    assert not calendar.is_working_day(datetime(2026, 8, 31).date())  # summer bank holiday


def test_british_summer_time_is_respected(calendar: WorkingCalendar) -> None:
    # 09:00 in London on 1 July is 08:00 UTC.
    assert calendar.add_working_hours(at("2026-07-01T06:00"), 1) == at("2026-07-01T09:00")


def test_red_runs_on_the_clock_amber_and_green_in_working_hours(
    calendar: WorkingCalendar,
) -> None:
    friday_evening = at("2026-11-27T19:00")
    assert calendar.response_due(friday_evening, "red") == at("2026-11-27T23:00")
    assert calendar.response_due(friday_evening, "amber") == at("2026-12-02T17:00")
    assert calendar.response_due(friday_evening, "green") == at("2026-12-10T17:00")
    assert calendar.decision_due(friday_evening, "red") == at("2026-11-28T19:00")
    assert calendar.decision_due(friday_evening, None) == at("2026-11-30T17:00")


def test_a_hub_sets_its_own_timescales() -> None:
    london_borough = WorkingCalendar(HubSettings(
        rag_response_hours={"red": 2, "amber": 6, "green": 24},
        opening_time="08:00", closing_time="18:00", red_on_clock_time=False))
    assert london_borough.working_day_hours == 10
    assert london_borough.response_due(at("2026-11-24T17:00"), "red") == at(
        "2026-11-25T09:00")
    assert london_borough.response_due(at("2026-11-24T09:00"), "amber") == at(
        "2026-11-24T15:00")


def test_bank_holidays_from_the_admins_file(tmp_path: Path) -> None:
    gov_uk = {"england-and-wales": {"division": "england-and-wales", "events": [
        {"title": "Extra bank holiday", "date": "2026-11-25", "notes": "", "bunting": True}]}}
    path = tmp_path / "bank-holidays.json"
    path.write_text(json.dumps(gov_uk))
    calendar = WorkingCalendar(HubSettings(bank_holidays_file=path))
    assert not calendar.is_working_day(datetime(2026, 11, 25).date())
    assert calendar.is_working_day(datetime(2026, 12, 25).date()), "the file replaces the list"
    assert calendar.add_working_hours(at("2026-11-24T16:00"), 2) == at("2026-11-26T10:00")
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps(["2026-11-26"]))
    assert not WorkingCalendar(HubSettings(bank_holidays_file=plain)).is_working_day(
        datetime(2026, 11, 26).date())


@pytest.mark.parametrize(("received", "decision_due"), [
    (FRIDAY_EVENING, datetime(2026, 12, 7, 17, 0, tzinfo=LONDON)),  # the weekend skipped
    (BANK_HOLIDAY_EVE, datetime(2026, 12, 29, 17, 0, tzinfo=LONDON)),  # and Boxing Day on Monday
    (SUNDAY_MORNING, datetime(2026, 12, 7, 17, 0, tzinfo=LONDON)),
])
def test_a_decision_is_due_one_working_day_after_an_awkward_arrival(
    calendar: WorkingCalendar, received: datetime, decision_due: datetime
) -> None:
    assert calendar.decision_due(received, "amber") == decision_due
    assert calendar.decision_due(received, "red") == received + timedelta(hours=24)
