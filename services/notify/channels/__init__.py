"""Delivery channels: a new way of reaching partners is a new class, not a new branch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.notify.models import Delivery, Subscription


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to; ``error`` is a short label, never a response body."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds the endpoint asked us to wait
    gone: bool = False  # the endpoint says it no longer exists: stop sending to it
    permanent: bool = False  # refused for good (an SMTP 5xx): trying again cannot help


class DeliveryChannel(Protocol):
    """Sends one delivery to one subscription's endpoint or mailbox."""

    name: str

    async def send(self, delivery: Delivery, subscription: Subscription) -> Outcome:
        """Make one attempt; never raise for the endpoint's failures."""

    async def close(self) -> None:
        """Release connections."""
