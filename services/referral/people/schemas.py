"""Request and response shapes of the person index API."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from services.referral.intelligence.flags import SafeguardingFlag
from services.referral.links import match_review_path, person_path, referral_path
from services.referral.people.models import MatchReview, PersonIdentifier, SubjectDetails
from services.referral.people.search import PersonSummary
from services.referral.people.service import PersonFile
from services.referral.referrals.schemas import age_on
from shared.events import utcnow
from shared.pagination import PageLinks
from shared.schemas import Schema, StrictStripped


class IdentifierView(Schema):
    """An identifier of the person and where it first came from."""

    type: Literal["nhs_number", "upn", "police_reference", "local_id"]
    value: str
    source_agency_id: str
    referral_id: str
    first_seen_at: datetime


class NameView(Schema):
    """A name the person was given in one referral."""

    given_name: str | None
    family_name: str | None
    other_names: list[str] = Field(default_factory=list)
    referral_id: str
    seen_at: datetime


class AddressView(Schema):
    """An address given for the person in one referral."""

    line1: str | None
    postcode: str | None
    referral_id: str
    seen_at: datetime


class PersonReferralView(Schema):
    """A referral about the person, in the chronology across agencies."""

    id: str
    reference: str
    received_at: datetime
    status: str
    outcome: str | None
    rag: str | None
    source: str
    kind: str
    referring_agency_id: str
    role: str = Field(description="the person's role in this referral (child, ...)")
    is_re_referral: bool
    same_day_as: str | None
    link: str


class Comparison(Schema):
    """One field compared: the level of agreement and its match weight (log2 m/u)."""

    field: str
    level: str
    agrees: bool | None
    weight: float
    subject_value: str | None
    candidate_value: str | None


class LinkView(Schema):
    """A decision that tied a subject to this person; undoable unless method is "new"."""

    id: str
    subject_id: str
    referral_id: str
    decided_by: str
    decided_at: datetime
    reason: str
    method: Literal["identifier", "probabilistic", "review", "new"]
    weight: float | None
    comparisons: list[Comparison] = Field(
        default_factory=list, description="why: each field's agreement and weight")
    review_id: str | None = None
    undone_at: datetime | None
    undone_by: str | None
    undo_reason: str | None = None
    undo: str | None = Field(default=None, description="POST here to undo the link")
    subject: LinkedSubject | None = Field(
        default=None, description="the details the linked subject gave in its referral")


class LinkedSubject(Schema):
    """Who a link is about, as the referral described them."""

    role: str
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None


class SharedAddress(Schema):
    """An address two people were given."""

    line1: str | None
    postcode: str


class HouseholdMember(Schema):
    """Someone given the same address as the person in a referral."""

    id: str
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    age: int | None
    address: SharedAddress
    referral_count: int
    link: str




class PersonView(Schema):
    """A person: identifiers, names and addresses seen, every referral about them, the
    household (people given the same address) and the links with their undo."""

    id: str
    created_at: datetime
    given_name: str | None = Field(default=None, description="the latest name given")
    family_name: str | None = None
    date_of_birth: date | None = Field(default=None,
                                       description="the latest date of birth given")
    age: int | None = Field(default=None, description="in whole years, on the hub's clock")
    identifiers: list[IdentifierView]
    names: list[NameView]
    dates_of_birth: list[date]
    sex: Literal["F", "M", "U"] | None
    addresses: list[AddressView]
    referrals: list[PersonReferralView] = Field(description="oldest first, all agencies")
    links: list[LinkView]
    flags: list[SafeguardingFlag] = Field(
        default_factory=list, description="what the banner warns of: missing 3 or more "
        "times in 90 days, the latest CSE screening's level (medium, high), open pattern "
        "alerts naming the person")
    looked_after: dict[str, Any] | None = Field(
        default=None, description="the child's placement as the latest referral that gave "
                                  "one said it: {placing_la_code, host_la_code, placed_at, "
                                  "referral_id, seen_at}")
    child_protection_plan: dict[str, Any] | None = Field(
        default=None, description="as the latest referral that said it: {status, "
                                  "referral_id, seen_at}")
    household: list[HouseholdMember] = Field(
        default_factory=list, description="people given the same address (postcode and "
                                          "first line) in a referral, youngest last")


class PersonSearchItem(Schema):
    """A person found by a search."""

    id: str
    given_name: str | None
    family_name: str | None
    date_of_birth: date | None
    age: int | None
    identifiers: list[IdentifierView]
    referral_count: int
    last_referral_at: datetime | None
    link: str


class PersonSearchPage(Schema):
    """One page of people found, best match first."""

    items: list[PersonSearchItem]
    links: PageLinks


def _identifiers(identifiers: list[PersonIdentifier]) -> list[IdentifierView]:
    first_seen: dict[tuple[str, str], IdentifierView] = {}
    for identifier in identifiers:
        first_seen.setdefault((identifier.type, identifier.value),
                              IdentifierView.model_validate(identifier.model_dump()))
    return list(first_seen.values())


def search_item(summary: PersonSummary, today: date) -> PersonSearchItem:
    """Shape a search result."""
    return PersonSearchItem(
        id=summary.person_id, given_name=summary.given_name, family_name=summary.family_name,
        date_of_birth=summary.date_of_birth, age=age_on(summary.date_of_birth, today),
        identifiers=_identifiers(summary.identifiers), referral_count=summary.referral_count,
        last_referral_at=summary.last_referral_at, link=person_path(summary.person_id))


def person_view(found: PersonFile) -> PersonView:
    """Shape a person's file."""
    records = [details for details, _ in found.records]
    sexes = Counter(d.sex for d in records if d.sex)
    base = f"{person_path(found.person.id)}/links"
    placed = [(d, facts) for d, facts, _ in found.status_facts if facts]
    plans = [(d, plan) for d, _, plan in found.status_facts if plan]
    today = utcnow().date()
    latest = max(records, key=lambda d: d.seen_at, default=None)
    born = max((d for d in records if d.date_of_birth), key=lambda d: d.seen_at, default=None)
    linked = found.linked_subjects
    return PersonView(
        looked_after={**placed[-1][1], "referral_id": placed[-1][0].referral_id,
                      "seen_at": placed[-1][0].seen_at.isoformat()} if placed else None,
        child_protection_plan={"status": plans[-1][1], "referral_id": plans[-1][0].referral_id,
                               "seen_at": plans[-1][0].seen_at.isoformat()} if plans else None,
        id=found.person.id, created_at=found.person.created_at,
        given_name=latest.given_name if latest else None,
        family_name=latest.family_name if latest else None,
        date_of_birth=born.date_of_birth if born else None,
        age=age_on(born.date_of_birth, today) if born else None,
        identifiers=_identifiers(found.identifiers),
        names=[NameView(given_name=d.given_name, family_name=d.family_name,
                        other_names=d.other_names, referral_id=d.referral_id,
                        seen_at=d.seen_at) for d in records],
        dates_of_birth=sorted({d.date_of_birth for d in records if d.date_of_birth}),
        sex=sexes.most_common(1)[0][0] if sexes else None,
        addresses=[AddressView(line1=d.address_line1, postcode=d.postcode,
                               referral_id=d.referral_id, seen_at=d.seen_at)
                   for d in records if d.address_line1 or d.postcode],
        referrals=[PersonReferralView(
            id=r.id, reference=r.reference, received_at=r.received_at, status=r.status,
            outcome=r.outcome, rag=r.rag, source=r.source, kind=r.kind,
            referring_agency_id=r.referring_agency_id, role=d.role,
            is_re_referral=r.is_re_referral, same_day_as=r.same_day_as,
            link=referral_path(r.id)) for d, r in found.records],
        links=[LinkView(
            **link.model_dump(exclude={"explanation", "person_id"}),
            comparisons=[Comparison.model_validate(c)
                         for c in (link.explanation or {}).get("comparisons", [])],
            undo=(f"{base}/{link.id}/undo"
                  if link.undone_at is None and link.method != "new" else None),
            subject=(LinkedSubject.model_validate(linked[link.subject_id].model_dump())
                     if link.subject_id in linked else None))
            for link in found.links],
        household=[HouseholdMember(
            id=mate.summary.person_id, given_name=mate.summary.given_name,
            family_name=mate.summary.family_name, date_of_birth=mate.summary.date_of_birth,
            age=age_on(mate.summary.date_of_birth, today),
            address=SharedAddress(line1=mate.line1, postcode=mate.postcode),
            referral_count=mate.summary.referral_count,
            link=person_path(mate.summary.person_id)) for mate in found.household])


