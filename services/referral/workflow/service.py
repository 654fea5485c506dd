"""The MASH workflow: triage, information requests, decisions, reopening, closing.

Every change to a referral goes through ``transition``: the lifecycle's table says whether
the action may start from the referral's status (InvalidTransition otherwise), the version
the caller last saw must still be the current one (StaleVersion: the ETag), and the
chronology, the audit entry and the event are written with the change, in the caller's
unit of work. Refusals are domain errors; the HTTP edge answers them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select, update

from services.referral.audit import service as audit
from services.referral.events import (
    InformationRequestAnswered,
    InformationRequestCreated,
    ReferralAssigned,
    ReferralAwaitingApproval,
    ReferralDecided,
    ReferralServiceEvent,
    ReferralTriaged,
)
from services.referral.permissions import is_mash_staff
from services.referral.referrals.models import Referral
from services.referral.staff import staff_entry
from services.referral.workflow.lifecycle import (
    MANAGER_OUTCOMES,
    InformationRequestAction,
    ReferralAction,
    next_request_status,
    next_status,
    urgency,
)
from services.referral.workflow.models import InformationRequest, TimelineEntry
from services.referral.workflow.working_time import WorkingCalendar
from shared.agencies import agency_entry
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidValue, NotAllowed, NotFound, StaleVersion, VersionRequired
from shared.events import utcnow
from shared.outbox import add_to_outbox
from shared.pagination import after as keyset_after
from shared.roles import Role
from shared.rows import Rows


def etag(referral: Referral) -> str:
    """The referral's version as an HTTP entity tag."""
    return f'"{referral.version}"'


def _stale() -> StaleVersion:
    return StaleVersion("The referral has changed since you read it. Reload it, check what "
                        "changed, and make your change again.")


async def load_for_change(uow: UnitOfWork, referral_id: str, if_match: str | None, *,
                          required: bool = True) -> Referral:
    """The referral to change, if the caller saw its current version (If-Match)."""
    referral = await uow.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound("No such referral.")
    if if_match is None:
        if required:
            raise VersionRequired("Send If-Match with the ETag of the referral you read, so "
                                  "nobody's change is overwritten unseen.")
        return referral
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and etag(referral) not in tags:
        raise _stale()
    return referral


async def _bump_version(uow: UnitOfWork, referral: Referral) -> None:
    """Claim the next version; someone else's change committed in between is stale."""
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


def record_received(rows: Rows, referral: Mapping[str, Any], submitter: Principal, *,
                    on_behalf: bool = False) -> None:
    """The first line of a referral's chronology (a row of a referral being written); it
    says so when MASH staff recorded it for another kind of referrer."""
    rows.add(TimelineEntry, **_timeline_values(
        referral["id"], "received", submitter, kind=referral["kind"],
        immediate_risk=referral["immediate_risk"] or None, rag=referral["rag"],
        recorded_by_mash_for_source=referral["source"] if on_behalf else None))


def record_child_facts(rows: Rows, referral: Mapping[str, Any], submitter: Principal,
                       children: list[dict[str, Any]]) -> None:
    """A chronology line for what the referrer said of the children's placement (looked
    after, placed in or out of area) and child protection plans, when they said anything."""
    if children:
        rows.add(TimelineEntry, **_timeline_values(
            referral["id"], "children_status_recorded", submitter, children=children))


async def transition(uow: UnitOfWork, referral: Referral, who: Principal,
                     action: ReferralAction, *, what: str, purpose: str,
                     change: Callable[[datetime], Mapping[str, Any]],
                     event: Callable[[], ReferralServiceEvent] | None = None) -> None:
    """Make one change to a referral: its next status from the lifecycle, a new version,
    ``change(now)`` applied (it returns the chronology's detail), then the chronology line
    ``what``, the audit entry (with ``purpose``) and ``event`` for the outbox."""
    status = next_status(action, referral.status)
    await _bump_version(uow, referral)
    detail = change(utcnow())
    referral.status = status
    uow.session.add(referral)
    _timeline(uow, referral.id, what, who, **detail)
    await audit.record(uow, who, action, "referral", referral.id, purpose)
    if event is not None:
        add_to_outbox(uow, event().cloud_event())


