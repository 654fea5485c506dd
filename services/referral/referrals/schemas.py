"""A referral as partners send it and as readers see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    EmailStr,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.referral.codes import CONCERNS, REFERRAL_SOURCES
from services.referral.identifiers import (
    normalise_nhs_number,
    normalise_postcode,
    normalise_upn,
)
from services.referral.intelligence.contexts import ContextKind, normalise
from services.referral.links import referral_path
from shared.agencies import SCHOOL_URN_PATTERN
from shared.events import utcnow
from shared.pagination import PageLinks
from shared.schemas import Schema, StrictStripped

ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
SubjectRole = Literal["child", "adult_of_concern", "parent_carer", "sibling", "other_adult"]
Sex = Literal["F", "M", "U"]
MAX_PREGNANCY = timedelta(days=300)
EARLIEST_BIRTH = date(1900, 1, 1)  # an adult subject, say a grandparent, is born after
SOURCE_CODES: list[JsonValue] = [*sorted(REFERRAL_SOURCES)]
CONCERN_CODES: list[JsonValue] = [*sorted(CONCERNS)]


def _known_source(value: str) -> str:
    if value not in REFERRAL_SOURCES:
        raise ValueError("not a CIN census referral source code (see the API description)")
    return value


def _known_concern(value: str) -> str:
    if value not in CONCERNS:
        raise ValueError("not a CIN census assessment factor code")
    return value


def _today() -> date:
    return utcnow().date()


class Address(StrictStripped):
    """A postal address; the postcode is normalised (``S60 1AA``)."""

    line1: str | None = Field(default=None, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    town: str | None = Field(default=None, max_length=100)
    postcode: Annotated[str, AfterValidator(normalise_postcode)] | None = Field(
        default=None, max_length=10, examples=["S60 1AA"])


LA_CODE_PATTERN = r"^[0-9]{3}$"  # a DfE local authority code, e.g. 372 for Rotherham
ProtectionPlan = Literal["current", "ended", "none"]


class LookedAfter(StrictStripped):
    """A looked-after child's placement: the authority that placed the child and the one
    whose area the child lives in (the same when placed in area)."""

    placing_la_code: str = Field(pattern=LA_CODE_PATTERN, examples=["372"],
                                 description="DfE code of the local authority that placed "
                                             "the child")
    host_la_code: str = Field(pattern=LA_CODE_PATTERN, examples=["373"],
                              description="DfE code of the local authority where the "
                                          "child lives")
    placed_at: date | None = None

    @field_validator("placed_at")
    @classmethod
    def _placed_already(cls, value: date | None) -> date | None:
        if value is not None and value > _today():
            raise ValueError("is in the future")
        return value


class Subject(StrictStripped):
    """A person the referral is about: a child, or an adult around them."""

    role: SubjectRole
    given_name: Name | None = None
    family_name: Name | None = None
    other_names: list[Name] = Field(default_factory=list, max_length=10,
                                    description="known-as names, former names")
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = Field(
        default=None, description="for an unborn child: the expected date of delivery")
    sex: Sex | None = None
    nhs_number: Annotated[str, AfterValidator(normalise_nhs_number)] | None = Field(
        default=None, max_length=13, description="10 digits; spaces allowed",
        examples=["943 476 5919"])
    upn: Annotated[str, AfterValidator(normalise_upn)] | None = Field(
        default=None, max_length=13, description="unique pupil number (13 characters)")
    police_reference: str | None = Field(default=None, max_length=50)
    local_id: str | None = Field(default=None, max_length=50,
                                 description="the sender's own id for this person")
    address: Address | None = None
    school: str | None = Field(default=None, max_length=200)
    school_urn: str | None = Field(
        default=None, pattern=SCHOOL_URN_PATTERN, examples=["999001"],
        description="a child's school, by DfE unique reference number: the school's "
                    "designated safeguarding lead is told of a police notification "
                    "(Operation Encompass)")
    missing_from_home: bool | None = Field(
        default=None, description="a child who is missing from home or care now")
    present_at_incident: bool | None = Field(
        default=None, description="a police notification: whether the child was present "
                                  "at the incident (told to the school: Operation Encompass)")
    voice: str | None = Field(default=None, max_length=2000,
                              description="the child's own words or wishes, where known")
    looked_after: LookedAfter | None = Field(
        default=None, description="a looked-after child's placement (a child placed in or "
                                  "from another hub's area is notified to that hub)")
    child_protection_plan: ProtectionPlan | None = Field(
        default=None, description="whether the child is subject to a child protection "
                                  "plan now, was once, or never was")

    @field_validator("date_of_birth")
    @classmethod
    def _born_already(cls, value: date | None) -> date | None:
        if value is not None and value > _today():
            raise ValueError("is in the future; for an unborn child give "
                             "expected_date_of_birth instead")
        if value is not None and value < EARLIEST_BIRTH:
            raise ValueError("is before 1900: check the date (year first: YYYY-MM-DD)")
        return value

    @field_validator("expected_date_of_birth")
    @classmethod
    def _unborn_child(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return value
        if info.data.get("role") != "child":
            raise ValueError("is only for an unborn child")
        if info.data.get("date_of_birth") is not None:
            raise ValueError("give date_of_birth or expected_date_of_birth, not both")
        if not _today() <= value <= _today() + MAX_PREGNANCY:
            raise ValueError("must be within the next 300 days")
        return value

    @model_validator(mode="after")
    def _child_facts(self) -> Subject:
        if self.role != "child" and (self.looked_after or self.child_protection_plan):
            raise ValueError("looked_after and child_protection_plan are only for a child")
        return self

    @model_validator(mode="after")
    def _identifiable(self) -> Subject:
        if not (self.given_name or self.family_name or self.nhs_number or self.upn
                or self.expected_date_of_birth):
            raise ValueError("a subject needs a name, an NHS number or a UPN "
                             "(or, unborn, an expected date of birth)")
        return self


class Referrer(StrictStripped):
    """Who is making the referral, so the hub can call them back."""

    name: ShortText
    role: ShortText
    agency_id: str | None = Field(default=None, max_length=36,
                                  description="ignored: the caller's own agency is used")
    phone: str | None = Field(default=None, max_length=30, pattern=r"^[0-9 +()-]{6,30}$")
    email: EmailStr | None = None


class Consent(StrictStripped):
    """Whether the family consented to the referral, and why not when they did not."""

    status: Literal["given", "not_given", "not_sought"]
    reason: str | None = Field(default=None, max_length=2000, validate_default=True,
                               description="required unless consent was given")

    @field_validator("reason")
    @classmethod
    def _reason_when_no_consent(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("status", "given") != "given" and not value:
            raise ValueError("say why consent was not given or not sought")
        return value


class Incident(StrictStripped):
    """A police notification's incident: when and where (Operation Encompass)."""

    occurred_at: AwareDatetime
    place: str | None = Field(default=None, min_length=1, max_length=200)


