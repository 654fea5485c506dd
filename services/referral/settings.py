"""A hub's own timescales and working calendar (environment variables, prefix ``MASH_``)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HubSettings(BaseSettings):
    """Timescales differ between hubs: each sets its own (DOMAIN.md gives real examples)."""

    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    hub_timezone: str = "Europe/London"
    # The council's three-digit DfE local authority number (the CIN census header's LEA;
    # 999 is not a real one).
    la_code: str = Field(default="999", pattern=r"^[0-9]{3}$")
    opening_time: time = time(9, 0)
    closing_time: time = time(17, 0)
    working_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4],
                                    description="Monday is 0")
    # England and Wales bank holidays come from the maintained `holidays` package; a hub
    # may instead give a file in the format of https://www.gov.uk/bank-holidays.json
    # (or a plain JSON list of ISO dates) and update it itself.
    bank_holidays_file: Path | None = None
    # Partner response time by RAG rating, in working hours (red: clock hours, see below).
    rag_response_hours: dict[str, float] = Field(
        default_factory=lambda: {"red": 4.0, "amber": 24.0, "green": 72.0})
    # Red is worked to completion out of hours: its deadlines run on the clock.
    red_on_clock_time: bool = True
    # The decision is due within this many working days of receipt (red: 24 clock hours
    # per day when red runs on the clock).
    decision_working_days: float = 1.0
    deadline_poll_seconds: float = 30.0
    # How often the audit chain's head is sealed with the key kept out of the database.
    audit_seal_seconds: float = 5.0
    # Pattern alerts: a value seen with two or more children within this many days.
    alert_window_days: int = Field(default=365, ge=1, le=3650)
    # A CSE screening at "high" makes its referral red.
    cse_high_makes_red: bool = True
    # Operation Encompass: a police referral with one of these concerns (CIN factors;
    # domestic abuse by default) tells the children's schools.
    encompass_concerns: list[str] = Field(default_factory=lambda: ["3A", "3B", "3C"])

    # This hub's name as peer hubs see it (with la_code above): a child placed in or from
    # another authority whose hub is a registered peer is notified to that hub
    # (services/referral/peers).
    hub_name: str = "MASH"
    # Notices to peer hubs: retried after these many seconds each (then dead-lettered,
    # about 3 days in all), each attempt given up after the timeout.
    peer_retry_schedule_seconds: list[float] = Field(default_factory=lambda: [
        2.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0, 7200.0, *([21600.0] * 10)])
    peer_timeout_seconds: float = 15.0
    peer_poll_seconds: float = 1.0
    # How partners reach the MASH about a question (shown on every question card).
    contact_phone: str = Field(default="01632 960000", max_length=40)
    duty_mailbox: str = Field(default="mash.duty@northshire.example", max_length=320)
    # A partner's working hours, by kind of agency, where they differ from the hub's: a
    # school's answers fall due in school hours (red requests still run on the clock).
    partner_hours: dict[str, tuple[time, time]] = Field(
        default_factory=lambda: {"school": (time(8, 30), time(16, 0))})
