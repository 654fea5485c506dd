"""Fault drills in `mash up` (SQLite, in-process broker): killed mid-load and started again,
and notify's disk full. The same promises as in deployment mode; while the process is gone,
clients can only see their connections refused, and retry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.drills.kit import (
    ACCEPTABLE,
    CONNECTION_ERROR,
    EmbeddedHub,
    fill_disk,
    kill_and_restart,
    run_drill,
)

pytestmark = [pytest.mark.drills]

COUNT = 200


async def test_mash_up_killed_mid_load_and_started_again_loses_and_repeats_nothing(
    embedded_hub: EmbeddedHub,
) -> None:
    fault = kill_and_restart(embedded_hub.process, f"{embedded_hub.base_url}/readyz")

    result = await run_drill("mash up kill -9", embedded_hub, fault, count=COUNT,
                             acceptable=ACCEPTABLE | {CONNECTION_ERROR})

    assert not result.problems(), f"{result.problems()}\n{result.row()}\n" \
        f"{embedded_hub.process.output()}"


async def test_notify_disk_full_in_mash_up_leaves_no_partner_untold(
    embedded_hub_notify_on_small_disk: tuple[EmbeddedHub, Path],
) -> None:
    hub, disk = embedded_hub_notify_on_small_disk

    result = await run_drill("mash up notify disk full 10 s", hub, fill_disk(disk),
                             count=COUNT)

    assert not result.problems(), f"{result.problems()}\n{result.row()}\n" \
        f"{hub.process.output()}"
