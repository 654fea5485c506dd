"""The audit log as auditors read it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import (
    Field,
    field_validator,
)

from shared.pagination import PageLinks
from shared.schemas import Schema


class AuditEntryView(Schema):
    """One audit entry."""

    seq: int
    at: datetime
    actor: str
    actor_kind: str
    agency_id: str
    action: str
    record_type: str
    record_id: str
    purpose: str
    request_id: str | None
    detail: dict[str, Any] | None = Field(
        default=None, description="what else identifies the access: a search's terms")
    hash: str

    @field_validator("detail", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class AuditPage(Schema):
    """One page of the audit log, newest first."""

    items: list[AuditEntryView]
    links: PageLinks


class ChainProblemView(Schema):
    """Where the chain does not hold, and how."""

    seq: int
    problem: str


class CheckpointView(Schema):
    """A sealed head of the chain."""

    seq: int
    hash: str
    sealed_at: datetime


class VerificationView(Schema):
    """The chain checked end to end just now."""

    ok: bool
    entries: int
    verified_at: datetime
    problems: list[ChainProblemView]
    last_checkpoint: CheckpointView | None
