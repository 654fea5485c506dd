"""When to try a failed delivery again: a fixed schedule, jittered, Retry-After honoured."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services.notify.settings import NotifySettings

_system_random = secrets.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """``schedule[n]`` is the wait after the (n+1)th failed attempt; past its end, give up."""

    schedule: Sequence[float]
    jitter: float = 0.2
    max_retry_after: float = 86400.0
    random: Callable[[], float] = field(default=_system_random.random)

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> RetryPolicy:
        """The policy the settings describe."""
        return cls(tuple(settings.notify_retry_schedule_seconds),
                   jitter=settings.notify_retry_jitter,
                   max_retry_after=settings.notify_max_retry_after_seconds)

    def delay_after(self, failed_attempts: int, retry_after: float | None = None
                    ) -> float | None:
        """Seconds until the next attempt after ``failed_attempts`` failures; None: give up."""
        if failed_attempts < 1 or failed_attempts > len(self.schedule):
            return None
        base = self.schedule[failed_attempts - 1]
        delay = base * (1 + self.jitter * (2 * self.random() - 1))
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return delay

    @property
    def total_seconds(self) -> float:
        """How long a delivery is retried for, without jitter."""
        return float(sum(self.schedule))