async def triage(uow: UnitOfWork, referral: Referral, who: Principal, rag: str,
                 rationale: str, calendar: WorkingCalendar) -> Referral:
    """Rate a referral red, amber or green; this sets the partner and decision deadlines."""
    def rate(now: datetime) -> Mapping[str, Any]:
        referral.rag, referral.rag_rationale = rag, rationale
        referral.urgency = urgency(referral.immediate_risk, rag)
        referral.triaged_at, referral.triaged_by = now, who.subject
        referral.response_due_at = calendar.response_due(now, rag)
        referral.decision_due_at = calendar.decision_due(referral.received_at, rag)
        if referral.decision_due_at > now:
            referral.decision_overdue_at = None  # a deadline still ahead gets its own notice
        return {"rag": rag, "rationale": rationale}

    def triaged() -> ReferralTriaged:
        assert referral.response_due_at and referral.decision_due_at
        return ReferralTriaged(
            referral_id=referral.id, reference=referral.reference, status=referral.status,
            rag=rag, sequence=referral.version,
            response_due_at=referral.response_due_at.isoformat(),
            decision_due_at=referral.decision_due_at.isoformat())

    await transition(uow, referral, who, ReferralAction.TRIAGE, what="triaged",
                     purpose="triage", change=rate, event=triaged)
    return referral


async def request_information(uow: UnitOfWork, referral: Referral, who: Principal,
                              agency_id: str, question: str, due_at: datetime | None,
                              calendar: WorkingCalendar, legal_basis: str | None = None
                              ) -> InformationRequest:
    """Ask a partner agency a question; it is due by the referral's RAG response time."""
    next_status(ReferralAction.REQUEST_INFORMATION, referral.status)  # refused before checks
    now = utcnow()
    if due_at is not None and due_at <= now:
        raise InvalidValue("due_at must be in the future.",
                           errors=[{"loc": ["body", "due_at"], "msg": "must be in the future"}])
    if due_at is None:  # in the partner's own working hours (a school's: school hours)
        entry = await agency_entry(uow, agency_id)
        due_at = calendar.for_agency(entry.kind if entry else None).response_due(
            now, referral.rag or "green")
    request = InformationRequest(
        referral_id=referral.id, agency_id=agency_id, question=question, due_at=due_at,
        created_by=who.subject, created_at=now, legal_basis=legal_basis)

    def ask(_now: datetime) -> Mapping[str, Any]:
        uow.session.add(request)
        return {"agency_id": agency_id, "information_request_id": request.id,
                "due_at": request.due_at.isoformat()}

    def created() -> InformationRequestCreated:
        return InformationRequestCreated(
            information_request_id=request.id, agency_id=agency_id, status=request.status,
            due_at=request.due_at.isoformat())

    await transition(uow, referral, who, ReferralAction.REQUEST_INFORMATION,
                     what="information_requested", purpose="triage", change=ask, event=created)
    return request


def addressed_to(reader: Principal) -> ColumnElement[bool]:
    """The information requests ``reader`` may read: every one for MASH staff, those
    addressed to a partner's agency for a partner."""
    if is_mash_staff(reader):
        return true()
    return col(InformationRequest.agency_id) == reader.agency_id


def may_read_request(reader: Principal, request: InformationRequest) -> bool:
    """Whether ``reader`` may read this request (the rule of ``addressed_to``)."""
    return is_mash_staff(reader) or request.agency_id == reader.agency_id


async def information_request_for(uow: UnitOfWork, request_id: str,
                                  who: Principal) -> InformationRequest | None:
    """A request the caller may see: MASH staff any, a partner those addressed to it."""
    request = await uow.session.get(InformationRequest, request_id)
    if request is None or not may_read_request(who, request):
        await audit.record_refusal(uow, who, "information_request", request_id,
                                   "information_sharing")
        return None
    return request


async def information_requests(uow: UnitOfWork, who: Principal, status: str | None,
                               after: tuple[datetime, str] | None,
                               limit: int) -> list[InformationRequest]:
    """Requests the caller may see, newest first."""
    query = select(InformationRequest).where(addressed_to(who))
    if status:
        query = query.where(InformationRequest.status == status)
    if after is not None:
        query = query.where(keyset_after(
            [col(InformationRequest.created_at), col(InformationRequest.id)], after,
            descending=True))
    query = query.order_by(col(InformationRequest.created_at).desc(),
                           col(InformationRequest.id).desc()).limit(limit)
    return list((await uow.session.exec(query)).all())


