"""`mash import`: a legacy system's referrals brought in through intake's own path, on
SQLite and on PostgreSQL; lines that cannot be brought in reported, an import cut short
run again without duplicates."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as core_select
from sqlalchemy import text
from sqlmodel import SQLModel, col, func, select

from mash import importer
from mash.importer import IMPORTER, import_file
from services.referral.app import MIGRATIONS
from services.referral.audit.models import AuditEntry
from services.referral.people.models import SubjectDetails
from services.referral.referrals.models import Referral, ReferralSubject
from shared import rows as rows_module
from shared.db import Database
from shared.migrations import upgrade_to_head
from shared.outbox import OutboxMessage
from shared.rows import Rows
from tests.bodies import TEST_NHS_NUMBERS, referral_body

AGENCY = "agency-legacy-import"


@pytest.fixture
async def referral_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await upgrade_to_head(database, MIGRATIONS, "referral")
    try:
        yield database
    finally:
        await database.dispose()


def legacy(reference: str, received: str, **changes: Any) -> dict[str, Any]:
    """A line of the legacy export: a body, its received time and its own reference."""
    return {**referral_body(external_reference=reference, **changes), "received_at": received}


def ndjson(path: Path, *lines: dict[str, Any] | str) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n"
                            for line in lines))
    return path


async def rows(database: Database, query: Any) -> list[Any]:
    async with database.unit_of_work() as uow:
        return list((await uow.session.exec(query)).all())


async def test_an_import_brings_referrals_in_through_intake_and_reports_the_lines_it_cannot(
    referral_db: Database, tmp_path: Path
) -> None:
    file = ndjson(
        tmp_path / "legacy.ndjson",
        legacy("L-1", "2025-03-03T10:00:00+00:00"),
        legacy("L-2", "2025-05-01T11:30:00+01:00"),  # the same child again: a re-referral
        '{"source": "6", ',
        legacy("", "2025-05-02T09:00:00+00:00"),
        legacy("L-5", "2025-05-03T09:00:00+00:00", source="99"),
        legacy("L-1", "2025-03-03T10:00:00+00:00"),  # already brought in by line 1
        legacy("L-7", "2025-05-04T09:00:00"),
    )
    tally = await import_file(referral_db, file, AGENCY, batch=2)

    assert (tally.imported, tally.already_there, tally.rejected) == (2, 1, 4)
    reasons = {line: reason for line, _, reason in tally.rejects}
    assert set(reasons) == {3, 4, 5, 7}
    assert reasons[3].startswith("not JSON")
    assert reasons[4].startswith("external_reference: required")
    assert reasons[5].startswith("source:")
    assert reasons[7].startswith("received_at: give the offset")

    stored = await rows(referral_db, select(Referral).order_by(col(Referral.received_at)))
    assert [r.external_reference for r in stored] == ["L-1", "L-2"]
    assert [r.received_at for r in stored] == [datetime(2025, 3, 3, 10, tzinfo=UTC),
                                               datetime(2025, 5, 1, 10, 30, tzinfo=UTC)]
    assert [r.is_re_referral for r in stored] == [False, True]
    assert {r.referring_agency_id for r in stored} == {AGENCY}
    assert [r.reference[:9] for r in stored] == ["MASH-2025", "MASH-2025"]
    children = await rows(referral_db, select(SubjectDetails.person_id)
                          .join(ReferralSubject,
                                col(ReferralSubject.id) == SubjectDetails.subject_id)
                          .where(ReferralSubject.role == "child"))
    assert len(children) == 2 and len(set(children)) == 1  # one child, known twice
    # Written by intake: audited, with the chain; not announced to partners again.
    audited = await rows(referral_db, select(AuditEntry.actor, AuditEntry.action)
                         .where(AuditEntry.record_type == "referral"))
    assert audited == [(IMPORTER, "create"), (IMPORTER, "create")]
    assert await rows(referral_db, select(func.count()).select_from(OutboxMessage)) == [0]


async def test_an_import_cut_short_is_run_again_without_duplicates(
    referral_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [legacy(f"L-{n}", f"2025-06-{n + 1:02d}T09:00:00+00:00",
                    subjects=[{**referral_body()["subjects"][0], "given_name": name,
                               "nhs_number": TEST_NHS_NUMBERS[n % 4]}])
             for n, name in enumerate(["Ava", "Ben", "Cal", "Dee", "Eli", "Fay", "Gus"])]
    file = ndjson(tmp_path / "legacy.ndjson", *lines)
    written = importer.Importer._write
    calls = 0

    async def stopped_on_the_third_batch(self: importer.Importer, items: list[Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt  # Ctrl-C, or the machine going down, mid-transaction
        await written(self, items)

    monkeypatch.setattr(importer.Importer, "_write", stopped_on_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        await import_file(referral_db, file, AGENCY, batch=2)
    assert len(await rows(referral_db, select(Referral.id))) == 4
    monkeypatch.setattr(importer.Importer, "_write", written)

    again = await import_file(referral_db, file, AGENCY, batch=2)
    assert (again.imported, again.already_there, again.rejected) == (3, 4, 0)
    references = await rows(referral_db, select(Referral.external_reference))
    assert sorted(references) == sorted(f"L-{n}" for n in range(7))


AMY = referral_body()["subjects"][0]
AMY_UNNUMBERED = {**AMY, "nhs_number": None}
BEN = {"role": "child", "given_name": "Ben", "family_name": "Tester", "sex": "M",
       "date_of_birth": "2014-07-09", "nhs_number": TEST_NHS_NUMBERS[1],
       "address": {"line1": "9 Sample Road", "postcode": "S61 2BB"}}
SAM = referral_body()["subjects"][1]


@pytest.mark.parametrize("batch", [1, 4, 9])
async def test_batches_link_and_flag_as_one_referral_at_a_time_would(
    referral_db: Database, tmp_path: Path, batch: int
) -> None:
    """A batch reads its subjects' candidates and its children's earlier referrals once,
    for all its lines: the people and the census flags come out the same whatever the
    batch size, across a batch's boundary and within it."""
    lines = [  # (reference, received, children): same day as, re-referral
        ("L-1", "2025-01-06T09:00:00+00:00", [AMY]),  # -, no
        ("L-2", "2025-01-06T11:00:00+00:00", [AMY]),  # L-1, no
        ("L-3", "2025-01-06T15:00:00+00:00", [AMY_UNNUMBERED]),  # L-1 (matched by details)
        ("L-4", "2025-03-03T10:00:00+00:00", [BEN]),  # -, no
        ("L-5", "2025-03-03T12:00:00+00:00", [BEN]),  # L-4 (a batch of 4 ends at L-4)
        ("L-6", "2025-06-02T10:00:00+00:00", [AMY]),  # -, yes (L-1, within 12 months)
        ("L-7", "2026-09-01T09:00:00+00:00", [AMY]),  # -, no (L-6 is 15 months before)
        ("L-8", "2026-09-01T13:00:00+00:00", [AMY, BEN]),  # L-7
        ("L-9", "2026-12-01T10:00:00+00:00", [BEN]),  # -, yes (L-8)
    ]
    file = ndjson(tmp_path / "legacy.ndjson", *(
        legacy(reference, received, subjects=[*children, SAM])
        for reference, received, children in lines))
    tally = await import_file(referral_db, file, AGENCY, batch=batch)
    assert tally.imported == 9

    referrals = await rows(referral_db, select(Referral.id, Referral.external_reference,
                                               Referral.same_day_as, Referral.is_re_referral))
    reference_of = {id_: reference for id_, reference, _, _ in referrals}
    flags = {reference: (reference_of.get(same_day_as or ""), re_referral)
             for _, reference, same_day_as, re_referral in referrals}
    assert flags == {"L-1": (None, False), "L-2": ("L-1", False), "L-3": ("L-1", False),
                     "L-4": (None, False), "L-5": ("L-4", False), "L-6": (None, True),
                     "L-7": (None, False), "L-8": ("L-7", False), "L-9": (None, True)}
    children = await rows(referral_db, select(SubjectDetails.person_id,
                                              SubjectDetails.referral_id,
                                              SubjectDetails.given_name)
                          .where(SubjectDetails.role == "child"))
    people: dict[str, set[str]] = {}
    for person_id, referral_id, given in children:
        people.setdefault(f"{given}:{person_id}", set()).add(reference_of[referral_id])
    assert sorted(people.values(), key=sorted) == [
        {"L-1", "L-2", "L-3", "L-6", "L-7", "L-8"}, {"L-4", "L-5", "L-8", "L-9"}]


