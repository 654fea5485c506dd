"""The hub's clock: the real time or, outside production, the real time moved to start at
a given instant (MASH_CLOCK_START), so that tests and demonstrations of deadlines do not
depend on the day they run: a Friday evening, a bank holiday's eve, a Sunday.

Everything the hub dates goes by this clock: records, deadlines, events, its own tokens'
times. A person's authenticator app (TOTP codes) and a partner's signed assertions keep
the real time: they are other people's clocks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The hub's time, timezone-aware, in UTC."""
    return datetime.now(UTC) + _offset


def timestamp() -> float:
    """The hub's time in seconds since the epoch (for tokens' iat and exp)."""
    return time.time() + _offset.total_seconds()


def start_at(instant: datetime | None) -> None:
    """Move the hub's clock so that it reads ``instant`` now and runs on from there
    (None: the real time again)."""
    global _offset
    _offset = timedelta(0) if instant is None else instant - datetime.now(UTC)
