"""What notify's requests and its dispatcher share, made once in its factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends

from services.notify.secret_box import SecretBox
from shared.events import utcnow
from shared.service import runtime_dependency
from shared.ssrf import UrlGuard


@dataclass(frozen=True)
class NotifyRuntime:
    """The URL guard, the secret box, the rotation grace period and the clock."""

    guard: UrlGuard
    secrets: SecretBox
    secret_grace: timedelta
    clock: Callable[[], datetime] = field(default=utcnow)


RuntimeDep = Annotated[NotifyRuntime, Depends(runtime_dependency(NotifyRuntime))]
