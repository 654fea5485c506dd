"""Person index tables. A person is an id; what is known about them comes from the subjects
linked to them, and each link is a decision that can be undone (no destructive merges)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from shared.db import PackedJSON, UTCDateTime, new_id


class Person(SQLModel, table=True):
    """One child or adult, as the hub knows them across agencies."""

    __tablename__ = "people"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SubjectDetails(SQLModel, table=True):
    """The details one referral subject gave, normalised for scoring, and the person the
    subject is linked to now (None while a match review is open)."""

    __tablename__ = "person_records"

    subject_id: str = Field(primary_key=True, max_length=36,
                            foreign_key="referral_subjects.id")
    person_id: str | None = Field(default=None, max_length=36, index=True,
                                  foreign_key="people.id")
    referral_id: str = Field(max_length=36, index=True, foreign_key="referrals.id")
    role: str = Field(max_length=24)
    agency_id: str = Field(max_length=36)
    seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    match_status: str = Field(max_length=8)  # linked | review | new
    review_id: str | None = Field(default=None, max_length=36)
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    other_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    date_of_birth: date | None = None
    sex: str | None = Field(default=None, max_length=1)
    postcode: str | None = Field(default=None, max_length=10)
    address_line1: str | None = Field(default=None, max_length=200)
    nhs_number: str | None = Field(default=None, max_length=10)
    upn: str | None = Field(default=None, max_length=13)


class PersonIdentifier(SQLModel, table=True):
    """An identifier a subject carried (NHS number, UPN, police reference, local id), with
    the agency and referral it came from; it belongs to the subject's person."""

    __tablename__ = "person_identifiers"
    __table_args__ = (Index("ix_person_identifiers_type_value", "type", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: str | None = Field(default=None, max_length=36, index=True)
    subject_id: str = Field(max_length=36, index=True)
    type: str = Field(max_length=16)
    value: str = Field(max_length=50)
    source_agency_id: str = Field(max_length=36)
    referral_id: str = Field(max_length=36)
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class BlockingKey(SQLModel, table=True):
    """A blocking key of a subject's details: candidates share at least one key."""

    __tablename__ = "person_blocking_keys"

    key: str = Field(primary_key=True, max_length=40)
    subject_id: str = Field(primary_key=True, max_length=36)


class PersonLink(SQLModel, table=True):
    """The decision that a subject is a person: by identifier, by the model, by a human
    review, or a new person. Undoing it keeps it on record with who undid it and why."""

    __tablename__ = "person_links"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    subject_id: str = Field(max_length=36, index=True)
    referral_id: str = Field(max_length=36)
    person_id: str = Field(max_length=36, index=True)
    method: str = Field(max_length=16)  # identifier | probabilistic | review | new
    weight: float | None = None
    explanation: dict[str, Any] | None = Field(default=None,
                                               sa_column=Column(PackedJSON, nullable=True))
    review_id: str | None = Field(default=None, max_length=36)
    decided_by: str = Field(max_length=100)
    decided_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    undone_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    undone_by: str | None = Field(default=None, max_length=100)
    undo_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class MatchReview(SQLModel, table=True):
    """A possible match the model was unsure of, waiting for (or decided by) a human."""

    __tablename__ = "match_reviews"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    status: str = Field(default="open", max_length=8, index=True)  # open | decided
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    referral_id: str = Field(max_length=36, index=True)
    subject_id: str = Field(max_length=36, index=True)
    candidate_person_id: str = Field(max_length=36)
    candidate: dict[str, Any] = Field(default_factory=dict,
                                      sa_column=Column(PackedJSON, nullable=False))
    total_weight: float
    thresholds: dict[str, float] = Field(default_factory=dict,
                                         sa_column=Column(JSON, nullable=False))
    comparisons: list[dict[str, Any]] = Field(default_factory=list,
                                              sa_column=Column(PackedJSON, nullable=False))
    decision: str | None = Field(default=None, max_length=9)  # same | different
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
