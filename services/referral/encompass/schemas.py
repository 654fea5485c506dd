"""What a school reads of an Operation Encompass notification."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from services.referral.referrals.schemas import ConcernView, ReferralLinks, ReferralView
from shared.schemas import Schema


class PupilView(Schema):
    """A pupil the notification is about: who they are and the police's reference."""

    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    upn: str | None
    police_reference: str | None
    present_at_incident: bool | None = None
    voice: str | None = None


class IncidentView(Schema):
    """The incident the police attended: when and where."""

    occurred_at: datetime
    place: str | None = None


class EncompassView(ReferralView):
    """What a school's designated safeguarding lead reads of a police notification."""

    id: str
    reference: str
    kind: str
    received_at: datetime
    concerns: list[ConcernView]
    immediate_risk: bool
    external_reference: str | None
    incident: IncidentView | None = None
    pupils: list[PupilView]
    view: Literal["encompass"] = "encompass"
    links: ReferralLinks


class PupilName(Schema):
    """A pupil named in an inbox line."""

    given_name: str | None
    family_name: str | None


class Acknowledgement(Schema):
    """When the school first read the notice, and who."""

    read_at: datetime
    read_by: str
    read_by_name: str | None = None


class EncompassInboxItem(Schema):
    """One police notification in a school's Encompass inbox."""

    referral_id: str
    reference: str
    received_at: datetime
    incident: IncidentView | None = None
    pupils: list[PupilName]
    acknowledgement: Acknowledgement | None = None
    links: ReferralLinks


class EncompassInbox(Schema):
    """A school's newest police notifications (at most 100), newest first."""

    items: list[EncompassInboxItem]
    unread: int