class MatchedDetails(Schema):
    """The details compared."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    nhs_number: str | None = None
    upn: str | None = None
    postcode: str | None = None
    address_line1: str | None = None


class CandidateDetails(MatchedDetails):
    """The known person's details the subject was compared with."""

    person_id: str


class Thresholds(Schema):
    """Below lower: a new person; above upper: linked automatically; between: review."""

    lower: float
    upper: float


class ReviewLinks(Schema):
    """Where to find the review, its referral and the candidate person."""

    self: str
    referral: str
    candidate_person: str


class MatchReviewView(Schema):
    """A possible match for a human: which fields agreed, which did not, and why."""

    id: str
    status: Literal["open", "decided"]
    created_at: datetime
    referral_id: str
    subject_id: str
    subject: MatchedDetails
    candidate: CandidateDetails
    total_weight: float
    thresholds: Thresholds
    comparisons: list[Comparison]
    decision: Literal["same", "different"] | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None = None
    links: ReviewLinks


def review_view(review: MatchReview, details: SubjectDetails) -> MatchReviewView:
    """Shape a review with the subject's details."""
    candidate: dict[str, Any] = {k: v for k, v in review.candidate.items()
                                 if k in CandidateDetails.model_fields}
    return MatchReviewView(
        id=review.id, status=review.status,
        created_at=review.created_at, referral_id=review.referral_id,
        subject_id=review.subject_id,
        subject=MatchedDetails.model_validate(details.model_dump()),
        candidate=CandidateDetails(**candidate, person_id=review.candidate_person_id),
        total_weight=review.total_weight,
        thresholds=Thresholds.model_validate(review.thresholds),
        comparisons=[Comparison.model_validate(c) for c in review.comparisons],
        decision=review.decision, decided_by=review.decided_by,
        decided_at=review.decided_at, reason=review.reason,
        links=ReviewLinks(self=match_review_path(review.id),
                          referral=referral_path(review.referral_id),
                          candidate_person=person_path(review.candidate_person_id)))


class MatchReviewPage(Schema):
    """One page of match reviews, newest first."""

    items: list[MatchReviewView]
    next: str | None = Field(default=None, description="the next page, if any")
    links: PageLinks


class ReviewDecision(StrictStripped):
    """Whether the subject is the candidate person."""

    decision: Literal["same", "different"] = Field(
        description='"same": link the subject to the candidate person; "different": the '
                    "subject is a person of their own")
    reason: str | None = Field(default=None, max_length=2000)


class UndoLink(StrictStripped):
    """Why a link was wrong."""

    reason: str = Field(min_length=1, max_length=2000)
