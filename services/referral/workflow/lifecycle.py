"""A referral's lifecycle, and an information request's: their statuses, what may be done
in each, and the status each action leads to. One table each; the workflow asks it."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from shared.errors import InvalidTransition


class ReferralStatus(StrEnum):
    """Where a referral stands: received -> triaged -> awaiting_information -> decided ->
    closed (reopening takes a decided or closed one back to triaged)."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    AWAITING_INFORMATION = "awaiting_information"
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
OPEN_STATUSES = (Status.RECEIVED, Status.TRIAGED, Status.AWAITING_INFORMATION)

# For each action: the statuses it may start from, and the status it leads to.
REFERRAL_TRANSITIONS: dict[ReferralAction, dict[ReferralStatus, ReferralStatus]] = {
    ReferralAction.TRIAGE: {Status.RECEIVED: Status.TRIAGED, Status.TRIAGED: Status.TRIAGED,
                            Status.AWAITING_INFORMATION: Status.AWAITING_INFORMATION},
    ReferralAction.REQUEST_INFORMATION: {
        Status.TRIAGED: Status.AWAITING_INFORMATION,
        Status.AWAITING_INFORMATION: Status.AWAITING_INFORMATION},
    ReferralAction.DECIDE: {Status.TRIAGED: Status.DECIDED,
                            Status.AWAITING_INFORMATION: Status.DECIDED},
    ReferralAction.REOPEN: {Status.DECIDED: Status.TRIAGED, Status.CLOSED: Status.TRIAGED},
    ReferralAction.CLOSE: {Status.DECIDED: Status.CLOSED},
    ReferralAction.WITHDRAW: {Status.RECEIVED: Status.WITHDRAWN, Status.TRIAGED: Status.WITHDRAWN,
                              Status.AWAITING_INFORMATION: Status.WITHDRAWN},
}


# Why an action is refused in a status, in words a practitioner acts on.
REFERRAL_REFUSALS: dict[ReferralAction, Callable[[str], str]] = {
    ReferralAction.TRIAGE: lambda status: f"A {status} referral cannot be triaged; reopen it "
                                          "first.",
    ReferralAction.REQUEST_INFORMATION: lambda status: (
        "Triage the referral before asking partners for information."
        if status == Status.RECEIVED else f"A {status} referral takes no new requests."),
    ReferralAction.DECIDE: lambda status: (
        "Triage the referral before deciding." if status == Status.RECEIVED
        else f"A {status} referral is already decided; reopen it to decide again."),
    ReferralAction.REOPEN: lambda status: f"A {status} referral is open already.",
    ReferralAction.CLOSE: lambda status: f"Only a decided referral can be closed; this one is "
                                         f"{status}.",
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
