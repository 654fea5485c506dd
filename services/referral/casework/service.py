"""Case notes and strategy discussions: added through the workflow's ``transition`` (a new
version of the referral, a line in its chronology, an audit entry), never changed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select

from services.referral.casework.models import CaseNote, StrategyDiscussion
from services.referral.referrals.models import Referral
from services.referral.staff import staff_entry
from services.referral.workflow.lifecycle import ReferralAction, next_status
from services.referral.workflow.service import transition
from shared.agencies import agency_entry
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidValue, NotAllowed
from shared.events import utcnow
from shared.roles import Role

MANAGER_ONLY_KINDS = frozenset({"management_oversight"})
CLOCK_SLACK = timedelta(minutes=5)  # a device's clock a little ahead of the hub's


async def _name_of(uow: UnitOfWork, who: Principal) -> str | None:
    entry = await staff_entry(uow, who.subject)
    return entry.display_name if entry is not None else None


async def add_note(uow: UnitOfWork, referral: Referral, who: Principal, kind: str,
                   text: str) -> CaseNote:
    """Add a case note; a management oversight note only from a MASH manager."""
    next_status(ReferralAction.ADD_NOTE, referral.status)
    if kind in MANAGER_ONLY_KINDS and not who.has_any_role([Role.MASH_MANAGER]):
        raise NotAllowed("Only a MASH manager records management oversight.")
    note = CaseNote(referral_id=referral.id, kind=kind, text=text, author_id=who.subject,
                    author_name=await _name_of(uow, who), created_at=utcnow())

    def write(now: datetime) -> Mapping[str, Any]:
        note.created_at = now
        uow.session.add(note)
        return {"note_id": note.id, "kind": kind, "text": text}

    await transition(uow, referral, who, ReferralAction.ADD_NOTE, what="note",
                     purpose="case_recording", change=write)
    return note


async def notes(uow: UnitOfWork, referral_id: str) -> list[CaseNote]:
    """A referral's notes, oldest first."""
    return list((await uow.session.exec(
        select(CaseNote).where(CaseNote.referral_id == referral_id)
        .order_by(col(CaseNote.created_at), col(CaseNote.id)))).all())


async def _check_agencies(uow: UnitOfWork, places: Sequence[tuple[list[Any], str]]) -> None:
    errors = []
    for loc, agency_id in places:
        entry = await agency_entry(uow, agency_id)
        if entry is None or not entry.active:
            errors.append({"loc": loc, "msg": "not an agency the hub knows"})
    if errors:
        raise InvalidValue("Name each agency from the agency directory.", errors=errors)


async def record_strategy_discussion(uow: UnitOfWork, referral: Referral, who: Principal,
                                     body: Mapping[str, Any]) -> StrategyDiscussion:
    """Record a strategy discussion held about the referral (``body`` as validated:
    held_at, attendees, outcome, reasons, actions); every agency must be known."""
    next_status(ReferralAction.RECORD_STRATEGY_DISCUSSION, referral.status)
    now = utcnow()
    if body["held_at"] > now + CLOCK_SLACK:
        raise InvalidValue("held_at is in the future.", errors=[
            {"loc": ["body", "held_at"], "msg": "must not be in the future"}])
    await _check_agencies(uow, [
        *((["body", "attendees", i, "agency_id"], a["agency_id"])
          for i, a in enumerate(body["attendees"])),
        *((["body", "actions", i, "agency_id"], a["agency_id"])
          for i, a in enumerate(body["actions"]))])
    discussion = StrategyDiscussion(
        referral_id=referral.id, held_at=body["held_at"], attendees=body["attendees"],
        outcome=body["outcome"], reasons=body["reasons"],
        actions=[{**action, "due_at": action["due_at"].isoformat()}
                 for action in body["actions"]],
        recorded_by=who.subject, recorded_by_name=await _name_of(uow, who), created_at=now)

    def write(at: datetime) -> Mapping[str, Any]:
        discussion.created_at = at
        uow.session.add(discussion)
        return {"strategy_discussion_id": discussion.id, "outcome": discussion.outcome,
                "held_at": discussion.held_at.isoformat(),
                "agencies": sorted({a["agency_id"] for a in discussion.attendees})}

    await transition(uow, referral, who, ReferralAction.RECORD_STRATEGY_DISCUSSION,
                     what="strategy_discussion", purpose="case_recording", change=write)
    return discussion


async def strategy_discussions(uow: UnitOfWork, referral_id: str) -> list[StrategyDiscussion]:
    """A referral's strategy discussions, oldest first."""
    return list((await uow.session.exec(
        select(StrategyDiscussion).where(StrategyDiscussion.referral_id == referral_id)
        .order_by(col(StrategyDiscussion.created_at), col(StrategyDiscussion.id)))).all())
