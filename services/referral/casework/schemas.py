"""Bodies and views of case notes and strategy discussions."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from services.referral.casework.models import CaseNote, StrategyDiscussion
from services.referral.referrals.schemas import AssigneeView
from shared.schemas import Schema, StrictStripped

NoteKind = Literal["note", "phone_call", "meeting", "management_oversight"]
DiscussionOutcome = Literal["s47_enquiry", "no_s47", "further_information"]


class NoteCreate(StrictStripped):
    """A case note; ``management_oversight`` only from a MASH manager."""

    text: str = Field(min_length=1, max_length=20_000)
    kind: NoteKind = "note"


class NoteView(Schema):
    """A case note as written (notes are never edited, only added)."""

    id: str
    referral_id: str
    kind: NoteKind
    text: str
    author: AssigneeView = Field(description="who wrote it: their user id and name")
    created_at: datetime

    @classmethod
    def of(cls, note: CaseNote) -> NoteView:
        """The view of a stored note."""
        return cls(id=note.id, referral_id=note.referral_id, kind=note.kind,
                   text=note.text, created_at=note.created_at,
                   author=AssigneeView(id=note.author_id, display_name=note.author_name))


class NoteList(Schema):
    """A referral's case notes, oldest first."""

    items: list[NoteView]


class Attendee(StrictStripped):
    """Who took part, for which agency (by id, from the agency directory)."""

    agency_id: str = Field(min_length=1, max_length=36)
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=200)


class Action(StrictStripped):
    """An action agreed: what, which agency owns it, by when."""

    text: str = Field(min_length=1, max_length=2000)
    agency_id: str = Field(min_length=1, max_length=36)
    due_at: AwareDatetime


class StrategyDiscussionCreate(StrictStripped):
    """A strategy discussion held about the referral."""

    held_at: AwareDatetime = Field(description="when it was held (not in the future)")
    attendees: list[Attendee] = Field(min_length=1, max_length=50)
    outcome: DiscussionOutcome
    reasons: str = Field(min_length=1, max_length=20_000)
    actions: list[Action] = Field(default_factory=list, max_length=50)


class StrategyDiscussionView(Schema):
    """A strategy discussion as recorded."""

    id: str
    referral_id: str
    held_at: datetime
    attendees: list[Attendee]
    outcome: DiscussionOutcome
    reasons: str
    actions: list[Action]
    recorded_by: AssigneeView
    created_at: datetime

    @classmethod
    def of(cls, discussion: StrategyDiscussion) -> StrategyDiscussionView:
        """The view of a stored discussion."""
        return cls(
            id=discussion.id, referral_id=discussion.referral_id,
            held_at=discussion.held_at,
            attendees=[Attendee.model_validate(a) for a in discussion.attendees],
            outcome=discussion.outcome,
            reasons=discussion.reasons,
            actions=[Action.model_validate(a) for a in discussion.actions],
            recorded_by=AssigneeView(id=discussion.recorded_by,
                                     display_name=discussion.recorded_by_name),
            created_at=discussion.created_at)


class StrategyDiscussionList(Schema):
    """A referral's strategy discussions, oldest first."""

    items: list[StrategyDiscussionView]
