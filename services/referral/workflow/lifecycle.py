"""A referral's lifecycle, and an information request's: their statuses, what may be done
in each, and the status each action leads to. One table each; the workflow asks it."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from shared.errors import InvalidTransition


class ReferralStatus(StrEnum):
    """Where a referral stands: received -> triaged -> awaiting_information -> decided ->
    closed (reopening takes a decided or closed one back to triaged); a practitioner's
    decision that needs a manager waits in awaiting_approval until one approves it
    (decided) or returns it (triaged)."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    AWAITING_INFORMATION = "awaiting_information"
    AWAITING_APPROVAL = "awaiting_approval"
    DECIDED = "decided"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"  # by the referring agency, sent in error, before a decision


class ReferralAction(StrEnum):
    """What MASH staff do to a referral (the name is also its audit action)."""

    TRIAGE = "triage"
    REQUEST_INFORMATION = "request_information"
    DECIDE = "decide"
    REOPEN = "reopen"
    CLOSE = "close"
    ASSIGN = "assign"
    ADD_NOTE = "add_note"
    PROPOSE_DECISION = "propose_decision"  # a practitioner's, for a manager's approval
    APPROVE_DECISION = "approve_decision"
    RETURN_DECISION = "return_decision"  # refused: back to triage
    RECORD_STRATEGY_DISCUSSION = "record_strategy_discussion"
    WITHDRAW = "withdraw_referral"


class InformationRequestStatus(StrEnum):
    """Where a question to a partner stands."""

    OPEN = "open"
    OVERDUE = "overdue"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"
    DECLINED = "declined"


class InformationRequestAction(StrEnum):
    """What happens to a question to a partner."""

    ANSWER = "answer"
    WITHDRAW = "withdraw"
    BECOME_OVERDUE = "become_overdue"
    DECLINE = "decline"
    ASK_FOR_TIME = "ask_for_time"


Status = ReferralStatus
# Not yet decided. The queue's index (migration 0011) holds exactly these: change both.
OPEN_STATUSES = (Status.RECEIVED, Status.TRIAGED, Status.AWAITING_INFORMATION,
                 Status.AWAITING_APPROVAL)

# For each action: the statuses it may start from, and the status it leads to.
REFERRAL_TRANSITIONS: dict[ReferralAction, dict[ReferralStatus, ReferralStatus]] = {
    ReferralAction.TRIAGE: {Status.RECEIVED: Status.TRIAGED, Status.TRIAGED: Status.TRIAGED,
                            Status.AWAITING_INFORMATION: Status.AWAITING_INFORMATION},
    ReferralAction.REQUEST_INFORMATION: {
        Status.TRIAGED: Status.AWAITING_INFORMATION,
        Status.AWAITING_INFORMATION: Status.AWAITING_INFORMATION},
    ReferralAction.DECIDE: {Status.TRIAGED: Status.DECIDED,
                            Status.AWAITING_INFORMATION: Status.DECIDED},
    ReferralAction.PROPOSE_DECISION: {Status.TRIAGED: Status.AWAITING_APPROVAL,
                                      Status.AWAITING_INFORMATION: Status.AWAITING_APPROVAL},
    ReferralAction.APPROVE_DECISION: {Status.AWAITING_APPROVAL: Status.DECIDED},
    ReferralAction.RETURN_DECISION: {Status.AWAITING_APPROVAL: Status.TRIAGED},
    ReferralAction.REOPEN: {Status.DECIDED: Status.TRIAGED, Status.CLOSED: Status.TRIAGED},
    ReferralAction.CLOSE: {Status.DECIDED: Status.CLOSED},
    # Allocation leaves the status as it is.
    ReferralAction.ASSIGN: {status: status for status in Status if status != Status.CLOSED},
    # Case notes may be added whatever the status (a call after closing, say).
    ReferralAction.ADD_NOTE: {status: status for status in Status},
    ReferralAction.RECORD_STRATEGY_DISCUSSION: {status: status for status in Status
                                                if status != Status.CLOSED},
    ReferralAction.WITHDRAW: {Status.RECEIVED: Status.WITHDRAWN, Status.TRIAGED: Status.WITHDRAWN,
                              Status.AWAITING_INFORMATION: Status.WITHDRAWN,
                              Status.AWAITING_APPROVAL: Status.WITHDRAWN},
}


