"""The board report at scale: a year's report (by month) over a synthetic population,
next to a primary-key read of one referral in the same run.

    .venv/bin/python bench/board_report.py --referrals 100000
    .venv/bin/python bench/board_report.py --referrals 100000 --postgres-referrals 1000000 \\
        --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

The population is written straight into a migrated referral database (SQLite as `mash up`
keeps it; and PostgreSQL when --postgres is given), not through the API: referrals spread
evenly over the 19 months to the report's end (so a year holds about 63% of them, as
England's 630,000 a year would be of a million), from 70 agencies (50 of them schools), a
decision on nine in ten, a question to a partner on one in three, and a child at a school
on every police referral. Each read is timed --repeats times; medians and the slowest are
printed with the ratio report / primary-key read (goal: the report under 500 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from import_rate import drop_postgres, postgres_database
from sqlalchemy import insert, select, text

from services.referral.app import MIGRATIONS
from services.referral.referrals.models import Referral, ReferralSubject
from services.referral.reports.board import Board
from services.referral.workflow.models import InformationRequest
from shared.agencies import AgencyDirectoryEntry
from shared.db import Database
from shared.migrations import upgrade_to_head

LONDON = ZoneInfo("Europe/London")
END = date(2026, 11, 30)
SPAN_DAYS = 19 * 30
SOURCES = ["6"] * 28 + ["2A"] * 21 + ["3F"] * 15 + ["5A"] * 10 + ["1A"] * 8 + ["8"] * 18
OUTCOMES = ["no_further_action", "advice_signposting", "early_help", "cin_assessment",
            "strategy_discussion", "immediate_protection"]
CHUNK = 5_000


def agencies() -> list[dict[str, Any]]:
    made = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [{"agency_id": f"agency-{kind}-{n}", "name": f"{kind.title()} {n}", "kind": kind,
             "active": True, "school_urn": None, "updated_at": made}
            for kind, count in (("police", 2), ("health", 8), ("local_authority", 10))
            for n in range(count)]
    rows += [{"agency_id": f"agency-school-{n}", "name": f"School {n}", "kind": "school",
              "active": True, "school_urn": f"{990000 + n}", "updated_at": made}
             for n in range(50)]
    return rows


def population(count: int, seed: int = 11) -> dict[Any, list[dict[str, Any]]]:
    rng = random.Random(seed)
    start = datetime.combine(END, datetime.min.time(), LONDON) - timedelta(days=SPAN_DAYS)
    schools = [f"agency-school-{n}" for n in range(50)]
    others = [f"agency-{k}-{n}" for k, c in (("health", 8), ("local_authority", 10))
              for n in range(c)]
    referrals, subjects, questions = [], [], []
    for n in range(count):
        received = start + timedelta(seconds=SPAN_DAYS * 86400 * n / count)
        source = rng.choice(SOURCES)
        agency = ("agency-police-0" if source == "6" else rng.choice(schools)
                  if source == "2A" else rng.choice(others))
        decided = received + timedelta(hours=rng.choice([2, 6, 20, 30, 50]))
        is_decided = rng.random() < 0.9
        rid = str(uuid.uuid4())
        referrals.append({
            "id": rid, "reference": f"MASH-B-{n:08d}", "status": "decided" if is_decided
            else "received", "source": source, "kind": "referral", "immediate_risk": False,
            "concerns": ["3A"], "referrer": {}, "consent_status": "not_sought",
            "referring_agency_id": agency, "submitted_by": "bench", "received_at": received,
            "decision_due_at": received + timedelta(hours=24), "version": 1,
            "outcome": rng.choice(OUTCOMES) if is_decided else None,
            "decided_at": decided if is_decided else None,
            "is_re_referral": rng.random() < 0.22, "same_day_as": None})
        if source == "6":
            subjects.append({"id": str(uuid.uuid4()), "referral_id": rid, "position": 0,
                             "role": "child", "other_names": [],
                             "school_urn": f"{990000 + rng.randrange(50)}"})
        if n % 3 == 0:
            asked = received + timedelta(hours=1)
            answered = asked + timedelta(hours=rng.choice([3, 10, 30, 80])) \
                if rng.random() < 0.85 else None
            questions.append({"id": str(uuid.uuid4()), "referral_id": rid,
                              "agency_id": rng.choice(schools + others), "question": "?",
                              "status": "answered" if answered else "open",
                              "due_at": asked + timedelta(hours=24), "created_by": "bench",
                              "created_at": asked, "answered_at": answered})
    return {Referral: referrals, ReferralSubject: subjects, InformationRequest: questions}


async def load(database: Database, count: int) -> str:
    """Write the population; return one referral's id (for the primary-key read)."""
    await upgrade_to_head(database, MIGRATIONS, "referral")
    rows = population(count)
    async with database.unit_of_work() as uow:
        await uow.session.execute(insert(AgencyDirectoryEntry.__table__), agencies())  # type: ignore[attr-defined]
        for model, batch in rows.items():
            table = model.__table__  # type: ignore[attr-defined]
            for at in range(0, len(batch), CHUNK):
                await uow.session.execute(insert(table), batch[at:at + CHUNK])
        await uow.commit()
    # As a database that has been in use would have: the planner's statistics.
    async with database.engine.connect() as connection:
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    return str(rows[Referral][count // 2]["id"])


async def timed(repeats: int, run: Any) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(url: str, count: int, repeats: int) -> tuple[list[float], list[float]]:
    database = Database(url)
    try:
        started = time.perf_counter()
        some_id = await load(database, count)
        print(f"  loaded {count:,} referrals in {time.perf_counter() - started:.0f} s",
              flush=True)
        year = Board(END - timedelta(days=364), END, "month", LONDON)

        async def report() -> None:
            async with database.long_read() as uow:
                built = await year.build(uow, datetime.now(UTC))
            assert built.totals.referrals > 0

        async def by_key() -> None:
            async with database.unit_of_work() as uow:
                found = (await uow.session.execute(
                    select(Referral.__table__).where(  # type: ignore[attr-defined]
                        Referral.__table__.c.id == some_id))).first()  # type: ignore[attr-defined]
            assert found is not None

        await report()  # warm: the first run pays for caches and compiled statements
        return await timed(repeats, report), await timed(repeats * 20, by_key)
    finally:
        await database.dispose()


def line(label: str, count: int, report: list[float], key: list[float]) -> str:
    median = statistics.median(report)
    return (f"| {label} | {count:,} | {median:,.0f} | {max(report):,.0f} | "
            f"{statistics.median(key):.2f} | {median / statistics.median(key):,.0f}x | "
            f"{'yes' if max(report) < 500 else 'no'} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--referrals", type=int, default=100_000, help="in SQLite")
    parser.add_argument("--postgres", default=None, metavar="URL")
    parser.add_argument("--postgres-referrals", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as work:
        print("SQLite (mash up):", flush=True)
        report, key = await measure(f"sqlite+aiosqlite:///{Path(work) / 'referral.db'}",
                                    args.referrals, args.repeats)
        rows.append(line("SQLite (mash up)", args.referrals, report, key))
    if args.postgres:
        print("PostgreSQL:", flush=True)
        url, name = await postgres_database(args.postgres)
        try:
            report, key = await measure(url, args.postgres_referrals, args.repeats)
            rows.append(line("PostgreSQL", args.postgres_referrals, report, key))
        finally:
            await drop_postgres(args.postgres, name)
    print("\nA year's board report by month, next to a primary-key read of one referral")
    print("| database | referrals | report p50 ms | report max ms | key read p50 ms | "
          "ratio | under 500 ms |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    asyncio.run(main())
