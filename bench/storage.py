"""Bytes a referral costs on disk in `mash up`, table by table, against issue 19's 4 KB.

Run: .venv/bin/python bench/storage.py [--referrals 2000]

`mash up` starts on a fresh data dir; every table's size is read (SQLite's dbstat: the
pages of each table and of its indexes, free pages left out). --referrals referrals are
then posted through the API as the demo police system (each about a child of its own
from the person index's synthetic population, with a parent: intake, the person index,
matching, chronology, audit, the events and notify's deliveries), the hub is left until
its CPU is quiet (events relayed and delivered), stopped, and every table is read again.
Printed: each table's growth (its indexes included) divided by the referrals, by
database, largest first, and the total against the goal of 4,096 bytes a referral.

The baseline is the same data dir before the referrals (what an empty hub holds), taken
off each table. Sent messages in the outboxes and handled ones in the inboxes are kept
for MASH_MESSAGE_RETENTION_DAYS (7 days) and then purged (shared.outbox.purge_messages):
they are shown, and the total is also given without them, which is what a year of
referrals keeps.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import (
    clean_environment,
    free_port,
    mash_command,
    run_load,
    start,
    wait_quiet,
    wait_ready,
)
from practitioner_api import partner_token

GOAL = 4096
# Rows purged after the retention period: outboxes' sent messages, inboxes' handled ones.
PURGED = {"outbox_messages": "sent", "inbox_messages": "handled"}


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of each table of the SQLite file at ``path``, its indexes included."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        owner = {name: table for name, table in db.execute(
            "SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")}
        sizes: dict[str, int] = defaultdict(int)
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            sizes[owner.get(name, name)] += size
    return dict(sizes)


def sizes(data_dir: Path) -> dict[tuple[str, str], int]:
    """(database, table) -> bytes, for every SQLite database of the data dir."""
    return {(path.stem, table): size for path in sorted(data_dir.glob("*.db"))
            for table, size in table_bytes(path).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referrals", type=int, default=2000)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="copy the data dir here, to look into it afterwards")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mash-bench-storage-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        hub = start("hub", [*mash_command(), "up", "--port", str(port), "--data-dir",
                            str(data_dir)], workdir, clean_environment())
        try:
            wait_ready(hub, f"{base}/readyz", timeout=90)
            wait_quiet([hub], window=1.0)
            empty = sizes(data_dir)
            credentials = json.loads((data_dir / "demo" / "credentials.json").read_text())
            started = time.perf_counter()
            result = run_load(port, args.referrals, 4, "STORE",
                              partner_token(base, credentials), workdir, children="distinct")
            assert result["statuses"].get("201") == args.referrals, result["statuses"]
            wait_quiet([hub], window=2.0, timeout=300)
            print(f"  {args.referrals:,} referrals posted and settled in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        finally:
            hub.stop()
        full = sizes(data_dir)
        if args.keep:
            shutil.copytree(data_dir, args.keep)

    growth = {key: (full.get(key, 0) - empty.get(key, 0)) / args.referrals for key in full}
    rows = sorted(((size, key) for key, size in growth.items() if size >= 1), reverse=True)
    print(f"\nBytes a referral (growth over an empty hub / {args.referrals:,} referrals; "
          "each table with its indexes)")
    print("| database | table | bytes/referral |")
    print("|---|---|---|")
    for size, (database, table) in rows:
        note = (f" ({PURGED[table]}: purged after the retention period)"
                if table in PURGED else "")
        print(f"| {database} | {table}{note} | {size:,.0f} |")
    by_database: dict[str, float] = defaultdict(float)
    for (database, _), size in growth.items():
        by_database[database] += size
    total = sum(by_database.values())
    kept = total - sum(s for (_, t), s in growth.items() if t in PURGED)
    for database, size in sorted(by_database.items()):
        print(f"| {database} | (all) | {size:,.0f} |")
    print(f"\ntotal {total:,.0f} bytes/referral ({total / GOAL:.2f}x the 4 KB goal); "
          f"{kept:,.0f} once the messages are purged ({kept / GOAL:.2f}x)")


if __name__ == "__main__":
    main()
