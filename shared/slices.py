"""Long work on the event loop in slices, so everything else the loop serves goes on.

A year's export is tens of thousands of rows turned into records and text in Python.
Done in one go it holds the loop for its whole length (a health check waited 140 ms
behind a 12,000-row census). Done a slice at a time, with the loop let go in between,
a request arriving meanwhile waits at most for one slice (about a millisecond or two per
SLICE rows). Not a worker thread: pure Python there would hold the GIL against the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy.engine import Row

from shared.db import UnitOfWork

T = TypeVar("T")
SLICE = 500


async def let_go() -> None:
    """Let the event loop run whatever else is ready, then go on."""
    await asyncio.sleep(0)


def sliced(items: Iterable[T], size: int = SLICE) -> Iterator[list[T]]:
    """``items`` in lists of ``size``."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


async def each(items: Iterable[T], size: int = SLICE) -> AsyncIterator[T]:
    """``items`` one by one, letting the loop go every ``size`` items."""
    for chunk in sliced(items, size):
        for item in chunk:
            yield item
        await let_go()


async def streamed_rows(uow: UnitOfWork, query: Any, size: int = SLICE
                        ) -> AsyncIterator[Row[Any]]:
    """The rows of ``query``, fetched ``size`` at a time (each fetch a wait on the
    database, not the loop), the loop let go after each slice."""
    connection = await uow.session.connection()
    result = await connection.stream(query)
    async for rows in result.partitions(size):
        for row in rows:
            yield row
        await let_go()
