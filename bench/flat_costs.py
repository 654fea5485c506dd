"""Flat costs as the data grows (issue 19, item 2): intake and the staff's reads at a
small population and at a large one, the large one brought in by `mash import`.

Run: .venv/bin/python bench/flat_costs.py [--referrals 100000] [--small 1000]
         [--postgres [URL]] [--rounds 2] [--requests 300] [--concurrency 16] [--reads 200]

One hub on fresh databases: `mash up` (this virtualenv's; SQLite, stopped while `mash
import` runs and started again after), or with --postgres the deployment of
bench/intake.py's mode (b) (three `mash serve` on PostgreSQL, `mash relay`, RabbitMQ,
nginx; up throughout, `mash import` writing into its referral database).

Legacy referrals are made from the person index's synthetic population (siblings,
varied names, dates of birth, addresses and NHS numbers; two referred households a
postcode, see ``postcode_of``): a child and the household's parent on each, each child
referred about 1.6 times, over the two years before today. They are brought in with
`mash import` (the bulk path: intake's validation, person index, chronology and audit;
not the HTTP API).

Two stages:

1. **small**: --small referrals imported;
2. **large**: the rest, up to --referrals.

At each stage, once the hub is ready and quiet, after an unmeasured warm-up, in rounds:

- **intake**: --requests referrals of new children (`--children distinct`) POSTed by
  --concurrency keep-alive connections (bench/_common.py `run_load`), requests a second;
- **reads** by the demo MASH manager (and the demo auditor for the audit), --reads of each,
  one after the other: the queue's first page, a person search by a name, a referral
  by id (a random imported one), a person by id (random), the audit's first page.

Printed: the import's rate; per stage intake req/s and the large stage's ratio to the
small one (goal: at least 0.90); p50 and p99 of each read (goal: p99 under 50 ms).
Imported referrals are open (a legacy export in the public body format carries no
decision), so the queue holds every one of them: its worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    HOST,
    Process,
    clean_environment,
    demo_session,
    free_port,
    mash_command,
    percentile,
    run_load,
    start,
    wait_quiet,
    wait_ready,
)
from intake import Target, deployment, partner_token

AGENCY = "agency-legacy"
REFERRALS_PER_CHILD = 1.6


def legacy_lines(path: Path, start_at: int, count: int, seed: int = 19) -> None:
    """Lines ``start_at`` to ``start_at + count`` of the legacy export (NDJSON), oldest
    first; the same lines whatever the split, so stage 2 goes on from stage 1."""
    from services.referral.matching.training.synthetic import population
    from tests.bodies import REFERRAL

    total = start_at + count
    children = population(max(1, int(total / REFERRALS_PER_CHILD)), seed=seed)
    rng = random.Random(seed)
    picks = [rng.randrange(len(children)) for _ in range(total)]
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=730)
    step = timedelta(days=729) / max(total, 1)
    with path.open("w") as stream:
        for n in range(start_at, total):
            child = children[picks[n]]
            address = {"line1": child.addresses[0].line1,
                       "postcode": postcode_of(child.household)}
            subjects = [
                {"role": "child", "given_name": child.given_name,
                 "family_name": child.family_name, "other_names": list(child.other_names),
                 "date_of_birth": child.date_of_birth.isoformat(), "sex": child.sex,
                 **({"nhs_number": child.nhs_number} if child.nhs_number else {}),
                 "address": address},
                parent_of(child, children),
            ]
            stream.write(json.dumps({
                **REFERRAL, "external_reference": f"LEGACY-{n:08d}",
                "received_at": (first + step * n).isoformat(), "subjects": subjects,
            }, separators=(",", ":")) + "\n")


AREAS = ("AL", "BA", "BB", "BD", "BH", "BL", "BN", "BR", "BS", "CA", "CB", "CF", "CH", "CM",
         "CO", "CR", "CT", "CV", "CW", "DA", "DE", "DH", "DL", "DN", "DT", "DY", "EN", "EX",
         "FY", "GL", "GU", "HA", "HD", "HG", "HP", "HR", "HU", "HX", "IG", "IP")
UNITS = "ABDEFGHJLNPQRSTUWXYZ"
HOUSEHOLDS_A_POSTCODE = 2


def postcode_of(household: int) -> str:
    """A postcode of the household's own, shared with HOUSEHOLDS_A_POSTCODE - 1 others.

    The synthetic population packs about 12 referred households into each postcode (it
    is made to test matching among neighbours); England's 630,000 referrals a year are
    spread over some 1.5 million residential postcodes, so a year's index holds one or
    two referred households a postcode. Left packed, every subject of a large population
    would be scored against a hundred neighbours, a density no area has."""
    n = household // HOUSEHOLDS_A_POSTCODE
    area, rest = AREAS[n % len(AREAS)], n // len(AREAS)
    district, rest = 1 + rest % 98, rest // 98
    sector, unit = rest % 10, rest // 10
    return (f"{area}{district} {sector}{UNITS[unit // len(UNITS) % len(UNITS)]}"
            f"{UNITS[unit % len(UNITS)]}")


def parent_of(child: Any, children: list[Any]) -> dict[str, Any]:
    """The household's parent: the same person for every child of it (a name taken from
    the population, the family name, 20 to 40 years older, the same address)."""
    rng = random.Random(child.household)
    home = child.addresses[0]
    born = child.date_of_birth - timedelta(days=rng.randrange(20 * 365, 40 * 365))
    return {"role": "parent_carer", "given_name": rng.choice(children).given_name,
            "family_name": child.family_name, "date_of_birth": born.isoformat(),
            "address": {"line1": home.line1, "postcode": postcode_of(child.household)}}


def import_file(path: Path, data_dir: Path | None, env: dict[str, str]) -> float:
    """`mash import` the file into the hub's referral database (`mash up`'s in
    ``data_dir``, or the one the environment names); lines a second."""
    began = time.monotonic()
    where = ["--data-dir", str(data_dir)] if data_dir else []
    done = subprocess.run([*mash_command(), "import", str(path), "--agency", AGENCY, *where],
                          env=env, capture_output=True, text=True, timeout=6 * 3600)
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise RuntimeError(f"mash import failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    found = re.search(r"(\d+) imported", done.stdout)
    imported = int(found.group(1)) if found else 0
    return imported / seconds


async def sample_ids(url: str, count: int) -> tuple[list[str], list[str], list[str]]:
    """Random imported referral ids, person ids and family names, read from the database."""
    from sqlalchemy import text

    from shared.db import Database

    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            referrals = (await connection.execute(text(
                "SELECT id FROM referrals ORDER BY random() LIMIT :n"), {"n": count})).all()
            people = (await connection.execute(text(
                "SELECT person_id, family_name FROM person_records WHERE person_id IS NOT "
                "NULL AND role = 'child' ORDER BY random() LIMIT :n"), {"n": count})).all()
    finally:
        await database.dispose()
    return ([r[0] for r in referrals], [p[0] for p in people],
            [p[1] for p in people if p[1]])


def timed_reads(base: str, cookies: dict[str, str], paths: list[tuple[str, str]]
                ) -> list[float]:
    """GET each (who, path) in turn; milliseconds each (all must answer 200)."""
    import httpx

    clients = {who: httpx.Client(base_url=base, cookies={"mash_session": cookie},
                                 headers={"X-Purpose": "triage"}, timeout=60)
               for who, cookie in cookies.items()}
    took = []
    try:
        for who, path in paths:
            began = time.perf_counter()
            answer = clients[who].get(path)
            took.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
    finally:
        for client in clients.values():
            client.close()
    return sorted(took)


def measure(label: str, base: str, port: int, processes: list[Process], data_dir: Path,
            referral_url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Intake's rate and the reads' times on a running hub (``base``, served on ``port``
    for the load generator)."""
    wait_quiet(processes)
    token = partner_token(base, data_dir)
    credentials = json.loads((data_dir / "demo" / "credentials.json").read_text())
    cookies = {"manager": demo_session(base, credentials, "mash.manager"),
               "auditor": demo_session(base, credentials, "auditor")}
    referrals, people, names = asyncio.run(sample_ids(referral_url, args.reads))
    rng = random.Random(7)
    reads: dict[str, list[tuple[str, str]]] = {
        "queue, first page": [("manager", "/api/v1/referrals/queue")] * args.reads,
        "person search by name": [("manager", f"/api/v1/people?q={rng.choice(names)}")
                                  for _ in range(args.reads)],
        "a referral": [("manager", f"/api/v1/referrals/{rng.choice(referrals)}")
                       for _ in range(args.reads)],
        "a person": [("manager", f"/api/v1/people/{rng.choice(people)}")
                     for _ in range(args.reads)],
        "audit, first page": [("auditor", "/api/v1/audit")] * args.reads,
    }
    # Warm up (connection pools, statement caches) without counting it.
    run_load(port, max(50, args.requests // 4), args.concurrency,
             f"FLAT-{uuid.uuid4().hex[:6]}-warm", token, workdir, children="distinct")
    for paths in reads.values():
        timed_reads(base, cookies, paths[:5])
    rates: list[float] = []
    times: dict[str, list[float]] = {name: [] for name in reads}
    for round_ in range(args.rounds):
        wait_quiet(processes)
        result = run_load(port, args.requests, args.concurrency,
                          f"FLAT-{uuid.uuid4().hex[:6]}-{label}", token, workdir,
                          children="distinct")
        rates.append(result["rate"])
        wait_quiet(processes)
        for name, paths in reads.items():
            times[name] += timed_reads(base, cookies, paths)
        print(f"  {label} round {round_ + 1}/{args.rounds}: intake "
              f"{result['rate']:,.0f}/s", flush=True)
    return {"rate": statistics.median(rates),
            "reads": {name: (percentile(sorted(t), 50), percentile(sorted(t), 99))
                      for name, t in times.items()}}


def measure_mash_up(label: str, data_dir: Path, env: dict[str, str], referral_url: str,
                    args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """``measure`` on `mash up`, started on the data dir for it and stopped after."""
    port = free_port()
    base = f"http://{HOST}:{port}"
    with ExitStack() as stack:
        hub = start(f"mash-up-{label}", [*mash_command(), "up", "--port", str(port),
                                         "--data-dir", str(data_dir)], workdir, env)
        stack.callback(hub.stop, signal.SIGINT)
        wait_ready(hub, f"{base}/readyz", timeout=600)
        return measure(label, base, port, [hub], data_dir, referral_url, args, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--postgres", action="store_true",
                        help="deployment mode (bench/intake.py mode b: PostgreSQL at "
                             "MASH_TEST_POSTGRES_URL, RabbitMQ, nginx) instead of `mash up`")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    if not 0 < args.small < args.referrals:
        parser.error("--small must be between 0 and --referrals")

    with tempfile.TemporaryDirectory(prefix="mash-bench-flat-") as work, ExitStack() as stack:
        workdir = Path(work)
        workdir.chmod(0o755)  # nginx's workers (user nobody when run as root) work in here
        hub: Target | None = None
        if args.postgres:  # the deployment (bench/intake.py mode b), up throughout
            running: dict[str, Any] = {}
            _, hub = deployment(stack, workdir, None, free_port(), args.requests, 0, running)
            data_dir, env, base = running["data_dir"], running["env"], running["base"]
            referral_url = running["databases"]["referral"]
        else:  # `mash up`: a first start (migrations, demo data), stopped for the import
            data_dir = workdir / "hub"
            env = clean_environment()
            referral_url = f"sqlite+aiosqlite:///{data_dir / 'referral.db'}"
            port = free_port()
            first = start("mash-up-first", [*mash_command(), "up", "--port", str(port),
                                            "--data-dir", str(data_dir)], workdir, env)
            wait_ready(first, f"http://{HOST}:{port}/readyz", timeout=300)
            first.stop(signal.SIGINT)

        results: dict[str, dict[str, Any]] = {}
        imports: list[tuple[int, float]] = []
        done = 0
        for label, upto in (("small", args.small), ("large", args.referrals)):
            lines = workdir / f"legacy-{label}.ndjson"
            began = time.monotonic()
            legacy_lines(lines, done, upto - done)
            print(f"{label}: {upto - done:,} legacy lines made in "
                  f"{time.monotonic() - began:.0f} s; importing...", flush=True)
            rate = import_file(lines, None if hub else data_dir, env)
            imports.append((upto - done, rate))
            print(f"{label}: imported at {rate:,.0f}/s", flush=True)
            done = upto
            lines.unlink()
            if hub is not None:
                results[label] = measure(label, base, hub.port, hub.processes, data_dir,
                                         referral_url, args, workdir)
            else:
                results[label] = measure_mash_up(label, data_dir, env, referral_url, args,
                                                 workdir)

    where = "deployment (PostgreSQL)" if args.postgres else "mash up (SQLite)"
    print(f"\n{where}; intake: {args.requests} referrals of new children, "
          f"{args.concurrency} connections, median of {args.rounds} rounds")
    for count, rate in imports:
        print(f"mash import: {count:,} lines at {rate:,.0f}/s")
    small, large = results["small"], results["large"]
    print(f"| | {args.small:,} referrals | {args.referrals:,} referrals | ratio |")
    print("|---|---|---|---|")
    ratio = large["rate"] / small["rate"]
    print(f"| intake req/s | {small['rate']:,.0f} | {large['rate']:,.0f} | {ratio:.2f}x "
          f"(goal 0.90x: {'reached' if ratio >= 0.9 else 'not reached'}) |")
    for name in small["reads"]:
        (p50s, p99s), (p50l, p99l) = small["reads"][name], large["reads"][name]
        print(f"| {name}, p50 / p99 ms | {p50s:.1f} / {p99s:.1f} | {p50l:.1f} / {p99l:.1f} | "
              f"p99 {'under' if p99l < 50 else 'over'} 50 ms |")


if __name__ == "__main__":
    main()
