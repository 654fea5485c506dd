"""The two notify drills of issue 22 at full size, by hand: notify's PostgreSQL database
refusing connections for 10 s (deployment mode) and notify's disk full for 10 s
(`mash up`), each with 2,000 referrals from 16 workers and a webhook receiver recording
every webhook-id. Prints the drill table (Markdown).

Run (as root, from the repository, with PostgreSQL, RabbitMQ and nginx as for the tests):

    .venv/bin/python bench/drills.py [--count 2000] [--workers 16] [--only database|disk]

The drills and what they count are those of tests/drills (tests/drills/kit.py): a referral
is *acknowledged* when the client got 201; *stored* counts acknowledged referrals stored
exactly once; *delivered* those whose partner was told (one webhook-id); *lost* those never
told within 60 s of quiet after the fault (longer than notify's lease on a delivery);
*duplicated* referrals stored twice or told under two webhook-ids. The *longest intake
gap* is the longest wait between two acknowledgements once the fault began; *all told s
after fault* is from the fault's end to the last acknowledged referral's partner being
told ("never" when some were lost).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import POSTGRES_URL, RABBITMQ_URL, _create_database, _drop_database
from tests.deployment import deployed
from tests.drills.kit import (
    DeployedHub,
    embedded,
    fill_disk,
    mount_tmpfs,
    refuse_database,
    run_drill,
    table,
    unmount,
)


@contextmanager
def fresh_database() -> Iterator[str]:
    """An empty PostgreSQL database on the test server, dropped afterwards."""
    url = asyncio.run(_create_database(POSTGRES_URL))
    try:
        yield url
    finally:
        asyncio.run(_drop_database(POSTGRES_URL, url))


def notify_database_drill(count: int, workers: int) -> dict[str, Any]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with deployed(fresh_database, RABBITMQ_URL, nginx, rate_limit="5000r/s", rate_burst=5000,
                  extra_env={"MASH_NOTIFY_ALLOW_LOOPBACK_WEBHOOKS": "true"}) as deployment:
        result = asyncio.run(run_drill(
            "notify database refused 10 s (deployment)", DeployedHub(deployment),
            refuse_database(deployment.databases["notify"]), count=count, workers=workers,
            within=1200))
    return result.row()


def notify_disk_drill(count: int, workers: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="mash-drill-"))
    disk = workdir / "notify-disk"
    mount_tmpfs(disk, "64m")
    try:
        with embedded(workdir, notify_dir=disk) as hub:
            result = asyncio.run(run_drill("notify disk full 10 s (mash up)", hub,
                                           fill_disk(disk), count=count, workers=workers,
                                           within=1200))
        return result.row()
    finally:
        unmount(disk)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--only", choices=["database", "disk"])
    args = parser.parse_args()
    rows = []
    if args.only in (None, "database"):
        rows.append(notify_database_drill(args.count, args.workers))
    if args.only in (None, "disk"):
        rows.append(notify_disk_drill(args.count, args.workers))
    print(table(rows))


if __name__ == "__main__":
    main()
