"""Failed sign-ins and token requests, counted per username, client id and source address.

Once one of them has failed too often within the window, further attempts for it are
refused (429) before any password is checked: guessing costs the guesser, not the hub.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from shared.problems import Problem
from shared.settings import Settings

# Past this many keys, empty ones are swept out (many addresses or names must not grow
# memory without end).
SWEEP_AT = 10_000


class FailureWindow:
    """Failures per key within a sliding window of ``window`` seconds."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None if it may now."""
        failures = self._recent(key)
        if len(failures) < self.limit:
            return None
        return failures[len(failures) - self.limit] + self.window - self.clock()

    def failed(self, key: str) -> None:
        """Count one failure of ``key``."""
        if len(self._failures) > SWEEP_AT:
            for stale in [k for k in self._failures if not self._recent(k)]:
                del self._failures[stale]
        failures = self._failures.setdefault(key, deque())
        failures.append(self.clock())
        while len(failures) > self.limit:  # older ones no longer decide anything
            failures.popleft()

    def _recent(self, key: str) -> deque[float]:
        failures = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures


class SignInThrottle:
    """Refuses attempts for a username, client or address that has failed too often."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        window = settings.auth_failure_window_seconds
        self.windows = {
            "username": FailureWindow(settings.auth_failures_per_username, window, clock),
            "client": FailureWindow(settings.auth_failures_per_client, window, clock),
            "address": FailureWindow(settings.auth_failures_per_address, window, clock),
        }

    def check(self, **keys: str | None) -> None:
        """Raise 429 with Retry-After if any of ``keys`` (username=, client=, address=) is
        over its limit."""
        waits = [wait for kind, key in keys.items() if key is not None
                 and (wait := self.windows[kind].retry_after(_normal(key))) is not None]
        if waits:
            seconds = max(1, math.ceil(max(waits)))
            raise Problem(429, "Too many failed attempts; try again later.",
                          title="Too many attempts", headers={"Retry-After": str(seconds)})

    def failed(self, **keys: str | None) -> None:
        """Count a failed attempt against each of ``keys``."""
        for kind, key in keys.items():
            if key is not None:
                self.windows[kind].failed(_normal(key))


def _normal(key: str) -> str:
    return key.strip().lower()[:255]
