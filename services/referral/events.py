"""Events the referral service publishes, one class for each CloudEvents type of
CONTRACT.md: identifiers, status and links, never narrative."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from services.referral.links import (
    alert_path,
    information_request_path,
    match_review_path,
    missing_episode_path,
    referral_path,
)
from shared.events import CloudEvent

SOURCE = "/services/referral"
POLICE_SOURCE = "6"  # CIN census referral source: police


@dataclass(frozen=True, kw_only=True)
class ReferralServiceEvent:
    """What every event of this service has: a type, a subject and links."""

    type: ClassVar[str]

    @property
    def subject(self) -> str:
        """The id of the record the event is about."""
        raise NotImplementedError

    def links(self) -> dict[str, str]:
        """Where the record is read through the API."""
        raise NotImplementedError

    def data(self) -> dict[str, Any]:
        """The event's data: its fields, then its links."""
        return {**dataclasses.asdict(self), "links": self.links()}

    def cloud_event(self) -> CloudEvent:
        """The event as published."""
        return CloudEvent(source=SOURCE, type=self.type, subject=self.subject, data=self.data())


@dataclass(frozen=True, kw_only=True)
class ReferralEvent(ReferralServiceEvent):
    """An event about one referral."""

    referral_id: str

    @property
    def subject(self) -> str:
        return self.referral_id

    def links(self) -> dict[str, str]:
        return {"self": referral_path(self.referral_id)}


@dataclass(frozen=True, kw_only=True)
class ReferralReceived(ReferralEvent):
    """`mash.referral.received`: the referrer's acknowledgement; from the police, also the
    children's schools by URN (identifiers only), for Operation Encompass."""

    type: ClassVar[str] = "mash.referral.received"
    reference: str
    status: str
    kind: str
    received_at: str
    referring_agency_id: str
    source: str = ""
    sequence: int = 1  # a referral's events are numbered by its version; receipt is 1
    school_urns: Sequence[str] = ()

    def data(self) -> dict[str, Any]:
        data = super().data()
        urns = data.pop("school_urns")
        if self.source == POLICE_SOURCE and urns:
            data["school_urns"] = sorted(set(urns))
        return data


@dataclass(frozen=True, kw_only=True)
class ReferralTriaged(ReferralEvent):
    """`mash.referral.triaged`: rated red, amber or green, with the deadlines that sets.
    ``sequence`` is the referral's version after the change, so a consumer can put one
    referral's events back in order."""

    type: ClassVar[str] = "mash.referral.triaged"
    reference: str
    status: str
    rag: str
    sequence: int
    response_due_at: str
    decision_due_at: str


@dataclass(frozen=True, kw_only=True)
class ReferralDecided(ReferralEvent):
    """`mash.referral.decided`: the outcome, for the referrer."""

    type: ClassVar[str] = "mash.referral.decided"
    reference: str
    status: str
    outcome: str
    decided_at: str
    referring_agency_id: str
    sequence: int


@dataclass(frozen=True, kw_only=True)
class ReferralAssigned(ReferralEvent):
    """`mash.referral.assigned`: a referral was allocated to a member of staff (or no
    longer is: ``assignee_id`` null); ids only."""

    type: ClassVar[str] = "mash.referral.assigned"
    assignee_id: str | None
    sequence: int


@dataclass(frozen=True, kw_only=True)
class ReferralAwaitingApproval(ReferralEvent):
    """`mash.referral.awaiting_approval`: a practitioner's decision waits for a MASH
    manager; ids, status and the outcome's code only."""

    type: ClassVar[str] = "mash.referral.awaiting_approval"
    reference: str
    status: str
    outcome: str
    sequence: int


@dataclass(frozen=True, kw_only=True)
class DecisionOverdue(ReferralEvent):
    """`mash.referral.decision_overdue`: no decision by the deadline."""

    type: ClassVar[str] = "mash.referral.decision_overdue"
    reference: str
    status: str
    decision_due_at: str | None