class Context(StrictStripped):
    """Where, with whom or what the concern arises: a vehicle (UK registration), a place
    (a postcode, an address ending in one, or a named place), a phone number, or an
    online account (``platform: handle``). Stored normalised: ``ab12 cde`` is
    ``AB12CDE``, ``07700 900123`` is ``+447700900123``."""

    kind: ContextKind
    value: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _normalised(self) -> Context:
        self.value = normalise(self.kind, self.value)
        return self


class ReferralCreate(StrictStripped):
    """A referral, or a notification for information only (``kind``)."""

    source: Annotated[str, AfterValidator(_known_source)] = Field(
        description="CIN census referral source code, e.g. '6' for police, '2A' for schools",
        json_schema_extra={"enum": SOURCE_CODES})
    referrer: Referrer
    kind: Literal["referral", "notification"] = "referral"
    subjects: list[Subject] = Field(min_length=1, max_length=20)
    concerns: list[Annotated[str, AfterValidator(_known_concern)]] = Field(
        min_length=1, max_length=30, description="CIN census assessment factor codes",
        json_schema_extra={"items": {"enum": CONCERN_CODES}})
    immediate_risk: bool = False
    summary: str = Field(min_length=1, max_length=20_000,
                         description="the referrer's account, in their words")
    consent: Consent
    external_reference: str | None = Field(default=None, max_length=100,
                                           description="the sender's own id for the referral")
    incident: Incident | None = Field(
        default=None, description="a police notification: the incident's time and place")
    contexts: list[Context] = Field(
        default_factory=list, max_length=20,
        description="vehicles, places, phones and online accounts in the concern: the "
                    "same one in referrals about different children raises an alert")

    @field_validator("subjects")
    @classmethod
    def _at_least_one_child(cls, value: list[Subject]) -> list[Subject]:
        if not any(s.role == "child" for s in value):
            raise ValueError("must include at least one child")
        return value

    @field_validator("concerns")
    @classmethod
    def _each_concern_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("has a code twice")
        return value


