"""What the MASH does with a referral: its chronology and information requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime, new_id


class InformationRequest(SQLModel, table=True):
    """A question MASH staff put to a partner agency about a referral."""

    __tablename__ = "information_requests"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(foreign_key="referrals.id", max_length=36, index=True)
    agency_id: str = Field(max_length=36, index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))
    # The lawful basis for asking, for the sharing ledger (services/referral/peers).
    legal_basis: str | None = Field(default=None, max_length=200)
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
    # The addressed agency declines: why (not_known, held_elsewhere, cannot_share), in its
    # words, and which agency holds the information if it knows.
    declined_at: datetime | None = Field(default=None,
                                         sa_column=Column(UTCDateTime, nullable=True))
    declined_by: str | None = Field(default=None, max_length=100)
    decline_reason: str | None = Field(default=None, max_length=16)
    decline_detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    held_by_agency_id: str | None = Field(default=None, max_length=36)
    # The addressed agency asks for more time: until when, and why (MASH staff decide).
    extension_until: datetime | None = Field(default=None,
                                             sa_column=Column(UTCDateTime, nullable=True))
    extension_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    extension_requested_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True))


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
