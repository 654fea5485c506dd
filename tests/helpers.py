"""Small helpers for tests: waiting for asynchronous effects without fixed sleeps."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