async def test_an_import_keeps_postgresqls_statistics_up_with_the_growing_tables(
    referral_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plans made for nearly empty tables slowed an import down batch after batch: on
    PostgreSQL the importer analyses the tables it grows as it goes (after the first
    ANALYZE_FIRST lines and each doubling); on SQLite it has nothing to do."""
    monkeypatch.setattr(importer, "ANALYZE_FIRST", 2)
    file = ndjson(tmp_path / "legacy.ndjson", *(
        legacy(f"L-{n}", f"2025-06-{n + 1:02d}T09:00:00+00:00") for n in range(5)))
    tally = await import_file(referral_db, file, AGENCY, batch=1)
    assert tally.imported == 5
    if referral_db.is_sqlite:
        return
    # ANALYZE sets pg_class.reltuples (-1 for a table never analysed) in its transaction.
    async with referral_db.engine.connect() as connection:
        counted = dict((await connection.execute(text(
            "SELECT relname, reltuples FROM pg_class "
            "WHERE relname IN ('referrals', 'person_blocking_keys')"))).all())
    # Analysed at 2 lines and at 4, not at 5: the tables as they were at 4.
    assert counted["referrals"] == 4
    assert counted["person_blocking_keys"] > 4


async def test_rows_an_import_copies_into_postgresql_read_back_as_written(
    referral_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL an import's rows go by COPY (Rows.write's bulk), each value through its
    column's bind processing as an INSERT's is: every row of every table it writes reads
    back with the values it was given (on SQLite, by INSERT, the same holds)."""
    written: dict[str, list[dict[str, Any]]] = {}
    copied: list[str] = []
    real_write, real_copy = Rows.write, rows_module._copy

    async def write(self: Rows, uow: Any, *, bulk: bool = False) -> None:
        assert bulk, "an import writes in bulk"
        for table, table_rows in self._tables.items():
            written.setdefault(table.name, []).extend(dict(row) for row in table_rows)
        await real_write(self, uow, bulk=bulk)

    async def copy(connection: Any, table: Any, table_rows: list[dict[str, Any]]) -> None:
        copied.append(table.name)
        await real_copy(connection, table, table_rows)

    monkeypatch.setattr(Rows, "write", write)
    monkeypatch.setattr(rows_module, "_copy", copy)
    monkeypatch.setattr(rows_module, "COPY_FROM", 1)
    file = ndjson(tmp_path / "legacy.ndjson", *(
        legacy(f"L-{n}", f"2025-0{n}-03T10:00:00+00:00", subjects=[child, SAM])
        for n, child in enumerate([AMY, BEN, AMY_UNNUMBERED, AMY, BEN], start=1)))
    assert (await import_file(referral_db, file, AGENCY, batch=3)).imported == 5

    assert {"referrals", "referral_subjects", "person_records", "person_links",
            "person_blocking_keys", "referral_timeline"} <= set(written)
    assert sorted(set(copied)) == ([] if referral_db.is_sqlite else sorted(written))
    tables = SQLModel.metadata.tables
    async with referral_db.engine.connect() as connection:
        for name, expected in written.items():
            stored = (await connection.execute(core_select(tables[name]))).mappings().all()
            columns = list(expected[0])  # an autoincrement key is left to the database
            assert (sorted(repr([row[c] for c in columns]) for row in stored)
                    == sorted(repr([row[c] for c in columns]) for row in expected)), name


def write_csv(path: Path, header: list[str], *records: list[str]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(records)
    return path


CSV_HEADER = ["external_reference", "received_at", "source", "kind", "referrer.name",
              "referrer.role", "concerns", "immediate_risk", "summary", "consent.status",
              "consent.reason", "subjects.0.role", "subjects.0.given_name",
              "subjects.0.family_name", "subjects.0.date_of_birth", "subjects.0.nhs_number",
              "subjects.0.address.postcode", "subjects.1.role", "subjects.1.given_name",
              "subjects.1.family_name", "subjects.1.date_of_birth"]


async def test_a_csv_names_the_body_fields_by_dotted_columns(
    referral_db: Database, tmp_path: Path
) -> None:
    file = write_csv(
        tmp_path / "legacy.csv", CSV_HEADER,
        ["C-1", "2025-02-10T14:00:00+00:00", "2A", "referral", "J. Teacher", "DSL",
         "2B;3A", "false", "Synthetic: two siblings seen with bruises.", "given", "",
         "child", "Ivy", "Sample", "2014-01-05", "9990000026", "s60 1aa",
         "child", "Ned", "Sample", "2016-07-09"],
        ["C-2", "2025-02-11T14:00:00+00:00", "2A", "referral", "J. Teacher", "DSL",
         "2B", "perhaps", "Synthetic.", "given", "", "child", "Ivy", "Sample", "2014-01-05",
         "", "", "", "", "", ""],
    )
    tally = await import_file(referral_db, file, AGENCY)

    assert (tally.imported, tally.rejected) == (1, 1)
    assert tally.rejects[0][:2] == (2, "") and "immediate_risk" in tally.rejects[0][2]
    (referral,) = await rows(referral_db, select(Referral))
    assert (referral.source, referral.concerns, referral.immediate_risk) == ("2A", ["2B", "3A"],
                                                                             False)
    subjects = await rows(referral_db, select(ReferralSubject.given_name, ReferralSubject.postcode)
                          .order_by(col(ReferralSubject.position)))
    assert subjects == [("Ivy", "S60 1AA"), ("Ned", None)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_mash_import_command_reports_its_rejects_and_its_rate(
    database_url: str, tmp_path: Path
) -> None:
    file = ndjson(tmp_path / "legacy.ndjson", legacy("L-1", "2025-03-03T10:00:00+00:00"),
                  legacy("L-2", "2025-03-04T10:00:00+00:00", concerns=[]))
    data_dir = tmp_path / "hub"
    command = [sys.executable, "-m", "mash.cli", "import", str(file), "--agency", AGENCY,
               "--data-dir", str(data_dir)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr
    assert "1 imported, 0 already held, 1 rejected" in first.stdout
    assert "a second" in first.stdout
    with (tmp_path / "legacy.ndjson.rejected.csv").open() as stream:
        report = list(csv.reader(stream))
    assert report[0] == ["line", "external_reference", "reason"]
    assert report[1][:2] == ["2", "L-2"] and report[1][2].startswith("concerns:")

    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert "0 imported, 1 already held, 1 rejected" in second.stdout
