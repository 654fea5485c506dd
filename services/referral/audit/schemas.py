"""The audit log as auditors read it."""

from __future__ import annotations

from datetime import datetime

from pydantic import (
    BaseModel,
)

from shared.pagination import PageLinks


class AuditEntryView(BaseModel):
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
    hash: str


class AuditPage(BaseModel):
    """One page of the audit log, newest first."""

    items: list[AuditEntryView]
    links: PageLinks