async def answer(uow: UnitOfWork, request: InformationRequest, who: Principal,
                 text: str) -> InformationRequest:
    """The addressed agency answers; MASH staff are told."""
    if request.agency_id != who.agency_id:
        raise NotFound("No such information request.")
    request.status = next_request_status(InformationRequestAction.ANSWER, request.status)
    request.answer = text
    request.answered_by, request.answered_at = who.subject, utcnow()
    uow.session.add(request)
    _timeline(uow, request.referral_id, "information_answered", who,
              information_request_id=request.id)
    await audit.record(uow, who, "answer_information_request", "referral",
                       request.referral_id, "information_sharing")
    add_to_outbox(uow, InformationRequestAnswered(
        information_request_id=request.id, agency_id=request.agency_id, status=request.status,
        referral_id=request.referral_id).cloud_event())
    return request


async def withdraw(uow: UnitOfWork, request: InformationRequest,
                   who: Principal) -> InformationRequest:
    """MASH staff withdraw a question that is no longer needed."""
    request.status = next_request_status(InformationRequestAction.WITHDRAW, request.status)
    request.withdrawn_at = utcnow()
    uow.session.add(request)
    _timeline(uow, request.referral_id, "information_withdrawn", who,
              information_request_id=request.id)
    await audit.record(uow, who, "withdraw_information_request", "referral",
                       request.referral_id, "triage")
    return request


def _decided_event(referral: Referral) -> ReferralDecided:
    assert referral.decided_at is not None and referral.outcome is not None
    return ReferralDecided(
        referral_id=referral.id, reference=referral.reference, status=referral.status,
        outcome=referral.outcome, decided_at=referral.decided_at.isoformat(),
        referring_agency_id=referral.referring_agency_id, sequence=referral.version)


async def decide(uow: UnitOfWork, referral: Referral, who: Principal, outcome: str,
                 rationale: str, primary_need: str | None = None) -> Referral:
    """Record the decision. A strategy discussion or immediate protection is a MASH
    manager's: a manager decides it at once; a practitioner's waits for a manager's
    approval (awaiting_approval; see ``approve``)."""
    if outcome in MANAGER_OUTCOMES and not who.has_any_role([Role.MASH_MANAGER]):
        return await _propose(uow, referral, who, outcome, rationale, primary_need)

    def record(now: datetime) -> Mapping[str, Any]:
        referral.outcome, referral.decision_rationale = outcome, rationale
        referral.decided_at, referral.decided_by = now, who.subject
        referral.signed_off_by = referral.approved_by = referral.approved_by_name = None
        referral.primary_need = primary_need
        return {"outcome": outcome, "rationale": rationale, "primary_need": primary_need}

    await transition(uow, referral, who, ReferralAction.DECIDE, what="decided",
                     purpose="decision", change=record,
                     event=lambda: _decided_event(referral))
    return referral


async def _propose(uow: UnitOfWork, referral: Referral, who: Principal, outcome: str,
                   rationale: str, primary_need: str | None) -> Referral:
    def propose(now: datetime) -> Mapping[str, Any]:
        referral.proposed_outcome, referral.proposed_rationale = outcome, rationale
        referral.proposed_by, referral.proposed_at = who.subject, now
        referral.primary_need = primary_need  # the census's, once approved
        return {"outcome": outcome, "rationale": rationale, "primary_need": primary_need}

    def waiting() -> ReferralAwaitingApproval:
        return ReferralAwaitingApproval(
            referral_id=referral.id, reference=referral.reference, status=referral.status,
            outcome=outcome, sequence=referral.version)

    await transition(uow, referral, who, ReferralAction.PROPOSE_DECISION,
                     what="awaiting_approval", purpose="decision", change=propose,
                     event=waiting)
    return referral


def _clear_proposal(referral: Referral) -> None:
    referral.proposed_outcome = referral.proposed_rationale = None
    referral.proposed_by = referral.proposed_at = None


