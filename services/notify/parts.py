"""The pieces of notify that request handlers and the dispatcher share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from services.notify.secret_box import SecretBox
from shared.events import utcnow
from shared.ssrf import UrlGuard


@dataclass(frozen=True)
class NotifyParts:
    """The URL guard, the secret box, the rotation grace period and the clock."""

    guard: UrlGuard
    secrets: SecretBox
    secret_grace: timedelta
    clock: Callable[[], datetime] = field(default=utcnow)


async def get_parts(request: Request) -> NotifyParts:
    """The notify parts of the app handling this request."""
    parts: NotifyParts = request.app.state.notify
    return parts


NotifyDep = Annotated[NotifyParts, Depends(get_parts)]