class ReferralView(Schema):
    """The base of every view of a referral: each field is read off the stored referral by
    its name, or derived from it (its link, its codes' meanings, its consent), unless the
    caller gives it."""

    @classmethod
    def of(cls, referral: Any, **given: Any) -> Self:
        """The view of ``referral`` (a stored Referral), with ``given`` fields as they are."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            if name in given:
                values[name] = given[name]
            elif name in _DERIVED:
                values[name] = _DERIVED[name](referral)
            elif hasattr(referral, name):
                values[name] = getattr(referral, name)
        return cls.model_validate(values)


class ReferralLinks(Schema):
    """Where to find the referral."""

    self: str


class ReferralReceipt(ReferralView):
    """What a referrer gets back: enough to track the referral."""

    id: str
    reference: str
    status: str
    received_at: datetime
    links: ReferralLinks


class SentSubjectView(Schema):
    """A subject exactly as the referring agency gave it."""

    role: str
    given_name: str | None
    family_name: str | None
    other_names: list[str]
    date_of_birth: date | None
    expected_date_of_birth: date | None
    sex: str | None
    nhs_number: str | None
    upn: str | None
    police_reference: str | None
    local_id: str | None
    address: dict[str, str] | None
    school: str | None


class SubjectView(SentSubjectView):
    """A subject as MASH staff see it: as given, with what the hub added."""

    school_urn: str | None = None
    missing_from_home: bool | None = None
    present_at_incident: bool | None = None
    voice: str | None = None
    looked_after: dict[str, Any] | None = None
    child_protection_plan: str | None = None
    id: str | None = None
    person_id: str | None = Field(
        default=None, description="the person this subject is linked to (GET "
                                  "/api/v1/people/{person_id}); null while a match review "
                                  "is open")
    match: SubjectMatch | None = None


class SubjectMatch(Schema):
    """How a referral subject was matched to a person."""

    status: Literal["linked", "review", "new"] = Field(
        description="linked to a known person, waiting for a match review "
                    "(GET /api/v1/match-reviews/{review_id}), or a new person")
    review_id: str | None = None


class AssigneeView(Schema):
    """The member of staff a referral is allocated to."""

    id: str
    display_name: str | None = Field(description="as the staff directory named them when "
                                                 "allocated (null if it did not know them)")


class PendingDecision(Schema):
    """A practitioner's decision waiting for a MASH manager's approval."""

    outcome: str
    rationale: str | None
    proposed_by: str | None
    proposed_at: datetime | None


class ReferralLimitedView(ReferralView):
    """What the referring agency sees of its own referral: where it stands, not the file."""

    id: str
    reference: str
    status: str
    kind: str
    external_reference: str | None
    received_at: datetime
    outcome: str | None = None
    decided_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None
    view: Literal["limited"] = "limited"
    links: ReferralLinks


class ReferralAsSentView(ReferralView):
    """What the referring agency sent, word for word: for the agency's own record (none of
    what the MASH has added: no rating, chronology or matches)."""

    id: str
    reference: str
    kind: str
    source: str
    source_description: str
    immediate_risk: bool
    concerns: list[ConcernView]
    referrer: dict[str, str]
    consent: dict[str, str | None]
    summary: str | None
    external_reference: str | None
    subjects: list[SentSubjectView]
    received_at: datetime
    submitted_by: str
    links: ReferralLinks


class ConcernView(Schema):
    """A concern code with its meaning."""

    code: str
    description: str

    @classmethod
    def of(cls, codes: list[str]) -> list[ConcernView]:
        """The views of CIN factor codes, each with its meaning ('' if unknown)."""
        return [cls(code=code, description=CONCERNS.get(code, "")) for code in codes]


class TimelineView(Schema):
    """One line of the chronology."""

    at: datetime
    what: str
    actor: str | None
    agency_id: str | None
    detail: dict[str, object]


class ReferralFullView(ReferralView):
    """Everything about a referral, for MASH staff."""

    id: str
    reference: str
    status: str
    kind: str
    source: str
    source_description: str
    immediate_risk: bool
    rag: str | None
    concerns: list[ConcernView]
    referrer: dict[str, str]
    referring_agency_id: str
    consent: dict[str, str | None]
    summary: str | None
    external_reference: str | None
    subjects: list[SubjectView]
    received_at: datetime
    outcome: str | None
    decided_at: datetime | None
    decided_by: str | None = None
    decision_rationale: str | None = None
    signed_off_by: str | None = Field(
        default=None, description="a name typed before manager approval replaced it")
    approved_by: AssigneeView | None = Field(
        default=None, description="the MASH manager who approved a practitioner's decision")
    pending_decision: PendingDecision | None = Field(
        default=None, description="while awaiting_approval: the decision waiting")
    primary_need: str | None = None
    rag_rationale: str | None = None
    response_due_at: datetime | None = None
    decision_due_at: datetime | None = None
    decision_overdue: bool = False
    same_day_as: str | None = Field(
        default=None, description="the first referral of the same child that day: the CIN "
                                  "census counts the two once")
    is_re_referral: bool = Field(
        default=False, description="within 12 months of an earlier referral of the child")
    version: int = 1
    assignee: AssigneeView | None = Field(default=None,
                                          description="who is working on it; null if nobody")
    incident: dict[str, str | None] | None = None
    cse_level: Literal["low", "medium", "high"] | None = Field(
        default=None, description="the latest CSE screening's level")
    timeline: list[TimelineView] = Field(default_factory=list)
    known_to: dict[str, Any] | None = Field(
        default=None, description="sent by a peer hub: {peer_hub_id, name, la_code, "
                                  "their_reference} (the child is known to that hub)")
    peer_notices: list[dict[str, Any]] = Field(
        default_factory=list, description="what peer hubs were told of this referral "
                                          "(GET /api/v1/referrals/{id}/peer-notices)")
    view: Literal["full"] = "full"
    links: ReferralLinks


def age_on(born: date | None, today: date) -> int | None:
    """Age in whole years on ``today`` (None if the date of birth is not known)."""
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class ChildSummary(Schema):
    """A child a referral is about, as a list names them; ``age`` is in whole years on
    the hub's clock (null for an unborn child or an unknown date of birth)."""

    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    age: int | None

    @classmethod
    def of(cls, subject: Any, today: date) -> ChildSummary:
        """The summary of a child subject (a ReferralSubject)."""
        return cls(given_name=subject.given_name, family_name=subject.family_name,
                   date_of_birth=subject.date_of_birth,
                   age=age_on(subject.date_of_birth, today))


