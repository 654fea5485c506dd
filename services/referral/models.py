"""Referral service tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


def new_id() -> str:
    """A random UUID as text."""
    return str(uuid.uuid4())


class Referral(SQLModel, table=True):
    """A referral (or information-only notification) received by the hub."""

    __tablename__ = "referrals"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    reference: str = Field(max_length=32, unique=True)
    status: str = Field(default="received", max_length=32, index=True)
    source: str = Field(max_length=4, index=True)
    kind: str = Field(default="referral", max_length=16)
    immediate_risk: bool = False
    rag: str | None = Field(default=None, max_length=8, index=True)
    concerns: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    referrer: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    consent_status: str = Field(default="not_sought", max_length=16)
    consent_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    external_reference: str | None = Field(default=None, max_length=100)
    referring_agency_id: str = Field(max_length=36, index=True)
    submitted_by: str = Field(max_length=100)
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    outcome: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # Workflow (see workflow.py): every change bumps the version (the ETag).
    version: int = 1
    rag_rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    triaged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    triaged_by: str | None = Field(default=None, max_length=100)
    response_due_at: datetime | None = Field(default=None,
                                             sa_column=Column(UTCDateTime, nullable=True))
    decision_due_at: datetime | None = Field(default=None,
                                             sa_column=Column(UTCDateTime, nullable=True,
                                                              index=True))
    decision_overdue_at: datetime | None = Field(default=None,
                                                 sa_column=Column(UTCDateTime, nullable=True))
    decided_by: str | None = Field(default=None, max_length=100)
    decision_rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    signed_off_by: str | None = Field(default=None, max_length=100)
    # Census counting: a second referral of the same child on the same day counts once.
    same_day_as: str | None = Field(default=None, max_length=36)
    is_re_referral: bool = False


class ReferralSubject(SQLModel, table=True):
    """A person a referral is about, as the referrer described them."""

    __tablename__ = "referral_subjects"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(foreign_key="referrals.id", max_length=36, index=True)
    position: int = 0
    role: str = Field(max_length=24)
    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100, index=True)
    other_names: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    date_of_birth: date | None = None
    expected_date_of_birth: date | None = None
    sex: str | None = Field(default=None, max_length=1)
    nhs_number: str | None = Field(default=None, max_length=10, index=True)
    upn: str | None = Field(default=None, max_length=13, index=True)
    police_reference: str | None = Field(default=None, max_length=50)
    local_id: str | None = Field(default=None, max_length=50)
    address: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    postcode: str | None = Field(default=None, max_length=10, index=True)
    school: str | None = Field(default=None, max_length=200)
    # The school's DfE URN: a police notification is passed on to it (Operation Encompass).
    school_urn: str | None = Field(default=None, max_length=6, index=True)


class ReferenceCounter(SQLModel, table=True):
    """The last reference number issued in a year (MASH-<year>-<number>)."""

    __tablename__ = "reference_counters"

    year: int = Field(primary_key=True)
    last_number: int = 0


class IdempotencyKey(SQLModel, table=True):
    """A client's Idempotency-Key: the request it was first used for and the answer given."""

    __tablename__ = "idempotency_keys"

    client: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)  # in_flight | done
    started_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    referral_id: str | None = Field(default=None, max_length=36)


class InformationRequest(SQLModel, table=True):
    """A question MASH staff put to a partner agency about a referral."""

    __tablename__ = "information_requests"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(foreign_key="referrals.id", max_length=36, index=True)
    agency_id: str = Field(max_length=36, index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(default="open", max_length=16, index=True)
    due_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    created_by: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_by: str | None = Field(default=None, max_length=100)
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    withdrawn_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))
    overdue_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class TimelineEntry(SQLModel, table=True):
    """One thing that happened to a referral, for its chronology."""

    __tablename__ = "referral_timeline"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(foreign_key="referrals.id", max_length=36, index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    what: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=36)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
