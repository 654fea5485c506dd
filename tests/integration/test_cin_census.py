"""The CIN census extract: a known population brought in through intake (so the person
index decides who is the same child), the specification's referral rules, the XML and
CSV, and who may take it. On SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import gc
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from services.referral.app import MIGRATIONS
from services.referral.intake.service import submit_referral
from services.referral.referrals.models import Referral
from services.referral.referrals.schemas import ReferralCreate
from services.referral.reports.census import (
    CensusRecord,
    CensusRecords,
    census_csv,
    census_json_streamed,
    census_problems,
    census_records,
    census_xml,
)
from services.referral.reports.schemas import CensusExtract, CensusRecordView
from shared.auth import Principal
from shared.db import Database
from shared.migrations import upgrade_to_head
from tests.bodies import TEST_NHS_NUMBERS, referral_body
from tests.helpers import hub_clock_at
from tests.integration.partners import Intake

LONDON = ZoneInfo("Europe/London")
YEAR = 2027  # 1 April 2026 to 31 March 2027


def partner(agency: str, kind: str) -> Principal:
    return Principal(subject=f"{agency}-system", agency_id=agency, roles=frozenset(
        {"partner_system"}), kind="client", token_id="t", agency_kind=kind)


POLICE, HEALTH = partner("police", "police"), partner("health", "health")


def child(name: str, nhs: str, **changes: Any) -> dict[str, Any]:
    return {**referral_body()["subjects"][0], "given_name": name, "nhs_number": nhs,
            **changes}


def body(source: str, *subjects: dict[str, Any], kind: str = "referral") -> ReferralCreate:
    return ReferralCreate.model_validate(
        referral_body(source=source, kind=kind, subjects=list(subjects)))


@pytest.fixture
async def referral_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database, MIGRATIONS, "referral")
    try:
        yield database
    finally:
        await database.dispose()


async def refer(database: Database, who: Principal, content: ReferralCreate, when: str,
                outcome: str | None = None, need: str | None = None) -> str:
    received = datetime.fromisoformat(when)
    async with database.unit_of_work() as uow:
        referral = await submit_referral(uow, content, who, received_at=received)
        if outcome:
            referral.outcome, referral.primary_need = outcome, need
            referral.decided_at, referral.status = received, "decided"
            uow.session.add(referral)
        await uow.commit()
        return referral.id


AMY = child("Amy", TEST_NHS_NUMBERS[0], upn="A123456789012", sex="F")
BEN = child("Ben", TEST_NHS_NUMBERS[1], sex="M", date_of_birth="2015-06-01")
CAL = child("Cal", TEST_NHS_NUMBERS[2], date_of_birth="2016-02-01")
ADULT = {"role": "adult_of_concern", "given_name": "Sam", "family_name": "Sample"}


async def population(database: Database) -> None:
    # Before the year: Amy's first referral makes the one in May a re-referral.
    await refer(database, POLICE, body("6", AMY, ADULT), "2026-03-20T10:00:00+00:00",
                "no_further_action")
    await refer(database, POLICE, body("6", AMY, ADULT), "2026-05-01T09:00:00+01:00",
                "no_further_action")
    # The same child the same day from health: counted once.
    await refer(database, HEALTH, body("3F", AMY), "2026-05-01T15:00:00+01:00",
                "early_help")
    await refer(database, HEALTH, body("3A", AMY), "2026-09-01T10:00:00+01:00",
                "cin_assessment", "N1")
    # A police notification is information only: not a referral.
    await refer(database, POLICE, body("6", CAL, kind="notification"),
                "2026-10-01T10:00:00+01:00")
    # Ben on the year's last evening (London, summer time) and just after it ends.
    await refer(database, HEALTH, body("3E", BEN), "2027-03-31T22:30:00+00:00")
    await refer(database, HEALTH, body("3E", BEN), "2027-03-31T23:30:00+00:00",
                "no_further_action")


async def test_one_record_per_child_referred_in_the_year_in_the_census_items(
    referral_db: Database,
) -> None:
    await population(referral_db)
    async with referral_db.long_read() as uow:
        records = await census_records(uow, YEAR, LONDON)
    people = {r.CINreferralDate: r.LAchildID for r in records}
    assert [(r.CINreferralDate, r.ReferralSource, r.ReferralNFA, r.PrimaryNeedCode,
             r.ReReferral) for r in records] == [
        (date(2026, 5, 1), "6", True, None, True),
        (date(2026, 9, 1), "3A", False, "N1", True),
        (date(2027, 3, 31), "3E", None, None, False),
    ]
    assert people[date(2026, 5, 1)] == people[date(2026, 9, 1)] != people[date(2027, 3, 31)]
    amy, _, ben = records
    assert (amy.UPN, amy.GenderCurrent, amy.PersonBirthDate) == ("A123456789012", "2",
                                                                 date(2012, 4, 2))
    assert (ben.GenderCurrent, ben.PersonBirthDate) == ("1", date(2015, 6, 1))
    # The only rule not met: Ben's referral is not decided yet.
    problems = census_problems(records, YEAR)
    assert len(problems) == 1 and "not decided yet" in problems[0]
    # Held as plain tuples, which the garbage collector leaves alone once it has seen them.
    gc.collect()
    assert not any(gc.is_tracked(row) for row in records._rows)
    assert records[1:][0] == records[1] and len(records[1:]) == 2


def test_the_referral_rules_catch_what_a_return_must_not_hold() -> None:
    def record(day: date, **changes: Any) -> CensusRecord:
        values: dict[str, Any] = {
            "LAchildID": "c1", "UPN": None, "PersonBirthDate": None, "GenderCurrent": "9",
            "CINreferralDate": day, "ReferralSource": "6", "PrimaryNeedCode": None,
            "ReferralNFA": True, "ReReferral": False}
        return CensusRecord(**{**values, **changes})

    fine = [record(date(2026, 4, 1)), record(date(2027, 3, 31), ReReferral=True),
            record(date(2026, 6, 1), LAchildID="c2", ReferralNFA=False,
                   PrimaryNeedCode="N4")]
    assert census_problems(fine, YEAR) == []
    bad = [record(date(2026, 3, 31), LAchildID="early"),
           record(date(2026, 6, 1), LAchildID="c3", ReferralSource="99"),
           record(date(2026, 6, 1), LAchildID="c4", ReferralNFA=False),
           record(date(2026, 6, 2), LAchildID="c5", PrimaryNeedCode="N10"),
           record(date(2026, 7, 1), LAchildID="c6"),
           record(date(2026, 7, 1), LAchildID="c6", ReReferral=True),
           record(date(2026, 8, 1), LAchildID="c6")]
    problems = census_problems(bad, YEAR)
    assert [p.split(": ", 1)[1].split(" ")[0] for p in problems] == [
        "CINreferralDate", "ReferralSource", "an", "PrimaryNeedCode", "the", "an"]
    assert "counted once" in problems[4] and "re-referral" in problems[5]


async def test_the_xml_and_csv_carry_the_items(referral_db: Database) -> None:
    await population(referral_db)
    async with referral_db.long_read() as uow:
        records = await census_records(uow, YEAR, LONDON)
    made = census_xml(records, YEAR, "123", datetime(2027, 5, 1, 9, tzinfo=UTC))
    root = ElementTree.fromstring(made)  # noqa: S314 (the hub's own output)
    assert root.tag == "Message"
    assert root.findtext("Header/CollectionDetails/Collection") == "CIN"
    assert root.findtext("Header/CollectionDetails/Year") == "2027"
    assert root.findtext("Header/CollectionDetails/ReferenceDate") == "2027-03-31"
    assert root.findtext("Header/Source/LEA") == "123"
    children = root.findall("Children/Child")
    assert len(children) == 3
    first = children[0]
    assert [e.tag for e in first.find("ChildIdentifiers") or []] == [
        "LAchildID", "UPN", "PersonBirthDate", "GenderCurrent"]
    assert [(e.tag, e.text) for e in first.find("CINdetails") or []] == [
        ("CINreferralDate", "2026-05-01"), ("ReferralSource", "6"), ("ReferralNFA", "true")]
    assert children[1].findtext("CINdetails/PrimaryNeedCode") == "N1"
    assert children[2].find("CINdetails/ReferralNFA") is None  # undecided
    rows = list(csv.DictReader(io.StringIO(census_csv(records))))
    assert [(r["CINreferralDate"], r["ReferralNFA"], r["ReReferral"]) for r in rows] == [
        ("2026-05-01", "true", "true"), ("2026-09-01", "false", "true"),
        ("2027-03-31", "", "false")]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_managers_and_auditors_take_it_and_it_is_audited(
    intake: Intake, database_url: str
) -> None:
    with hub_clock_at(datetime(2027, 5, 4, 9, tzinfo=UTC)):
        database = intake.hub.services["referral"].database
        await refer(database, POLICE, body("6", AMY), "2026-06-01T10:00:00+01:00",
                    "cin_assessment", "N2")
        for username in ("mash.manager", "auditor"):
            csrf = await intake.as_user(username)
            answer = await intake.client.get("/api/v1/reports/cin-census?year=2027",
                                             headers=csrf)
            assert answer.status_code == 200, answer.text
            extract = answer.json()
            assert (extract["period_start"], extract["period_end"]) == ("2026-04-01",
                                                                        "2027-03-31")
            assert [r["PrimaryNeedCode"] for r in extract["records"]] == ["N2"]
            # Every item of the API's record, in its order, as the model writes it.
            record = extract["records"][0]
            assert list(record) == list(CensusRecordView.model_fields)
            assert CensusRecordView.model_validate(record).model_dump(mode="json") == record
            assert extract["problems"] == []
        xml = await intake.client.get("/api/v1/reports/cin-census?year=2027",
                                      headers={**csrf, "accept": "application/xml"})
        assert xml.headers["content-type"].startswith("application/xml")
        assert ElementTree.fromstring(xml.content).findtext(  # noqa: S314 (the hub's own)
            "Children/Child/CINdetails/PrimaryNeedCode") == "N2"
        as_csv = await intake.client.get("/api/v1/reports/cin-census?year=2027",
                                         headers={**csrf, "accept": "text/csv"})
        assert as_csv.text.startswith("LAchildID,UPN,PersonBirthDate,GenderCurrent,")
        for username in ("mash.practitioner", "board.member"):
            csrf = await intake.as_user(username)
            refused = await intake.client.get("/api/v1/reports/cin-census?year=2027",
                                              headers=csrf)
            assert refused.status_code == 403
        csrf = await intake.as_user("auditor")
        log = (await intake.client.get("/api/v1/audit", params={"action": "export"},
                                       headers=csrf)).json()
        assert [e["purpose"] for e in log["items"]] == ["cin_census"] * 4  # JSON x2, XML, CSV
    async with database.unit_of_work() as uow:
        assert len((await uow.session.exec(select(Referral.id))).all()) == 1


async def test_the_json_extract_streamed_in_slices_is_the_extract() -> None:
    rows = [(f"child-{n}", None, date(2015, 1, 1), "1", date(2026, 5, 1 + n % 28), "6",
             None if n % 3 else "N1", n % 2 == 0, False) for n in range(1_234)]
    problems = [f"record {n}: a problem" for n in range(1_111)]
    expected = CensusExtract(year=YEAR, period_start=date(2026, 4, 1),
                             period_end=date(2027, 3, 31),
                             records=[CensusRecordView(**CensusRecord._make(row)._asdict())
                                      for row in rows], problems=list(problems))
    records = CensusRecords(list(rows))
    streamed = b"".join([part async for part in census_json_streamed(records, YEAR,
                                                                     problems)])
    assert json.loads(streamed) == json.loads(expected.model_dump_json())
    assert len(records) == 0 and problems == []  # let go of as they were sent
