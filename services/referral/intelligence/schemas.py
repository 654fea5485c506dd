"""Pattern alerts as MASH staff see them: the value, the referrals, the children, and how
the adult's records were matched."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from services.referral.intelligence.models import Screening
from services.referral.intelligence.service import SUBJECT_KEY, AlertFile
from services.referral.links import alert_path, person_path, referral_path
from shared.pagination import PageLinks
from shared.schemas import Schema, StrictStripped

AlertStatus = Literal["open", "confirmed", "dismissed"]
KIND_NAMES = {"adult": "adult of concern", "vehicle": "vehicle", "place": "place",
              "phone": "phone number", "online": "online account"}


class AlertChild(Schema):
    """A child the value was seen with, as the person index knows them."""

    person_id: str | None
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    referral_ids: list[str]
    links: dict[str, str]


class AlertReferral(Schema):
    """A referral the value was in."""

    id: str
    reference: str
    received_at: datetime
    source: str
    referring_agency_id: str
    links: dict[str, str]


class AdultMatch(Schema):
    """How one of the adult's referral subjects was linked to the person: the method,
    the total weight and each field's agreement and weight, as match reviews show."""

    subject_id: str
    referral_id: str
    method: str
    weight: float | None
    reason: str
    explanation: dict[str, Any] | None


class AlertExplanation(Schema):
    """Why the alert was raised."""

    summary: str
    referrals: list[AlertReferral]
    adult_matches: list[AdultMatch] = Field(
        default_factory=list, description="for an adult: how each referral's subject was "
                                          "recognised as the same person")


class AlertDecisionView(Schema):
    """Who decided the alert, when and why."""

    decision: str
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None


class AlertView(Schema):
    """One value seen in referrals about different children."""

    id: str
    kind: Literal["adult", "vehicle", "place", "phone", "online"]
    value: str = Field(description="the normalised value; for an adult, their person id")
    status: AlertStatus
    referral_ids: list[str]
    missing_episode_ids: list[str] = Field(
        default_factory=list, description="a place: episodes whose child was found there")
    children: list[AlertChild]
    explanation: AlertExplanation
    raised_at: datetime
    updated_at: datetime
    decision: AlertDecisionView | None = None
    version: int
    links: dict[str, str]


class AlertPage(Schema):
    """One page of alerts, latest evidence first."""

    items: list[AlertView]
    next: str | None = None
    links: PageLinks


class AlertDecision(StrictStripped):
    """Confirm the pattern (it is worked on) or dismiss it (no concern), with a reason."""

    decision: Literal["confirmed", "dismissed"]
    reason: str = Field(min_length=1, max_length=2000)


def alert_view(found: AlertFile) -> AlertView:
    """The alert with its evidence laid out."""
    alert = found.alert
    referrals_of = found.child_referrals
    children = []
    for key in alert.children:
        details = found.children.get(key)
        person_id = None if key.startswith(SUBJECT_KEY) else key
        children.append(AlertChild(
            person_id=person_id,
            given_name=details.given_name if details else None,
            family_name=details.family_name if details else None,
            date_of_birth=details.date_of_birth if details else None,
            referral_ids=[r for r in referrals_of.get(key, []) if r in alert.referral_ids],
            links={"person": person_path(person_id)} if person_id else {}))
    referrals = [AlertReferral(id=r.id, reference=r.reference, received_at=r.received_at,
                               source=r.source, referring_agency_id=r.referring_agency_id,
                               links={"self": referral_path(r.id)}) for r in found.referrals]
    agencies = len({r.referring_agency_id for r in found.referrals})
    shown = "the same adult (one person in the index)" if alert.kind == "adult" \
        else f"the {KIND_NAMES[alert.kind]} {alert.value}"
    summary = (f"{shown} appears in {len(alert.referral_ids)} referrals about "
               f"{len(alert.children)} different children, from {agencies} "
               f"agenc{'y' if agencies == 1 else 'ies'}")
    if alert.episode_ids:
        summary += f"; {len(alert.episode_ids)} missing children were found there"
    matches = [AdultMatch(subject_id=link.subject_id, referral_id=link.referral_id,
                          method=link.method, weight=link.weight, reason=link.reason,
                          explanation=link.explanation) for link in found.links]
    decision = AlertDecisionView(decision=alert.status, reason=alert.decision_reason,
                                 decided_by=alert.decided_by, decided_at=alert.decided_at
                                 ) if alert.decided_at is not None else None
    links = {"self": alert_path(alert.id)}
    if alert.kind == "adult":
        links["person"] = person_path(alert.value)
    return AlertView(id=alert.id, kind=alert.kind,
                     value=alert.value, status=alert.status,
                     referral_ids=alert.referral_ids, missing_episode_ids=alert.episode_ids,
                     children=children,
                     explanation=AlertExplanation(summary=summary, referrals=referrals,
                                                  adult_matches=matches),
                     raised_at=alert.raised_at, updated_at=alert.updated_at,
                     decision=decision, version=alert.version, links=links)


class ScreeningCreate(StrictStripped):
    """A structured screening: the tool, which of its indicators are present (by their ids
    in the tool's definition), and the level the practitioner records (by default the
    computed one; another needs a reason)."""

    tool: Literal["cse"]
    answers: dict[Annotated[str, Field(max_length=64)], bool] = Field(max_length=100)
    level: Literal["low", "medium", "high"] | None = None
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class ScreeningView(Schema):
    """A screening as recorded."""

    id: str
    referral_id: str
    tool: str
    tool_version: int
    answers: dict[str, bool]
    score: int
    category_scores: dict[str, int]
    computed_level: str
    level: str
    overridden: bool
    reason: str | None
    screened_by: str
    screened_at: datetime
    referral_rag: str | None = None
    links: dict[str, str]


def screening_view(screening: Screening, rag: str | None = None) -> ScreeningView:
    """A screening with its referral's link."""
    return ScreeningView(
        id=screening.id, referral_id=screening.referral_id, tool=screening.tool,
        tool_version=screening.tool_version, answers=screening.answers, score=screening.score,
        category_scores=screening.category_scores, computed_level=screening.computed_level,
        level=screening.level, overridden=screening.level != screening.computed_level,
        reason=screening.reason, screened_by=screening.screened_by,
        screened_at=screening.screened_at, referral_rag=rag,
        links={"referral": referral_path(screening.referral_id)})