async def approve(uow: UnitOfWork, referral: Referral, who: Principal, approve: bool,
                  comment: str | None) -> Referral:
    """A MASH manager (the caller, from their token) approves the decision waiting for
    approval, which makes it (the referrer is told), or returns it to triage with a
    comment."""
    if not who.has_any_role([Role.MASH_MANAGER]):
        raise NotAllowed("Only a MASH manager approves a decision.")
    if not approve:
        if not comment:
            raise InvalidValue("Say why the decision is returned.", errors=[
                {"loc": ["body", "comment"], "msg": "say why the decision is returned"}])
        proposed = referral.proposed_outcome

        def send_back(_now: datetime) -> Mapping[str, Any]:
            by = referral.proposed_by
            _clear_proposal(referral)
            referral.primary_need = None
            return {"outcome": proposed, "comment": comment, "proposed_by": by}

        await transition(uow, referral, who, ReferralAction.RETURN_DECISION,
                         what="approval_refused", purpose="decision", change=send_back)
        return referral
    entry = await staff_entry(uow, who.subject)

    def record(now: datetime) -> Mapping[str, Any]:
        assert referral.proposed_outcome is not None
        referral.outcome = referral.proposed_outcome
        referral.decision_rationale = referral.proposed_rationale
        referral.decided_at, referral.decided_by = now, referral.proposed_by
        referral.approved_by = who.subject
        referral.approved_by_name = entry.display_name if entry is not None else None
        referral.signed_off_by = None
        detail = {"outcome": referral.outcome, "rationale": referral.decision_rationale,
                  "proposed_by": referral.proposed_by, "approved_by": who.subject,
                  "comment": comment}
        _clear_proposal(referral)
        return detail

    await transition(uow, referral, who, ReferralAction.APPROVE_DECISION, what="decided",
                     purpose="decision", change=record,
                     event=lambda: _decided_event(referral))
    return referral


async def assign(uow: UnitOfWork, referral: Referral, who: Principal,
                 user_id: str | None) -> Referral:
    """Allocate the referral to an active member of MASH staff (the caller, or a
    colleague the staff directory knows), or to nobody (``user_id`` None)."""
    next_status(ReferralAction.ASSIGN, referral.status)  # refused before the checks
    name: str | None = None
    if user_id is not None:
        entry = await staff_entry(uow, user_id)
        if user_id != who.subject and (entry is None or not entry.is_active_mash_staff):
            raise InvalidValue("Allocate the referral to an active member of MASH staff.",
                               errors=[{"loc": ["body", "user_id"],
                                        "msg": "not an active member of MASH staff"}])
        name = entry.display_name if entry is not None else None
    previous = referral.assignee_id

    def allocate(now: datetime) -> Mapping[str, Any]:
        referral.assignee_id, referral.assignee_name = user_id, name
        referral.assigned_at = now if user_id is not None else None
        return {"assignee_id": user_id, "assignee_name": name,
                "previous_assignee_id": previous}

    def assigned() -> ReferralAssigned:
        return ReferralAssigned(referral_id=referral.id, assignee_id=user_id,
                                sequence=referral.version)

    await transition(uow, referral, who, ReferralAction.ASSIGN,
                     what="assigned" if user_id else "unassigned", purpose="allocation",
                     change=allocate, event=assigned)
    return referral


async def reopen(uow: UnitOfWork, referral: Referral, who: Principal, reason: str,
                 calendar: WorkingCalendar) -> Referral:
    """Take a decided or closed referral back to triage, with the reason on record."""
    def undecide(now: datetime) -> Mapping[str, Any]:
        previous = referral.outcome
        referral.outcome = None
        referral.decided_at = referral.decided_by = referral.decision_rationale = None
        referral.signed_off_by = referral.approved_by = referral.approved_by_name = None
        referral.primary_need = None
        referral.decision_due_at = calendar.decision_due(now, referral.rag)
        referral.decision_overdue_at = None
        return {"reason": reason, "previous_outcome": previous}

    await transition(uow, referral, who, ReferralAction.REOPEN, what="reopened",
                     purpose=reason[:100], change=undecide)
    return referral


async def close(uow: UnitOfWork, referral: Referral, who: Principal) -> Referral:
    """Close a decided referral."""
    await transition(uow, referral, who, ReferralAction.CLOSE, what="closed",
                     purpose="decision", change=lambda _now: {})
    return referral


async def timeline(uow: UnitOfWork, referral_id: str) -> list[TimelineEntry]:
    """What happened to a referral, oldest first."""
    result = await uow.session.exec(select(TimelineEntry)
                                    .where(TimelineEntry.referral_id == referral_id)
                                    .order_by(col(TimelineEntry.at), col(TimelineEntry.id)))
    return list(result.all())
