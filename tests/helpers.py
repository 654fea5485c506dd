"""Small helpers for tests: waiting for asynchronous effects without fixed sleeps."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import uvicorn
from starlette.types import ASGIApp

from shared import clock

T = TypeVar("T")

# The origin the embedded hub's tests use: tokens' issuer and audiences follow from it.
HUB_BASE_URL = "http://127.0.0.1:8000"


async def eventually(
    probe: Callable[[], Awaitable[T]], *, within: float = 10.0, interval: float = 0.05
) -> T:
    """Call ``probe`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[int]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port for the block; yield the port."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


class KeepAliveClient:
    """One HTTP/1.1 connection, kept open: shows whether the server closed it after an answer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> KeepAliveClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, headers: dict[str, str] | None = None,
                      body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        """Send one request on the connection; its status, headers (lower-case) and body."""
        head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
                f"Content-Length: {len(body)}",
                *(f"{name}: {value}" for name, value in (headers or {}).items())]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        answer = {name.strip().lower(): value.strip()
                  for name, _, value in (line.partition(":") for line in lines[1:] if line)}
        return status, answer, await self.reader.readexactly(int(answer["content-length"]))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


LONDON = ZoneInfo("Europe/London")
# Deadlines are tested at these instants, whatever the real day and hour.
FRIDAY_EVENING = datetime(2026, 12, 4, 17, 30, tzinfo=LONDON)  # the weekend ahead
BANK_HOLIDAY_EVE = datetime(2026, 12, 24, 17, 30, tzinfo=LONDON)  # Christmas, Boxing Day
SUNDAY_MORNING = datetime(2026, 12, 6, 10, 0, tzinfo=LONDON)  # before a working day
AWKWARD_INSTANTS = {"friday_evening": FRIDAY_EVENING, "bank_holiday_eve": BANK_HOLIDAY_EVE,
                    "sunday_morning": SUNDAY_MORNING}


@contextmanager
def hub_clock_at(instant: datetime) -> Iterator[None]:
    """The hub's clock (shared.clock, in this process) starting at ``instant``, then the
    real time again."""
    clock.start_at(instant)
    try:
        yield
    finally:
        clock.start_at(None)
