"""The MASH workflow: triage, information requests, decisions, reopening, closing.

Statuses: received -> triaged -> awaiting_information -> decided -> closed. Every change
checks the status it starts from (409 otherwise), the version the caller last saw (the
ETag: 412 when stale), and writes the chronology, the audit and an event together."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlmodel import col, select, update

from services.referral import events
from services.referral.audit import service as audit
from services.referral.permissions import is_mash_staff
from services.referral.referrals.models import Referral
from services.referral.settings import HubSettings
from services.referral.workflow.lifecycle import MANAGER_OUTCOMES, OPEN_STATUSES
from services.referral.workflow.models import InformationRequest, TimelineEntry
from services.referral.workflow.working_time import WorkingCalendar
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.outbox import add_to_outbox
from shared.problems import Problem
from shared.roles import Role
from shared.rows import Rows


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The hub's calendar from the environment (MASH_ settings)."""
    return WorkingCalendar(HubSettings())


def etag(referral: Referral) -> str:
    """The referral's version as an HTTP entity tag."""
    return f'"{referral.version}"'


def _conflict(detail: str) -> Problem:
    return Problem(409, detail, title="Not possible in this status",
                   type_="https://mash.example/problems/invalid-transition")


def _stale() -> Problem:
    return Problem(412, "The referral has changed since you read it. Reload it, check what "
                        "changed, and make your change again.", title="Changed by someone else",
                   type_="https://mash.example/problems/stale-version")


async def load_for_change(uow: UnitOfWork, referral_id: str, if_match: str | None, *,
                          required: bool = True) -> Referral:
    """The referral to change, if the caller saw its current version (If-Match)."""
    referral = await uow.session.get(Referral, referral_id)
    if referral is None:
        raise Problem(404, "No such referral.")
    if if_match is None:
        if required:
            raise Problem(428, "Send If-Match with the ETag of the referral you read, so "
                               "nobody's change is overwritten unseen.",
                          title="If-Match required")
        return referral
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and etag(referral) not in tags:
        raise _stale()
    return referral


