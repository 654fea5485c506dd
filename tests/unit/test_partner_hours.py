"""A partner's deadlines in its own working hours: a school's in school hours, red still on
the clock; an agency kind with no hours of its own keeps the hub's."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from services.referral.settings import HubSettings
from services.referral.workflow.working_time import WorkingCalendar
from tests.helpers import BANK_HOLIDAY_EVE, FRIDAY_EVENING

HUB = WorkingCalendar(HubSettings())


def test_a_schools_amber_deadline_falls_in_school_hours() -> None:
    school = HUB.for_agency("school")
    due = school.response_due(FRIDAY_EVENING, "amber")  # 24 working hours
    # 7.5 school hours a day: Monday to Wednesday, then 1.5 hours of Thursday.
    assert due == datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    assert HUB.response_due(FRIDAY_EVENING, "amber") == datetime(2026, 12, 9, 17, 0, tzinfo=UTC)


def test_a_schools_green_deadline_skips_christmas() -> None:
    due = HUB.for_agency("school").response_due(BANK_HOLIDAY_EVE, "green")  # 72 hours
    local = due.astimezone(HUB.zone)
    assert local.weekday() < 5 and time(8, 30) <= local.time() <= time(16, 0)
    assert local.date() > BANK_HOLIDAY_EVE.date() + timedelta(days=10)


def test_red_runs_on_the_clock_for_a_school_too() -> None:
    assert HUB.for_agency("school").response_due(FRIDAY_EVENING, "red") == (
        FRIDAY_EVENING + timedelta(hours=4))


def test_other_kinds_keep_the_hubs_hours() -> None:
    assert HUB.for_agency("police") is HUB and HUB.for_agency(None) is HUB
    custom = WorkingCalendar(HubSettings(partner_hours={"health": (time(8, 0), time(20, 0))}))
    assert custom.for_agency("health").closing == time(20, 0)
    assert custom.for_agency("school") is custom
