"""HTTP layer of the referral service: parse, call the service, shape the reply."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from services.referral import idempotency, intake, service, workflow
from services.referral.codes import REFERRAL_SOURCES
from services.referral.models import ReferralSubject
from services.referral.people import index as people_index
from services.referral.people.models import SubjectDetails
from services.referral.permissions import (
    AuditReader,
    ReferralReader,
    ReferralSubmitter,
    is_mash_staff,
)
from services.referral.schemas import (
    AuditEntryView,
    AuditPage,
    ConcernView,
    PageLinks,
    ReferralCreate,
    ReferralFullView,
    ReferralLimitedView,
    ReferralLinks,
    ReferralListItem,
    ReferralPage,
    ReferralReceipt,
    SubjectMatch,
    SubjectView,
    TimelineView,
)
from shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, decode_cursor, encode_cursor
from shared.problems import Problem
from shared.service import ServiceDep, UnitOfWorkDep
from shared.tracing import request_id_var

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])
audit_router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

IdempotencyKeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Retry safely: the same key and body within 24 hours returns the first "
                "answer; the same key with another body is 422; while the first request "
                "is still being handled, 409.")]
PurposeHeader = Annotated[str | None, Header(
    alias="X-Purpose", max_length=100,
    description="Why you are reading (recorded in the audit log). MASH staff default to "
                "'triage'; partners to 'referrer_follow_up'.")]


@router.post("", status_code=201, response_model=ReferralReceipt, responses={
    409: {"description": "The first request with this Idempotency-Key is still in flight"},
    422: {"description": "Invalid body, or an Idempotency-Key reused with another body"}})
async def submit_referral(body: ReferralCreate, caller: ReferralSubmitter, svc: ServiceDep,
                          request: Request,
                          idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Submit a referral (or an information-only notification); the hub acknowledges it
    with a reference. Send an Idempotency-Key to retry safely after a timeout."""
    fingerprint = None
    if idempotency_key is not None:
        fingerprint = idempotency.fingerprint(await request.json())
    outcome = await intake.writer_for(svc.database).submit(intake.Submission(
        body, caller, idempotency_key, fingerprint, request_id_var.get()))
    if isinstance(outcome, intake.Created):
        return _created(outcome.answer)
    if isinstance(outcome, idempotency.Replay):
        return _created(outcome.body, replayed=True)
    if isinstance(outcome, idempotency.InFlight):
        raise Problem(409, "A request with this Idempotency-Key is still being handled; "
                           "retry shortly.", title="Request in flight")
    raise Problem(422, "This Idempotency-Key was used for a different request body.",
                  title="Idempotency-Key reused",
                  errors=[{"loc": ["header", "Idempotency-Key"],
                           "msg": "already used with another body"}])


def _created(body: str, *, replayed: bool = False) -> Response:
    location = json.loads(body)["links"]["self"]
    headers = {"Location": location}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.get("/{referral_id}", response_model=ReferralFullView | ReferralLimitedView,
            responses={404: {"description": "No such referral, or not yours to see"}})
