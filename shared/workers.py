"""Background loops a service runs beside its API: relays, dispatchers, schedulers."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod

log = logging.getLogger(__name__)


class PollingWorker(ABC):
    """Runs ``step`` again and again: after a wake-up, or after ``poll_seconds`` at the
    latest; after a failure it waits longer each time, up to ``max_backoff``."""

    def __init__(self, name: str, *, poll_seconds: float, max_backoff: float = 30.0) -> None:
        self.name = name
        self.poll_seconds = poll_seconds
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @abstractmethod
    async def step(self) -> None:
        """One round of work (until nothing is left to do now)."""

    def step_failed(self, exc: Exception) -> None:
        """Log a failed round; subclasses may say more about expected failures."""
        log.error("background worker failed", exc_info=exc, extra={"relay": self.name})

    def wake(self) -> None:
        """Work now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Work until cancelled."""
        backoff = self.poll_seconds
        while True:
            self._wake.clear()
            try:
                await self.step()
                backoff = self.poll_seconds
            except Exception as exc:
                self.step_failed(exc)
                backoff = min(backoff * 2, self.max_backoff)
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancel that arrives as
            # the wait ends (a wake-up just before stop()), and stop() then hangs.
            try:
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def start(self) -> None:
        """Run in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        """Stop; a round cut short is rolled back and done again next time."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
