"""Long work lets the event loop go after every slice: SLICE items or SLICE_SECONDS."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared import slices


def hold(seconds: float) -> None:
    """An item's work: the CPU, and the loop with it, held for ``seconds``."""
    ends = time.perf_counter() + seconds
    while time.perf_counter() < ends:
        pass


async def turns_taken(items: int, work_seconds: float) -> int:
    """How many times a task waiting beside ``each`` got the loop while it ran."""
    turns = 0
    done = False

    async def beside() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(beside())
    await asyncio.sleep(0)
    started = turns
    async for _ in slices.each(range(items), size=10):
        hold(work_seconds)
    done = True
    await other
    return turns - started


async def test_a_slice_ends_after_its_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slices, "SLICE_SECONDS", 60.0)
    assert await turns_taken(100, 0) == 10


async def test_a_slice_ends_when_its_time_is_up_whatever_its_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slices, "SLICE_SECONDS", 0.002)
    # Items of 1 ms each: the loop is let go after every two or so, not every ten.
    assert await turns_taken(30, 0.001) >= 10
