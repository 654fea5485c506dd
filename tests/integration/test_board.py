"""The board report: a known population, every figure counted by hand; who may read it;
the CSV. On SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.referral.app import MIGRATIONS
from services.referral.peers.models import PeerHub, PeerNotice
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.reports.board import Board, board_csv, periods
from services.referral.workflow.models import InformationRequest
from shared.agencies import AgencyDirectoryEntry
from shared.db import Database
from shared.migrations import upgrade_to_head
from tests.helpers import hub_clock_at
from tests.integration.partners import POLICE, Intake

LONDON = ZoneInfo("Europe/London")
POLICE_ID, HEALTH_ID = "ag-police", "ag-health"
RIVERSIDE_ID, HILLTOP_ID = "ag-riverside", "ag-hilltop"


def at(day: str, clock: str) -> datetime:
    """An instant given in UTC (March is GMT; from 29 March 2026 London is UTC+1)."""
    return datetime.fromisoformat(f"2026-{day}T{clock}:00+00:00").astimezone(UTC)


def referral(rid: str, agency: str, source: str, received: datetime, *, kind: str = "referral",
             decided: datetime | None = None, due: datetime | None = None,
             outcome: str | None = None, same_day_as: str | None = None,
             re_referral: bool = False, withdrawn: bool = False) -> Referral:
    return Referral(id=rid, reference=f"MASH-2026-{rid}", source=source, kind=kind,
                    referring_agency_id=agency, submitted_by="test", received_at=received,
                    decided_at=decided, outcome=outcome, same_day_as=same_day_as,
                    decision_due_at=due or received + timedelta(days=1),
                    status="withdrawn" if withdrawn else "decided" if decided else "received",
                    is_re_referral=re_referral)


def question(qid: str, rid: str, agency: str, asked: datetime, due: datetime,
             answered: datetime | None = None, withdrawn: datetime | None = None
             ) -> InformationRequest:
    return InformationRequest(id=qid, referral_id=rid, agency_id=agency, question="synthetic",
                              status="answered" if answered else "open", due_at=due,
                              created_by="test", created_at=asked, answered_at=answered,
                              withdrawn_at=withdrawn)


def notice(nid: str, rid: str, status: str, committed: datetime, seconds: float = 0
           ) -> PeerNotice:
    return PeerNotice(id=nid, peer_hub_id="peer-1", referral_id=rid, kind="referral",
                      status=status, created_at=committed, committed_at=committed,
                      delivered_at=committed + timedelta(seconds=seconds) if seconds else None)


def directory(agency_id: str, name: str, kind: str, urn: str | None = None
              ) -> AgencyDirectoryEntry:
    return AgencyDirectoryEntry(agency_id=agency_id, name=name, kind=kind, school_urn=urn,
                                updated_at=at("01-01", "00:00"))


def population() -> list[Any]:
    """The rows (new objects each time: a session takes ownership of what it adds)."""
    return [
        directory(POLICE_ID, "Northshire Police", "police"),
        directory(HEALTH_ID, "Northshire Hospitals", "health"),
        directory(RIVERSIDE_ID, "Riverside Academy", "school", "999001"),
        directory(HILLTOP_ID, "Hilltop Primary", "school", "999002"),  # never answers
        # A police referral the MASH decided late: the lateness is the MASH's, not the police's.
        referral("r1", POLICE_ID, "6", at("03-02", "09:00"), decided=at("03-03", "12:00"),
                 due=at("03-03", "09:00"), outcome="no_further_action"),
        # The same child again that day: counted once (CIN census); decided in time.
        referral("r2", POLICE_ID, "6", at("03-02", "10:00"), decided=at("03-02", "15:00"),
                 due=at("03-03", "10:00"), outcome="early_help", same_day_as="r1"),
        # A re-referral from health, decided late, in April.
        referral("r3", HEALTH_ID, "3F", at("03-10", "11:00"), decided=at("04-01", "10:00"),
                 due=at("03-11", "11:00"), outcome="cin_assessment", re_referral=True),
        referral("r4", RIVERSIDE_ID, "2A", at("04-05", "08:00")),
        referral("r5", POLICE_ID, "6", at("04-20", "23:30"), kind="notification"),
        referral("r6", POLICE_ID, "6", at("05-02", "09:00")),  # after the range
        referral("r7", POLICE_ID, "6", at("03-05", "09:00"), withdrawn=True),  # in error
        ReferralSubject(referral_id="r1", role="child", school_urn="999001"),
        ReferralSubject(referral_id="r1", position=1, role="adult_of_concern"),
        ReferralSubject(referral_id="r5", role="child", school_urn="999001"),
        ReferralSubject(referral_id="r4", role="child", school_urn="999001"),  # not police
        ReferralSubject(referral_id="r7", role="child", school_urn="999001"),  # withdrawn
        question("q1", "r1", HEALTH_ID, at("03-03", "09:00"), at("03-04", "09:00"),
                 answered=at("03-03", "21:00")),  # 12 hours, on time
        question("q2", "r3", HEALTH_ID, at("03-11", "09:00"), at("03-12", "09:00"),
                 answered=at("03-13", "09:00")),  # 48 hours, late: the partner's
        question("q3", "r3", HILLTOP_ID, at("04-02", "09:00"), at("04-03", "09:00")),
        question("q4", "r4", RIVERSIDE_ID, at("04-06", "09:00"), at("04-07", "09:00"),
                 answered=at("04-06", "15:00")),  # 6 hours, on time
        question("q5", "r4", POLICE_ID, at("04-07", "09:00"), at("04-08", "09:00"),
                 withdrawn=at("04-07", "10:00")),  # withdrawn: owed by nobody
        PeerHub(id="peer-1", name="Eastshire MASH", la_code="998", base_url="https://e.example",
                client_id="northshire", kid="k", public_jwk="{}", private_key_encrypted="x",
                created_at=at("01-01", "00:00")),
        # Two notices to the peer hub, accepted after 30 s and 90 s, and one still waiting.
        notice("n1", "r1", "delivered", at("03-02", "09:00"), seconds=30),
        notice("n2", "r3", "delivered", at("03-10", "11:00"), seconds=90),
        notice("n3", "r4", "pending", at("04-05", "08:00")),
    ]


@pytest.fixture
async def referral_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database, MIGRATIONS, "referral")
    async with database.unit_of_work() as uow:
        for row in population():
            uow.session.add(row)
            await uow.session.flush()
        await uow.commit()
    try:
        yield database
    finally:
        await database.dispose()


async def board(database: Database) -> Any:
    async with database.long_read() as uow:
        return await Board(date(2026, 3, 1), date(2026, 4, 30), "month", LONDON).build(
            uow, at("05-03", "09:00"))


def counts(items: list[Any]) -> dict[str, int]:
    return {item.key: item.count for item in items if item.count}


async def test_every_figure_of_a_known_population(referral_db: Database) -> None:
    report = await board(referral_db)
    total = report.totals
    assert (total.referrals, total.notifications, total.children_referrals) == (4, 1, 4)
    assert (total.re_referrals, total.re_referral_percent) == (1, 25.0)
    assert counts(total.by_source) == {"2A": 1, "3F": 1, "6": 3}
    assert (total.decisions, total.decided_within_timescale, total.late_decisions) == (3, 1, 2)
    assert total.decided_within_timescale_percent == 33.3
    assert counts(total.outcomes) == {"no_further_action": 1, "early_help": 1,
                                      "cin_assessment": 1}
    assert total.no_further_action_percent == 33.3

    march, april = report.periods
    assert (march.starts_on, march.ends_on) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (march.referrals, march.notifications, march.children_referrals) == (3, 0, 2)
    assert (march.re_referral_percent, march.decisions, march.late_decisions) == (50.0, 2, 1)
    assert (april.referrals, april.notifications, april.children_referrals) == (1, 1, 2)
    assert (april.re_referral_percent, april.decisions, april.late_decisions) == (0.0, 1, 1)

    agencies = {a.agency_id: a for a in report.agencies}
    police = agencies[POLICE_ID]
    # Two late decisions were the MASH's: the police row carries its own figures only.
    assert (police.referrals, police.information_requests, police.unanswered) == (3, 0, 0)
    assert "late" not in " ".join(police.model_dump())
    health = agencies[HEALTH_ID]
    assert (health.referrals, health.information_requests, health.answered) == (1, 2, 2)
    assert (health.answered_on_time, health.answered_on_time_percent) == (1, 50.0)
    assert health.median_hours_to_answer == 30.0
    hilltop = agencies[HILLTOP_ID]
    assert (hilltop.information_requests, hilltop.answered, hilltop.unanswered) == (1, 0, 1)
    assert hilltop.answered_on_time_percent == 0.0 and hilltop.median_hours_to_answer is None

    (peer,) = report.peer_hubs
    assert (peer.name, peer.la_code, peer.sent, peer.delivered, peer.pending) == (
        "Eastshire MASH", "998", 3, 2, 1)
    assert peer.median_seconds_to_deliver == 60.0

    assert [(s.name, s.urn, s.referrals, s.encompass_notices, s.information_requests,
             s.answered) for s in report.schools] == [
        ("Hilltop Primary", "999002", 0, 0, 1, 0),
        ("Riverside Academy", "999001", 1, 2, 1, 1),
    ]


async def test_the_csv_holds_the_same_figures(referral_db: Database) -> None:
    report = await board(referral_db)
    rows = list(csv.DictReader(io.StringIO(board_csv(report))))
    value = {(r["section"], r["starts_on"], r["key"], r["figure"]): r["value"] for r in rows}
    assert value[("total", "2026-03-01", "", "late_decisions")] == "2"
    assert value[("month", "2026-04-01", "", "notifications")] == "1"
    assert value[("month", "2026-03-01", "6", "referrals_by_source")] == "2"
    assert value[("agency", "2026-03-01", HEALTH_ID, "median_hours_to_answer")] == "30.0"
    assert value[("school", "2026-03-01", "999002", "answered")] == "0"
    assert value[("school", "2026-03-01", "999001", "encompass_notices")] == "2"
    assert value[("peer_hub", "2026-03-01", "998", "delivered")] == "2"


def test_weeks_start_on_monday_and_the_range_clips_the_first_and_last() -> None:
    assert periods(date(2026, 3, 4), date(2026, 3, 18), "week") == [
        (date(2026, 3, 4), date(2026, 3, 8)), (date(2026, 3, 9), date(2026, 3, 15)),
        (date(2026, 3, 16), date(2026, 3, 18))]
    assert periods(date(2026, 1, 31), date(2026, 3, 1), "month") == [
        (date(2026, 1, 31), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 1))]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_board_members_managers_and_auditors_read_it_no_one_else(
    intake: Intake, database_url: str
) -> None:
    # A day after the demo data's signing key was made (tokens are signed on the hub's
    # clock), in a month of its own.
    with hub_clock_at(datetime(2027, 4, 14, 9, tzinfo=UTC)):
        assert (await intake.submit()).status_code == 201
        path = "/api/v1/reports/board?from=2027-04-01&to=2027-04-30&interval=week"
        for username in ("board.member", "mash.manager", "auditor"):
            csrf = await intake.as_user(username)
            answer = await intake.client.get(path, headers=csrf)
            assert answer.status_code == 200, (username, answer.text)
            assert answer.json()["totals"]["referrals"] == 1
            assert [p["starts_on"] for p in answer.json()["periods"]][:2] == [
                "2027-04-01", "2027-04-05"]
            assert "Amy" not in answer.text and "Example" not in answer.text
        as_csv = await intake.client.get(path, headers={**csrf, "accept": "text/csv"})
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.text.splitlines()[0] == "section,starts_on,ends_on,key,label,figure,value"
        police_name = [line for line in as_csv.text.splitlines()
                       if line.startswith("agency,") and "Northshire Police" in line]
        assert police_name, "agencies are named"
        csrf = await intake.as_user("mash.practitioner")
        assert (await intake.client.get(path, headers=csrf)).status_code == 403
        intake.client.cookies.clear()
        police = await intake.as_client(POLICE)
        assert (await intake.client.get(path, headers=police)).status_code == 403
        csrf = await intake.as_user("board.member")
        backwards = await intake.client.get(
            "/api/v1/reports/board?from=2027-05-01&to=2027-04-01", headers=csrf)
        assert backwards.status_code == 422
        assert backwards.headers["content-type"] == "application/problem+json"
