"""JSON logs that carry request and trace ids, and never personal data.

What we never log: request or response bodies, query strings, headers, and exception
messages (a database error can quote the row it refused). Exceptions are logged as
their type and the code locations of the traceback, which is what on-call needs.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from shared.tracing import request_id_var, trace_var

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
# Fields a caller may attach with ``extra=``; anything else is dropped, so a careless
# ``extra={"name": ...}`` cannot put a child's name in the logs.
ALLOWED_EXTRA = {
    "service", "method", "route", "status", "duration_ms", "event_id", "event_type",
    "consumer", "queue", "attempt", "error_type", "relay", "error", "count", "client_id",
    "agency_id", "record_id", "referral_id", "delivery_id", "host", "port", "data_dir",
    "url", "path",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        trace = trace_var.get()
        if trace:
            entry["trace_id"] = trace.trace_id
            entry["span_id"] = trace.span_id
        for key, value in record.__dict__.items():
            if key in ALLOWED_EXTRA and key not in _STANDARD:
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            entry["error_type"] = type(exc).__name__
            entry["stack"] = [
                f"{frame.filename}:{frame.lineno} in {frame.name}"
                for frame in traceback.extract_tb(exc.__traceback__)
            ]
        return json.dumps(entry, default=str)


class HostOnlyUrls(logging.Filter):
    """httpx logs each request's full URL; a webhook's path and query string can carry a
    token, so only the scheme, host and port are kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_host_only(arg) for arg in record.args)
        return True


def _host_only(value: object) -> object:
    # Only httpx logs httpx URLs: a process that never imported it has none (and a command
    # such as `mash audit verify` need not load it to configure logging).
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(value, httpx.URL):
        port = f":{value.port}" if value.port is not None else ""
        return f"{value.scheme}://{value.host}{port}"
    return value


def configure_logging(level: str = "INFO") -> None:
    """Send every logger, uvicorn's included, through the JSON formatter on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # uvicorn's access log prints the path with its query string: ours leaves it out.
    logging.getLogger("uvicorn.access").disabled = True
    client_log = logging.getLogger("httpx")
    if not any(isinstance(f, HostOnlyUrls) for f in client_log.filters):
        client_log.addFilter(HostOnlyUrls())