# Why an action is refused in a status, in words a practitioner acts on.
REFERRAL_REFUSALS: dict[ReferralAction, Callable[[str], str]] = {
    ReferralAction.TRIAGE: lambda status: (
        "The referral's decision is waiting for a manager's approval."
        if status == Status.AWAITING_APPROVAL
        else f"A {status} referral cannot be triaged; reopen it first."),
    ReferralAction.REQUEST_INFORMATION: lambda status: (
        "Triage the referral before asking partners for information."
        if status == Status.RECEIVED else f"A {status} referral takes no new requests."),
    ReferralAction.DECIDE: lambda status: (
        "Triage the referral before deciding." if status == Status.RECEIVED
        else "The referral's decision is waiting for a manager's approval: approve it or "
             "return it." if status == Status.AWAITING_APPROVAL
        else f"A {status} referral is already decided; reopen it to decide again."),
    ReferralAction.PROPOSE_DECISION: lambda status: (
        "Triage the referral before deciding." if status == Status.RECEIVED
        else f"A {status} referral cannot be decided now."),
    ReferralAction.APPROVE_DECISION: lambda status: (
        f"A {status} referral has no decision waiting for approval."),
    ReferralAction.RETURN_DECISION: lambda status: (
        f"A {status} referral has no decision waiting for approval."),
    ReferralAction.REOPEN: lambda status: f"A {status} referral is open already.",
    ReferralAction.CLOSE: lambda status: f"Only a decided referral can be closed; this one is "
                                         f"{status}.",
    ReferralAction.ASSIGN: lambda status: f"A {status} referral is not allocated; reopen it "
                                          "first.",
    ReferralAction.ADD_NOTE: lambda status: f"A {status} referral takes no notes.",
    ReferralAction.RECORD_STRATEGY_DISCUSSION: lambda status: (
        f"A {status} referral takes no strategy discussion; reopen it first."),
    ReferralAction.WITHDRAW: lambda status: (
        f"A {status} referral cannot be withdrawn: only one not yet decided can. Call the "
        "MASH to tell them it was sent in error."),
}

REQUEST_TRANSITIONS: dict[InformationRequestAction,
                          dict[InformationRequestStatus, InformationRequestStatus]] = {
    InformationRequestAction.ANSWER: {
        InformationRequestStatus.OPEN: InformationRequestStatus.ANSWERED,
        InformationRequestStatus.OVERDUE: InformationRequestStatus.ANSWERED},
    InformationRequestAction.WITHDRAW: {
        InformationRequestStatus.OPEN: InformationRequestStatus.WITHDRAWN,
        InformationRequestStatus.OVERDUE: InformationRequestStatus.WITHDRAWN},
    InformationRequestAction.BECOME_OVERDUE: {
        InformationRequestStatus.OPEN: InformationRequestStatus.OVERDUE},
    InformationRequestAction.DECLINE: {
        InformationRequestStatus.OPEN: InformationRequestStatus.DECLINED,
        InformationRequestStatus.OVERDUE: InformationRequestStatus.DECLINED},
    InformationRequestAction.ASK_FOR_TIME: {
        InformationRequestStatus.OPEN: InformationRequestStatus.OPEN,
        InformationRequestStatus.OVERDUE: InformationRequestStatus.OVERDUE},
}

REQUEST_REFUSALS: dict[InformationRequestAction, Callable[[str], str]] = {
    InformationRequestAction.ANSWER: lambda status: f"This request is {status}; it takes no "
                                                    "answer.",
    InformationRequestAction.WITHDRAW: lambda status: f"This request is {status}; it cannot be "
                                                      "withdrawn.",
    InformationRequestAction.BECOME_OVERDUE: lambda status: f"This request is {status}.",
    InformationRequestAction.DECLINE: lambda status: f"This request is {status}; it cannot "
                                                     "be declined.",
    InformationRequestAction.ASK_FOR_TIME: lambda status: f"This request is {status}; it "
                                                          "needs no more time.",
}


def next_status(action: ReferralAction, status: str) -> ReferralStatus:
    """The status ``action`` leads to from ``status``; InvalidTransition if it may not."""
    leads_to = REFERRAL_TRANSITIONS[action].get(ReferralStatus(status))
    if leads_to is None:
        raise InvalidTransition(REFERRAL_REFUSALS[action](status))
    return leads_to


def next_request_status(action: InformationRequestAction,
                        status: str) -> InformationRequestStatus:
    """The status ``action`` leads a request to; InvalidTransition if it may not."""
    leads_to = REQUEST_TRANSITIONS[action].get(InformationRequestStatus(status))
    if leads_to is None:
        raise InvalidTransition(REQUEST_REFUSALS[action](status))
    return leads_to


class Outcome(StrEnum):
    """What the MASH decided (CONTRACT.md)."""

    NO_FURTHER_ACTION = "no_further_action"
    ADVICE_SIGNPOSTING = "advice_signposting"
    EARLY_HELP = "early_help"
    CIN_ASSESSMENT = "cin_assessment"
    STRATEGY_DISCUSSION = "strategy_discussion"
    IMMEDIATE_PROTECTION = "immediate_protection"


# Outcomes a practitioner may record only with a MASH manager's sign-off.
MANAGER_OUTCOMES = frozenset({Outcome.STRATEGY_DISCUSSION, Outcome.IMMEDIATE_PROTECTION})
# Requests still waiting for the partner's answer.
AWAITING_ANSWER = (InformationRequestStatus.OPEN, InformationRequestStatus.OVERDUE)


RAG_URGENCY = {"red": 1, "amber": 2, "green": 3}  # after immediate risk (0)
UNRATED_URGENCY = 4


def urgency(immediate_risk: bool, rag: str | None) -> int:
    """The queue's first sort key, stored on the referral: immediate risk, then red, amber,
    green, not yet rated."""
    return 0 if immediate_risk else RAG_URGENCY.get(rag or "", UNRATED_URGENCY)