@dataclass(frozen=True, kw_only=True)
class InformationRequestEvent(ReferralServiceEvent):
    """An event about a question to a partner: addressed to ``agency_id``; says no more than
    the request itself (the partner reads the question through the API)."""

    information_request_id: str
    agency_id: str
    status: str

    @property
    def subject(self) -> str:
        return self.information_request_id

    def links(self) -> dict[str, str]:
        return {"self": information_request_path(self.information_request_id)}


@dataclass(frozen=True, kw_only=True)
class InformationRequestCreated(InformationRequestEvent):
    """`mash.information_request.created`: a partner is asked a question."""

    type: ClassVar[str] = "mash.information_request.created"
    due_at: str


@dataclass(frozen=True, kw_only=True)
class InformationRequestAnswered(InformationRequestEvent):
    """`mash.information_request.answered`: MASH staff are told the partner answered."""

    type: ClassVar[str] = "mash.information_request.answered"
    referral_id: str


@dataclass(frozen=True, kw_only=True)
class InformationRequestOverdue(InformationRequestEvent):
    """`mash.information_request.overdue`: no answer by the deadline."""

    type: ClassVar[str] = "mash.information_request.overdue"
    due_at: str


@dataclass(frozen=True, kw_only=True)
class InformationRequestDeclined(InformationRequestEvent):
    """`mash.information_request.declined`: the partner cannot answer; why (a code) and,
    if it said, which agency holds the information (no narrative)."""

    type: ClassVar[str] = "mash.information_request.declined"
    referral_id: str
    reason: str
    held_by_agency_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class MatchReviewNeeded(ReferralServiceEvent):
    """`mash.person.match_review_needed`: a possible match waits for MASH staff; ids and
    links only (the details are read through the API)."""

    type: ClassVar[str] = "mash.person.match_review_needed"
    match_review_id: str
    referral_id: str

    @property
    def subject(self) -> str:
        return self.match_review_id

    def links(self) -> dict[str, str]:
        return {"self": match_review_path(self.match_review_id),
                "referral": referral_path(self.referral_id)}


@dataclass(frozen=True, kw_only=True)
class AlertRaised(ReferralServiceEvent):
    """`mash.alert.raised`: a value (adult, vehicle, place, phone, handle) was seen in
    referrals about different children; raised again with new evidence. Ids and the kind
    only: the evidence is read through the API (and audited)."""

    type: ClassVar[str] = "mash.alert.raised"
    alert_id: str
    kind: str

    @property
    def subject(self) -> str:
        return self.alert_id

    def links(self) -> dict[str, str]:
        return {"self": alert_path(self.alert_id)}


@dataclass(frozen=True, kw_only=True)
class ReturnInterviewOverdue(ReferralServiceEvent):
    """`mash.missing_episode.return_interview_overdue`: no return interview recorded
    within 72 hours of the child's return; ids only."""

    type: ClassVar[str] = "mash.missing_episode.return_interview_overdue"
    missing_episode_id: str
    person_id: str | None
    due_at: str

    @property
    def subject(self) -> str:
        return self.missing_episode_id

    def links(self) -> dict[str, str]:
        return {"self": missing_episode_path(self.missing_episode_id)}


REFERRAL_RECEIVED = ReferralReceived.type
REFERRAL_TRIAGED = ReferralTriaged.type
REFERRAL_DECIDED = ReferralDecided.type
DECISION_OVERDUE = DecisionOverdue.type
REFERRAL_ASSIGNED = ReferralAssigned.type
REFERRAL_AWAITING_APPROVAL = ReferralAwaitingApproval.type
REQUEST_CREATED = InformationRequestCreated.type
REQUEST_ANSWERED = InformationRequestAnswered.type
REQUEST_OVERDUE = InformationRequestOverdue.type
MATCH_REVIEW_NEEDED = MatchReviewNeeded.type
ALERT_RAISED = AlertRaised.type
RETURN_INTERVIEW_OVERDUE = ReturnInterviewOverdue.type
