"""Refusals in the domain's words. Domain code raises these; the HTTP edge
(shared.problems) answers each as problem+json. Nothing here knows of HTTP."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Something the caller asked for that the domain refuses, and why."""

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(DomainError):
    """No such record, or not one the caller may know exists."""


class NotAllowed(DomainError):
    """The caller may see the record but not do this to it."""


class InvalidTransition(DomainError):
    """Not possible in the record's current status."""


class AlreadyDecided(DomainError):
    """Someone has already made this decision."""


class StaleVersion(DomainError):
    """The record changed after the caller read it."""


class VersionRequired(DomainError):
    """A change was sent without the version the caller read (If-Match)."""


class InvalidValue(DomainError):
    """A value that is well-formed but not acceptable (a deadline in the past, say)."""
