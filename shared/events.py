"""The CloudEvents 1.0 envelope (JSON, structured mode) used on the broker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared import clock
from shared.tracing import current_traceparent

CONTENT_TYPE = "application/cloudevents+json"


def utcnow() -> datetime:
    """The hub's current time, timezone-aware, in UTC (shared.clock)."""
    return clock.now()


class CloudEvent(BaseModel):
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
