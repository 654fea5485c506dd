"""GET /api/v1/audit: who read or changed what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import AwareDatetime

from services.referral.audit import service
from services.referral.audit.schemas import (
    AuditEntryView,
    AuditPage,
    ChainProblemView,
    CheckpointView,
    VerificationView,
)
from services.referral.permissions import (
    AuditReader,
)
from services.referral.runtime import RuntimeDep
from shared.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    page_of,
    position,
    read_cursor,
)
from shared.service import UnitOfWorkDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Filter = Annotated[str | None, Query(max_length=100)]


def audit_query(
    record_id: Filter = None, person_id: Filter = None, actor: Filter = None,
    agency_id: Filter = None, purpose: Filter = None, action: Filter = None,
    at_from: AwareDatetime | None = None, at_to: AwareDatetime | None = None,
) -> service.AuditFilters:
    """The audit log's filters, as query parameters."""
    return service.AuditFilters(record_id=record_id, person_id=person_id, actor=actor,
                                agency_id=agency_id, purpose=purpose, action=action,
                                at_from=at_from, at_to=at_to)


@router.get("/export", response_class=PlainTextResponse,
            responses={200: {"content": {"text/csv": {}},
                             "description": "The extract as CSV"}})
async def export_audit_log(caller: AuditReader, uow: UnitOfWorkDep,
                           filters: Annotated[service.AuditFilters, Depends(audit_query)],
                           ) -> PlainTextResponse:
    """An extract of the log as CSV, with the same filters (newest first, at most 10,000
    entries). The export is itself audited, with its filters."""
    text = await service.export_extract(uow, caller, filters)
    return PlainTextResponse(text, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="audit-extract.csv"',
        "Cache-Control": "no-store"})


@router.get("/verification", response_model=VerificationView)
async def verify_audit_chain(_: AuditReader, uow: UnitOfWorkDep,
                             runtime: RuntimeDep) -> VerificationView:
    """Check the whole chain now (every entry against its predecessor, and its seals), and
    give its newest seal: the checkpoint to keep away from the hub."""
    found = await service.verification(uow, runtime.audit_key)
    last = found.last_checkpoint
    return VerificationView(
        ok=not found.problems, entries=found.entries, verified_at=found.verified_at,
        problems=[ChainProblemView(seq=p.seq, problem=p.problem) for p in found.problems],
        last_checkpoint=CheckpointView(seq=last.seq, hash=last.hash, sealed_at=last.sealed_at)
        if last else None)


@router.get("", response_model=AuditPage)
async def read_audit_log(
    _: AuditReader, uow: UnitOfWorkDep, request: Request,
    filters: Annotated[service.AuditFilters, Depends(audit_query)],
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """Who read or changed which record, when and why; newest first. Filter by record,
    person (their record and every referral they are in), user, agency, purpose, action
    and time."""
    before = read_cursor(cursor, position)
    entries = await service.audit_entries(uow, filters, before, limit + 1)
    page, links = page_of(entries, limit, request.url, lambda entry: (entry.seq,))
    return AuditPage(items=[AuditEntryView.model_validate(e.model_dump()) for e in page],
                     links=links)
