"""Referral service tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


class ReferralBase(SQLModel):
    """Fields a referrer supplies."""

    source: str = Field(max_length=4)
    kind: str = Field(default="referral", max_length=16)
    immediate_risk: bool = False
    external_reference: str | None = Field(default=None, max_length=100)


class Referral(ReferralBase, table=True):
    """A referral (or information-only notification) received by the hub."""

    __tablename__ = "referrals"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    reference: str = Field(max_length=32, unique=True)
    status: str = Field(default="received", max_length=32, index=True)
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    referring_agency_id: str = Field(max_length=36, index=True)
    submitted_by: str = Field(max_length=100)
    received_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class ReferenceCounter(SQLModel, table=True):
    """The last reference number issued in a year (MASH-<year>-<number>)."""

    __tablename__ = "reference_counters"

    year: int = Field(primary_key=True)
    last_number: int = 0
