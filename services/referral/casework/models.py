"""Case notes and strategy discussions: written once, never changed or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime, new_id


class CaseNote(SQLModel, table=True):
    """A note, a phone call, a meeting or a manager's oversight, on a referral."""

    __tablename__ = "case_notes"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(foreign_key="referrals.id", max_length=36, index=True)
    kind: str = Field(max_length=24)  # note | phone_call | meeting | management_oversight
    text: str = Field(sa_column=Column(Text, nullable=False))
    author_id: str = Field(max_length=100)
    author_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class StrategyDiscussion(SQLModel, table=True):
    """A strategy discussion about a referral: who attended for which agency, whether a
    section 47 enquiry follows, why, and the actions agreed."""

    __tablename__ = "strategy_discussions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(foreign_key="referrals.id", max_length=36, index=True)
    held_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    attendees: list[dict[str, Any]] = Field(default_factory=list,
                                            sa_column=Column(JSON, nullable=False))
    outcome: str = Field(max_length=24)  # s47_enquiry | no_s47 | further_information
    reasons: str = Field(sa_column=Column(Text, nullable=False))
    actions: list[dict[str, Any]] = Field(default_factory=list,
                                          sa_column=Column(JSON, nullable=False))
    recorded_by: str = Field(max_length=100)
    recorded_by_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