async def read_referral(referral_id: str, caller: ReferralReader, uow: UnitOfWorkDep,
                        response: Response, purpose: PurposeHeader = None,
                        ) -> ReferralFullView | ReferralLimitedView:
    """One referral: MASH staff see it all, with its chronology and an ETag to send back
    as If-Match with a change; the referring agency sees where it stands."""
    found = await service.read_referral(uow, referral_id, caller,
                                        purpose or service.default_purpose(caller))
    if found is None:
        raise Problem(404, "No such referral.")
    referral, subjects = found
    chronology = await workflow.timeline(uow, referral.id) if is_mash_staff(caller) else []
    matches = await people_index.matches_of(uow, referral.id) if is_mash_staff(caller) else {}
    await uow.commit()  # the audit entry of this read
    links = ReferralLinks(self=service.referral_path(referral.id))
    if not is_mash_staff(caller):
        return ReferralLimitedView(
            id=referral.id, reference=referral.reference, status=referral.status,
            kind=referral.kind, external_reference=referral.external_reference,
            received_at=referral.received_at, outcome=referral.outcome,
            decided_at=referral.decided_at, links=links)
    response.headers["ETag"] = workflow.etag(referral)
    return ReferralFullView(
        id=referral.id, reference=referral.reference, status=referral.status,
        kind=referral.kind, source=referral.source,
        source_description=REFERRAL_SOURCES.get(referral.source, ""),
        immediate_risk=referral.immediate_risk, rag=referral.rag,
        concerns=ConcernView.of(referral.concerns),
        referrer=referral.referrer, referring_agency_id=referral.referring_agency_id,
        consent={"status": referral.consent_status, "reason": referral.consent_reason},
        summary=referral.summary, external_reference=referral.external_reference,
        subjects=[_subject_view(s, matches.get(s.id)) for s in subjects],
        received_at=referral.received_at,
        outcome=referral.outcome, decided_at=referral.decided_at,
        decided_by=referral.decided_by, decision_rationale=referral.decision_rationale,
        signed_off_by=referral.signed_off_by, rag_rationale=referral.rag_rationale,
        response_due_at=referral.response_due_at, decision_due_at=referral.decision_due_at,
        decision_overdue=referral.decision_overdue_at is not None,
        same_day_as=referral.same_day_as, is_re_referral=referral.is_re_referral,
        version=referral.version, links=links,
        timeline=[TimelineView.model_validate(t.model_dump()) for t in chronology])


def _subject_view(subject: ReferralSubject, indexed: SubjectDetails | None) -> SubjectView:
    view = SubjectView.model_validate(subject.model_dump())
    if indexed is not None:
        view.person_id = indexed.person_id
        view.match = SubjectMatch(status=indexed.match_status,
                                  review_id=indexed.review_id)
    return view


@router.get("", response_model=ReferralPage)
async def list_referrals(
    caller: ReferralReader, uow: UnitOfWorkDep, request: Request,
    status: str | None = None,
    rag: Literal["red", "amber", "green"] | None = None,
    source: str | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=100, description=(
        "a reference, your own reference, or (MASH staff) a name, NHS number or UPN"))] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    purpose: PurposeHeader = None,
) -> ReferralPage:
    """Referrals newest first: all of them for MASH staff, your agency's for partners."""
    after = None
    if cursor:
        at, last_id = decode_cursor(cursor, 2)
        after = (datetime.fromisoformat(at), str(last_id))
    filters = service.ReferralFilters(status=status, rag=rag, source=source,
                                      received_from=received_from, received_to=received_to,
                                      q=q)
    referrals = await service.list_referrals(uow, caller, filters, after, limit + 1,
                                             purpose or service.default_purpose(caller))
    await uow.commit()
    page, more = referrals[:limit], len(referrals) > limit
    next_link = None
    if more:
        last = page[-1]
        next_link = str(request.url.include_query_params(
            cursor=encode_cursor(last.received_at.isoformat(), last.id)))
    items = [ReferralListItem(
        id=r.id, reference=r.reference, status=r.status, kind=r.kind, source=r.source,
        immediate_risk=r.immediate_risk, rag=r.rag, external_reference=r.external_reference,
        referring_agency_id=r.referring_agency_id, received_at=r.received_at,
        outcome=r.outcome, links=ReferralLinks(self=service.referral_path(r.id)),
    ) for r in page]
    return ReferralPage(items=items, links=PageLinks(next=next_link))


@audit_router.get("", response_model=AuditPage)
async def read_audit_log(
    _: AuditReader, uow: UnitOfWorkDep, request: Request,
    record_id: str | None = None, actor: str | None = None, action: str | None = None,
    at_from: datetime | None = None, at_to: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """Who read or changed which record, when and why; newest first."""
    before = int(decode_cursor(cursor, 1)[0]) if cursor else None
    filters = service.AuditFilters(record_id=record_id, actor=actor, action=action,
                                   at_from=at_from, at_to=at_to)
    entries = await service.audit_entries(uow, filters, before, limit + 1)
    page, more = entries[:limit], len(entries) > limit
    next_link = str(request.url.include_query_params(cursor=encode_cursor(page[-1].seq))) \
        if more else None
    return AuditPage(items=[AuditEntryView.model_validate(e.model_dump()) for e in page],
                     links=PageLinks(next=next_link))

