"""Request id and W3C trace context, kept in context variables for logs and events."""

from __future__ import annotations

import re
import secrets
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


@dataclass(frozen=True)
class TraceContext:
    """One W3C trace context: the trace this work belongs to and this work's span."""

    trace_id: str
    span_id: str
    flags: str = "01"

    @property
    def traceparent(self) -> str:
        """The `traceparent` header value for this span."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """A new span in the same trace."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        """Parse a `traceparent` header; None if absent or malformed."""
        if not header:
            return None
        match = _TRACEPARENT.match(header.strip().lower())
        if not match:
            return None
        trace_id, span_id, flags = match.groups()
        if trace_id == "0" * 32 or span_id == "0" * 16:
            return None
        return cls(trace_id, span_id, flags)

    @classmethod
    def new(cls) -> TraceContext:
        """Start a new trace."""
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    @classmethod
    def continue_from(cls, header: str | None) -> TraceContext:
        """A child span of the given parent, or a new trace when there is none."""
        parent = cls.parse(header)
        return parent.child() if parent else cls.new()


REQUEST_ID_SCOPE_KEY = "mash.request_id"

request_id_var: ContextVar[str | None] = ContextVar("mash_request_id", default=None)
trace_var: ContextVar[TraceContext | None] = ContextVar("mash_trace", default=None)


def accept_request_id(header: str | None) -> str:
    """Keep a caller's request id if it looks like one, else make a new one."""
    if header and _REQUEST_ID.match(header):
        return header
    return str(uuid.uuid4())


def current_traceparent() -> str | None:
    """The `traceparent` of the work in progress, if any."""
    trace = trace_var.get()
    return trace.traceparent if trace else None
