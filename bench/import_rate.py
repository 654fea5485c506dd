"""`mash import`'s rate: synthetic legacy referrals brought into a fresh referral database
(SQLite as in `mash up`, and PostgreSQL when --postgres is given), next to a baseline
measured in the same run: reading and validating the same lines without writing them.

    .venv/bin/python bench/import_rate.py --lines 5000
    .venv/bin/python bench/import_rate.py --lines 5000 --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test

Prints lines a second, the ratio to the baseline, and what England's year (630,000
referrals) would take at that rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mash.importer import check, import_file, read_lines
from services.referral.app import MIGRATIONS
from shared.db import Database
from shared.migrations import upgrade_to_head

GIVEN = ["Amy", "Ben", "Cara", "Dev", "Ella", "Finn", "Gita", "Hal", "Isla", "Jon", "Kai",
         "Lena", "Mo", "Nia", "Oli", "Pia", "Raj", "Sia", "Tom", "Uma", "Vic", "Wes", "Zoe"]
FAMILY = ["Adams", "Baker", "Clark", "Dunn", "Evans", "Ford", "Green", "Hill", "Irwin",
          "Jones", "Khan", "Lowe", "Mills", "Nash", "Owen", "Patel", "Reid", "Shaw"]
YEAR_OF_ENGLAND = 630_000


def synthetic_lines(path: Path, count: int, seed: int = 7) -> None:
    """``count`` NDJSON referrals, oldest first, about a population of children a third
    the size (so many are re-referrals, as in life)."""
    rng = random.Random(seed)
    children = [(rng.choice(GIVEN), rng.choice(FAMILY),
                 date(2009, 1, 1) + timedelta(days=rng.randrange(5000)),
                 f"S{rng.randrange(1, 99)} {rng.randrange(1, 9)}{rng.choice('ABDEFGH')}"
                 f"{rng.choice('JLNPQRSTUWXYZ')}") for _ in range(max(1, count // 3))]
    start = datetime(2025, 4, 1, 8, tzinfo=UTC)
    with path.open("w") as stream:
        for n in range(count):
            given, family, born, postcode = rng.choice(children)
            stream.write(json.dumps({
                "external_reference": f"LEGACY-{n:07d}",
                "received_at": (start + timedelta(minutes=n * 50)).isoformat(),
                "source": "6", "kind": "referral",
                "referrer": {"name": "PC 0000 Example", "role": "Police officer"},
                "subjects": [{"role": "child", "given_name": given, "family_name": family,
                              "date_of_birth": born.isoformat(),
                              "address": {"postcode": postcode}}],
                "concerns": ["3A"], "immediate_risk": False,
                "summary": "Synthetic legacy referral.",
                "consent": {"status": "not_sought", "reason": "synthetic"},
            }) + "\n")


def baseline(path: Path) -> float:
    """Lines a second read and validated, nothing written."""
    started = time.perf_counter()
    count = sum(1 for line in read_lines(path) if not isinstance(check(line, "x"), str))
    return count / (time.perf_counter() - started)


async def imported(url: str, path: Path, lines: int) -> float:
    database = Database(url)
    try:
        await upgrade_to_head(database, MIGRATIONS, "referral")
        started = time.perf_counter()
        tally = await import_file(database, path, "agency-bench")
        seconds = time.perf_counter() - started
    finally:
        await database.dispose()
    assert tally.imported == lines, tally
    return lines / seconds


async def postgres_database(server: str) -> tuple[str, str]:
    import asyncpg

    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    dsn = server.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return server.rsplit("/", 1)[0] + f"/{name}", name


async def drop_postgres(server: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=5000)
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="a PostgreSQL server's URL (a database is made and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "legacy.ndjson"
        synthetic_lines(path, args.lines)
        base = baseline(path)
        results = {"SQLite (mash up)": await imported(
            f"sqlite+aiosqlite:///{Path(work) / 'referral.db'}", path, args.lines)}
        if args.postgres:
            url, name = await postgres_database(args.postgres)
            try:
                results["PostgreSQL"] = await imported(url, path, args.lines)
            finally:
                await drop_postgres(args.postgres, name)
    print(f"{args.lines} synthetic referrals; baseline (read and validate only): "
          f"{base:,.0f}/s")
    print("| database | imported/s | ratio to baseline | 630,000 would take |")
    print("|---|---|---|---|")
    for label, rate in results.items():
        print(f"| {label} | {rate:,.0f} | {rate / base:.3f}x | "
              f"{YEAR_OF_ENGLAND / rate / 60:,.0f} min |")


if __name__ == "__main__":
    asyncio.run(main())
