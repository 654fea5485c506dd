"""The CloudEvents 1.0 envelope (JSON, structured mode) used on the broker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from shared import clock
from shared.schemas import Schema
from shared.tracing import current_traceparent

CONTENT_TYPE = "application/cloudevents+json"


def utcnow() -> datetime:
    """The hub's current time, timezone-aware, in UTC (shared.clock)."""
    return clock.now()


class CloudEvent(Schema):
    """A CloudEvents 1.0 event. `traceparent` is the distributed-tracing extension."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    traceparent: str | None = Field(default_factory=current_traceparent)

    def to_json(self) -> bytes:
        """Serialise in structured mode, leaving out unset optional attributes."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, body: bytes | str) -> CloudEvent:
        """Parse a structured-mode CloudEvent."""
        return cls.model_validate_json(body)


# A dead letter put back in a database's outbox is for the one queue that gave up on it:
# this extension attribute names that queue, and brokers hand it to no other (whose
# consumers handled it the first time, and may have forgotten so since: see
# shared.outbox.MessagePurger).
REPLAY_QUEUE_ATTRIBUTE = "mashqueue"


def addressed_to(event: CloudEvent, queue: str) -> CloudEvent:
    """``event`` for ``queue`` alone."""
    return CloudEvent.model_validate({**event.model_dump(), REPLAY_QUEUE_ATTRIBUTE: queue})


def replay_target(event: CloudEvent) -> str | None:
    """The one queue ``event`` is for, if it is a replayed dead letter."""
    target = (event.model_extra or {}).get(REPLAY_QUEUE_ATTRIBUTE)
    return target if isinstance(target, str) else None
