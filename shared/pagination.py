"""Opaque cursors for keyset pagination (stable under inserts, unlike offsets)."""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic import BaseModel

from shared.problems import Problem

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


def encode_cursor(*values: Any) -> str:
    """An opaque cursor holding the sort key of the last item of a page."""
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, length: int) -> list[Any]:
    """The values of a cursor from ``encode_cursor``; 400 problem if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != length:
        raise Problem(400, "The cursor is not one this API gave out; start from the first "
                           "page.", title="Bad cursor")
    return values


class PageLinks(BaseModel):
    """Links to the next page, if there is one."""

    next: str | None = None
