"""GET /api/v1/audit: who read or changed what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from services.referral.audit import service
from services.referral.audit.schemas import AuditEntryView, AuditPage
from services.referral.permissions import (
    AuditReader,
)
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    page_of,
    position,
    read_cursor,
)
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
async def read_audit_log(
    _: AuditReader, uow: UnitOfWorkDep, request: Request,
    record_id: str | None = None, actor: str | None = None, action: str | None = None,
    at_from: AwareDatetime | None = None, at_to: AwareDatetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """Who read or changed which record, when and why; newest first."""
    before = read_cursor(cursor, position)
    filters = service.AuditFilters(record_id=record_id, actor=actor, action=action,
                                   at_from=at_from, at_to=at_to)
    entries = await service.audit_entries(uow, filters, before, limit + 1)
    page, links = page_of(entries, limit, request.url, lambda entry: (entry.seq,))
    return AuditPage(items=[AuditEntryView.model_validate(e.model_dump()) for e in page],
                     links=links)
