"""Referrals and their subjects, as received."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, literal_column, text
from sqlmodel import Field, SQLModel, col

from services.referral.workflow.lifecycle import OPEN_STATUSES
from shared.db import UTCDateTime, new_id

# The open statuses (workflow.lifecycle.OPEN_STATUSES): the queue's index holds those.
OPEN_STATUS_CONDITION = text("status IN ('received', 'triaged', 'awaiting_information', "
                             "'awaiting_approval')")


class Referral(SQLModel, table=True):
    """A referral (or information-only notification) received by the hub."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_queue_order", "urgency", "decision_due_at",
                            "received_at", "id", sqlite_where=OPEN_STATUS_CONDITION,
                            postgresql_where=OPEN_STATUS_CONDITION),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    reference: str = Field(max_length=32, unique=True)
    status: str = Field(default="received", max_length=32, index=True)
    source: str = Field(max_length=4, index=True)
    kind: str = Field(default="referral", max_length=16)
    immediate_risk: bool = False
    rag: str | None = Field(default=None, max_length=8, index=True)
    # The queue's first sort key (see queue.service.urgency): immediate risk 0, then red,
    # amber, green, not yet rated; kept with immediate_risk and rag so one index serves
    # the queue's order.
    urgency: int = Field(default=4)
    concerns: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    referrer: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    consent_status: str = Field(default="not_sought", max_length=16)
    consent_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    external_reference: str | None = Field(default=None, max_length=100, index=True)
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
    signed_off_by: str | None = Field(default=None, max_length=100)  # typed, before 0015
    # A practitioner's decision waiting for a MASH manager's approval (awaiting_approval);
    # once approved, who approved it.
    proposed_outcome: str | None = Field(default=None, max_length=32)
    proposed_rationale: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    proposed_by: str | None = Field(default=None, max_length=100)
    proposed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    approved_by: str | None = Field(default=None, max_length=100)
    approved_by_name: str | None = Field(default=None, max_length=200)
    primary_need: str | None = Field(default=None, max_length=2)  # CIN census N0-N9
    # The referring agency withdrew it, sent in error, before a decision: when and why.
    withdrawn_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))
    withdrawal_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Census counting: a second referral of the same child on the same day counts once.
    same_day_as: str | None = Field(default=None, max_length=36)
    is_re_referral: bool = False
    # Allocation: the member of staff working on it (their name as the staff directory
    # gave it when allocated).
    assignee_id: str | None = Field(default=None, max_length=36, index=True)
    assignee_name: str | None = Field(default=None, max_length=200)
    assigned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # The latest structured CSE screening's level (intelligence.screening).
    cse_level: str | None = Field(default=None, max_length=8)
    # A police notification's incident: {occurred_at, place} (Operation Encompass).
    incident: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


# "Open" in a query's own words: the open statuses written into the statement as literals.
# The partial indexes on open referrals (the queue's, above; the deadline worker's,
# migration 0064) are used only for a condition in the same words, not for parameters.
OPEN_REFERRAL = col(Referral.status).in_([literal_column(f"'{s}'") for s in OPEN_STATUSES])


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
    missing_from_home: bool | None = None
    present_at_incident: bool | None = None
    voice: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A looked-after child's placement {placing_la_code, host_la_code, placed_at}: a child
    # placed in or from a peer hub's area is notified to that hub (services/referral/peers).
    looked_after: dict[str, Any] | None = Field(default=None,
                                                sa_column=Column(JSON, nullable=True))
    child_protection_plan: str | None = Field(default=None, max_length=8)


class ReferenceCounter(SQLModel, table=True):
    """The last reference number issued in a year (MASH-<year>-<number>)."""

    __tablename__ = "reference_counters"

    year: int = Field(primary_key=True)
    last_number: int = 0
