"""Keyset pagination: opaque cursors, the predicate of the rows after a cursor, and the
link to the next page. Keysets are stable under inserts, unlike offsets."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from starlette.datastructures import URL

from shared.problems import Problem
from shared.schemas import Schema

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


class PageLinks(Schema):
    """Links to the next page, if there is one."""

    next: str | None = None


def encode_cursor(*values: Any) -> str:
    """An opaque cursor holding the sort key of the last item of a page."""
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _bad_cursor() -> Problem:
    return Problem(400, "The cursor is not one this API gave out; start from the first page.",
                   title="Bad cursor")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    """The values of a cursor from ``encode_cursor``; 400 problem if it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != length:
        raise _bad_cursor()
    return values


def aware_datetime(value: Any) -> datetime:
    """A timestamp with its zone, as cursors hold them."""
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("a cursor's timestamps carry their zone")
    return parsed


def position(value: Any) -> int:
    """A whole number as cursors hold them (a rank, a sequence number), small enough for any
    database column."""
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**62:
        raise ValueError("not a position")
    return value


def read_cursor(cursor: str | None, *kinds: Callable[[Any], Any]) -> tuple[Any, ...] | None:
    """The sort key a cursor holds, each value made of its kind (``position``, ``str``,
    ``aware_datetime``); None without a cursor; 400 problem for one this API did not give
    out, however it was made."""
    if not cursor:
        return None
    values = decode_cursor(cursor, len(kinds))
    try:
        return tuple(kind(value) for kind, value in zip(kinds, values, strict=True))
    except (TypeError, ValueError, OverflowError):
        raise _bad_cursor() from None


def after(columns: Sequence[Any], key: Sequence[Any], *,
          descending: bool = False) -> ColumnElement[bool]:
    """The rows after ``key`` in the order of ``columns`` (each ascending, or each
    descending): the first column past its value, or equal and the next one past, ..."""
    terms = []
    for i, (column, value) in enumerate(zip(columns, key, strict=True)):
        beyond = column < value if descending else column > value
        terms.append(and_(*(c == v for c, v in zip(columns[:i], key[:i], strict=True)), beyond))
    return or_(*terms)


def page_of(found: Sequence[T], limit: int, url: URL,
            key: Callable[[T], Sequence[Any]]) -> tuple[list[T], PageLinks]:
    """The first ``limit`` items of ``found`` (read with one more, to know whether there is
    a next page) and the link to the next page, whose cursor is ``key`` of the last item."""
    page = list(found[:limit])
    if len(found) <= limit:
        return page, PageLinks()
    cursor = encode_cursor(*(value.isoformat() if isinstance(value, datetime) else value
                             for value in key(page[-1])))
    return page, PageLinks(next=str(url.include_query_params(cursor=cursor)))