class ReferralListItem(ReferralView):
    """A referral in a list: no narrative (open the referral for that); MASH staff see
    the children it is about (``children``; null for partners)."""

    id: str
    reference: str
    status: str
    kind: str
    source: str
    immediate_risk: bool
    rag: str | None
    external_reference: str | None
    referring_agency_id: str
    received_at: datetime
    outcome: str | None
    children: list[ChildSummary] | None = Field(
        default=None, description="the children the referral is about, in the order the "
                                  "referrer gave them (MASH staff; null for partners)")
    links: ReferralLinks


class ReferralPage(Schema):
    """One page of referrals, newest first."""

    items: list[ReferralListItem]
    links: PageLinks




# What a view shows that the stored referral holds in another form.
_DERIVED: dict[str, Callable[[Any], Any]] = {
    "links": lambda referral: ReferralLinks(self=referral_path(referral.id)),
    "source_description": lambda referral: REFERRAL_SOURCES.get(referral.source, ""),
    "concerns": lambda referral: ConcernView.of(referral.concerns),
    "consent": lambda referral: {"status": referral.consent_status,
                                 "reason": referral.consent_reason},
    "decision_overdue": lambda referral: referral.decision_overdue_at is not None,
    "approved_by": lambda referral: AssigneeView(id=referral.approved_by,
                                                 display_name=referral.approved_by_name)
    if referral.approved_by else None,
    "pending_decision": lambda referral: PendingDecision(
        outcome=referral.proposed_outcome, rationale=referral.proposed_rationale,
        proposed_by=referral.proposed_by, proposed_at=referral.proposed_at)
    if referral.proposed_outcome else None,
    "assignee": lambda referral: AssigneeView(id=referral.assignee_id,
                                              display_name=referral.assignee_name)
    if referral.assignee_id else None,
}
