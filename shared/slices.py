"""Long work on the event loop in slices, so everything else the loop serves goes on.

A year's export is tens of thousands of rows turned into records and text in Python.
Done in one go it holds the loop for its whole length (a health check waited 140 ms
behind a 12,000-row census). Done a slice at a time, with the loop let go in between,
a request arriving meanwhile waits at most for a slice or two: a slice ends after SLICE
items or SLICE_SECONDS, whichever comes first (rows cost more or less by what they hold,
and a health check needs the loop a few times before it is answered). Not a worker
thread: pure Python there would hold the GIL against the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy.engine import Row

from shared.db import UnitOfWork

T = TypeVar("T")
SLICE = 500
SLICE_SECONDS = 0.003
FETCH = 200  # rows a fetch: the driver's rows are made into Python values on the loop


async def let_go() -> None:
    """Let the event loop run whatever else is ready, then go on."""
    await asyncio.sleep(0)


def sliced(items: Iterable[T], size: int = SLICE) -> Iterator[list[T]]:
    """``items`` in lists of ``size``."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class _Slice:
    """Counts the items and the time of the slice under way."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.restart()

    def restart(self) -> None:
        """Begin a new slice (once the loop has been let go)."""
        self.left = self.size
        self.ends = time.perf_counter() + SLICE_SECONDS

    def full(self) -> bool:
        """Count one item; True once the slice holds ``size`` items or its time is up."""
        self.left -= 1
        return self.left <= 0 or time.perf_counter() >= self.ends


async def each(items: Iterable[T], size: int = SLICE) -> AsyncIterator[T]:
    """``items`` one by one, letting the loop go after every slice."""
    current = _Slice(size)
    for item in items:
        yield item
        if current.full():
            await let_go()
            current.restart()


async def streamed_rows(uow: UnitOfWork, query: Any) -> AsyncIterator[Row[Any]]:
    """The rows of ``query``, fetched FETCH at a time (each fetch a wait on the database,
    not the loop), the loop let go after every slice: FETCH rows or SLICE_SECONDS."""
    connection = await uow.session.connection()
    result = await connection.stream(query)
    current = _Slice(FETCH)
    async for rows in result.partitions(FETCH):
        for row in rows:
            yield row
            if current.full():
                await let_go()
                current.restart()