async def _bump_version(uow: UnitOfWork, referral: Referral) -> None:
    """Claim the next version; someone else's change committed in between is a 412."""
    result = await uow.session.exec(
        update(Referral).where(col(Referral.id) == referral.id,
                               col(Referral.version) == referral.version)
        .values(version=referral.version + 1)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise _stale()
    referral.version += 1


def _timeline_values(referral_id: str, what: str, who: Principal | None,
                     **detail: Any) -> dict[str, Any]:
    return {"referral_id": referral_id, "at": utcnow(), "what": what,
            "actor": who.subject if who else None, "agency_id": who.agency_id if who else None,
            "detail": {k: v for k, v in detail.items() if v is not None}}


def _timeline(uow: UnitOfWork, referral_id: str, what: str, who: Principal | None,
              **detail: Any) -> None:
    uow.session.add(TimelineEntry(**_timeline_values(referral_id, what, who, **detail)))


def record_received(rows: Rows, referral: Mapping[str, Any], submitter: Principal) -> None:
    """The first line of a referral's chronology (a row of a referral being written)."""
    rows.add(TimelineEntry, **_timeline_values(
        referral["id"], "received", submitter, kind=referral["kind"],
        immediate_risk=referral["immediate_risk"] or None, rag=referral["rag"]))


async def triage(uow: UnitOfWork, referral: Referral, who: Principal, rag: str,
                 rationale: str, calendar: WorkingCalendar) -> Referral:
    """Rate a referral red, amber or green; this sets the partner and decision deadlines."""
    if referral.status not in OPEN_STATUSES:
        raise _conflict(f"A {referral.status} referral cannot be triaged; reopen it first.")
    await _bump_version(uow, referral)
    now = utcnow()
    referral.rag, referral.rag_rationale = rag, rationale
    referral.triaged_at, referral.triaged_by = now, who.subject
    referral.response_due_at = calendar.response_due(now, rag)
    referral.decision_due_at = calendar.decision_due(referral.received_at, rag)
    if referral.decision_due_at > now:
        referral.decision_overdue_at = None  # a deadline still ahead gets its own notice
    if referral.status == "received":
        referral.status = "triaged"
    uow.session.add(referral)
    _timeline(uow, referral.id, "triaged", who, rag=rag, rationale=rationale)
    await audit.record(uow, who, "triage", "referral", referral.id, "triage")
    add_to_outbox(uow, events.referral_changed(events.REFERRAL_TRIAGED, referral.id, {
        "reference": referral.reference, "status": referral.status, "rag": rag,
        "sequence": referral.version,
        "response_due_at": referral.response_due_at.isoformat(),
        "decision_due_at": referral.decision_due_at.isoformat()}))
    return referral


async def request_information(uow: UnitOfWork, referral: Referral, who: Principal,
                              agency_id: str, question: str, due_at: datetime | None,
                              calendar: WorkingCalendar) -> InformationRequest:
    """Ask a partner agency a question; it is due by the referral's RAG response time."""
    if referral.status not in ("triaged", "awaiting_information"):
        raise _conflict("Triage the referral before asking partners for information."
                        if referral.status == "received"
                        else f"A {referral.status} referral takes no new requests.")
    now = utcnow()
    if due_at is not None and due_at <= now:
        raise Problem(422, "due_at must be in the future.", title="Validation failed",
                      errors=[{"loc": ["body", "due_at"], "msg": "must be in the future"}])
    await _bump_version(uow, referral)
    request = InformationRequest(
        referral_id=referral.id, agency_id=agency_id, question=question,
        due_at=due_at or calendar.response_due(now, referral.rag or "green"),
        created_by=who.subject, created_at=now)
    uow.session.add(request)
    referral.status = "awaiting_information"
    uow.session.add(referral)
    _timeline(uow, referral.id, "information_requested", who, agency_id=agency_id,
              information_request_id=request.id, due_at=request.due_at.isoformat())
    await audit.record(uow, who, "request_information", "referral", referral.id, "triage")
    add_to_outbox(uow, events.information_request(
        events.REQUEST_CREATED, request.id, agency_id,
        {"status": request.status, "due_at": request.due_at.isoformat()}))
    return request


async def information_request_for(uow: UnitOfWork, request_id: str,
                                  who: Principal) -> InformationRequest | None:
    """A request the caller may see: MASH staff any, a partner those addressed to it."""
    request = await uow.session.get(InformationRequest, request_id)
    if request is None or not (is_mash_staff(who) or request.agency_id == who.agency_id):
        return None
    return request


async def information_requests(uow: UnitOfWork, who: Principal, status: str | None,
                               after: tuple[datetime, str] | None,
                               limit: int) -> list[InformationRequest]:
    """Requests the caller may see, newest first."""
    query = select(InformationRequest)
    if not is_mash_staff(who):
        query = query.where(InformationRequest.agency_id == who.agency_id)
    if status:
        query = query.where(InformationRequest.status == status)
    if after is not None:
        at, last_id = after
        query = query.where((col(InformationRequest.created_at) < at)
                            | ((col(InformationRequest.created_at) == at)
                               & (col(InformationRequest.id) < last_id)))
    query = query.order_by(col(InformationRequest.created_at).desc(),
                           col(InformationRequest.id).desc()).limit(limit)
    return list((await uow.session.exec(query)).all())


async def answer(uow: UnitOfWork, request: InformationRequest, who: Principal,
                 text: str) -> InformationRequest:
    """The addressed agency answers; MASH staff are told."""
    if request.agency_id != who.agency_id:
        raise Problem(404, "No such information request.")
    if request.status not in ("open", "overdue"):
        raise _conflict(f"This request is {request.status}; it takes no answer.")
    request.status, request.answer = "answered", text
    request.answered_by, request.answered_at = who.subject, utcnow()
    uow.session.add(request)
    _timeline(uow, request.referral_id, "information_answered", who,
              information_request_id=request.id)
    await audit.record(uow, who, "answer_information_request", "referral",
                       request.referral_id, "information_sharing")
    add_to_outbox(uow, events.information_request(
        events.REQUEST_ANSWERED, request.id, request.agency_id,
        {"status": request.status, "referral_id": request.referral_id}))
    return request


async def withdraw(uow: UnitOfWork, request: InformationRequest,
                   who: Principal) -> InformationRequest:
    """MASH staff withdraw a question that is no longer needed."""
    if request.status not in ("open", "overdue"):
        raise _conflict(f"This request is {request.status}; it cannot be withdrawn.")
    request.status, request.withdrawn_at = "withdrawn", utcnow()
    uow.session.add(request)
    _timeline(uow, request.referral_id, "information_withdrawn", who,
              information_request_id=request.id)
    await audit.record(uow, who, "withdraw_information_request", "referral",
                       request.referral_id, "triage")
    return request


async def decide(uow: UnitOfWork, referral: Referral, who: Principal, outcome: str,
                 rationale: str, signed_off_by: str | None) -> Referral:
    """Record the decision; strategy discussions and immediate protection need a manager."""
    if referral.status not in ("triaged", "awaiting_information"):
        raise _conflict("Triage the referral before deciding." if referral.status == "received"
                        else f"A {referral.status} referral is already decided; reopen it "
                             "to decide again.")
    is_manager = who.has_any_role([Role.MASH_MANAGER])
    if outcome in MANAGER_OUTCOMES and not is_manager and not signed_off_by:
        raise Problem(403, f"A {outcome.replace('_', ' ')} needs a MASH manager's decision "
                           "or their recorded sign-off (signed_off_by).", title="Forbidden")
    await _bump_version(uow, referral)
    now = utcnow()
    referral.status, referral.outcome, referral.decision_rationale = "decided", outcome, rationale
    referral.decided_at, referral.decided_by = now, who.subject
    referral.signed_off_by = None if is_manager else signed_off_by
    uow.session.add(referral)
    _timeline(uow, referral.id, "decided", who, outcome=outcome, rationale=rationale,
              signed_off_by=referral.signed_off_by)
    await audit.record(uow, who, "decide", "referral", referral.id, "decision")
    add_to_outbox(uow, events.referral_changed(events.REFERRAL_DECIDED, referral.id, {
        "reference": referral.reference, "status": referral.status, "outcome": outcome,
        "decided_at": now.isoformat(), "referring_agency_id": referral.referring_agency_id,
        "sequence": referral.version}))
    return referral


async def reopen(uow: UnitOfWork, referral: Referral, who: Principal, reason: str,
                 calendar: WorkingCalendar) -> Referral:
    """Take a decided or closed referral back to triage, with the reason on record."""
    if referral.status not in ("decided", "closed"):
        raise _conflict(f"A {referral.status} referral is open already.")
    await _bump_version(uow, referral)
    now = utcnow()
    previous = referral.outcome
    referral.status, referral.outcome = "triaged", None
    referral.decided_at = referral.decided_by = referral.decision_rationale = None
    referral.signed_off_by = None
    referral.decision_due_at = calendar.decision_due(now, referral.rag)
    referral.decision_overdue_at = None
    uow.session.add(referral)
    _timeline(uow, referral.id, "reopened", who, reason=reason, previous_outcome=previous)
    await audit.record(uow, who, "reopen", "referral", referral.id, reason[:100])
    return referral


async def close(uow: UnitOfWork, referral: Referral, who: Principal) -> Referral:
    """Close a decided referral."""
    if referral.status != "decided":
        raise _conflict(f"Only a decided referral can be closed; this one is "
                        f"{referral.status}.")
    await _bump_version(uow, referral)
    referral.status = "closed"
    uow.session.add(referral)
    _timeline(uow, referral.id, "closed", who)
    await audit.record(uow, who, "close", "referral", referral.id, "decision")
    return referral


async def timeline(uow: UnitOfWork, referral_id: str) -> list[TimelineEntry]:
    """What happened to a referral, oldest first."""
    result = await uow.session.exec(select(TimelineEntry)
                                    .where(TimelineEntry.referral_id == referral_id)
                                    .order_by(col(TimelineEntry.at), col(TimelineEntry.id)))
    return list(result.all())
