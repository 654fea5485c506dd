"""Intelligence tables: each referral's contexts, the index of values (adults, vehicles,
places, phones, handles) by the children they were seen with, and the alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime, new_id


class ReferralContext(SQLModel, table=True):
    """A context a referral gave: its kind and normalised value, as written."""

    __tablename__ = "referral_contexts"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(max_length=36, index=True, foreign_key="referrals.id")
    position: int = 0
    kind: str = Field(max_length=8)
    value: str = Field(max_length=200)


class IntelligenceEntry(SQLModel, table=True):
    """One value seen in a referral about one child: the index a new referral's values
    are looked up in (one indexed lookup per value). ``kind`` is ``adult`` (``value`` the
    adult's person id), ``vehicle``, ``place``, ``phone`` or ``online``. ``child`` is the
    child's person id (their subject id while a match review is open); ``household`` the
    child's home postcode, so children of one home count once for a place."""

    __tablename__ = "intelligence_index"
    __table_args__ = (Index("ix_intelligence_index_kind_value_seen", "kind", "value", "seen_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)
    value: str = Field(max_length=200)
    referral_id: str = Field(max_length=36, index=True)
    child: str = Field(max_length=48)  # a person id, or "subject:" and a subject id
    household: str | None = Field(default=None, max_length=10)
    subject_id: str | None = Field(default=None, max_length=36)  # the adult's subject
    source: str = Field(default="referral", max_length=16)  # referral | missing_episode
    seen_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Alert(SQLModel, table=True):
    """A value seen with two or more children: one alert per value, its evidence growing
    with each new referral. Dismissed, it stays dismissed until new evidence comes."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_alerts_kind_value"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    kind: str = Field(max_length=8)
    value: str = Field(max_length=200)
    status: str = Field(default="open", max_length=16, index=True)
    referral_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Missing episodes whose child was found at the place (a place alert).
    episode_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    children: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The adult's subjects, one per referral: how each was linked to the person.
    subject_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    raised_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What was known when it was last decided: later referrals are new evidence.
    decided_evidence: dict[str, Any] | None = Field(default=None,
                                                    sa_column=Column(JSON, nullable=True))
    version: int = 1


class Screening(SQLModel, table=True):
    """A structured risk screening of a referral (the first tool: CSE)."""

    __tablename__ = "screenings"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    referral_id: str = Field(max_length=36, index=True, foreign_key="referrals.id")
    tool: str = Field(max_length=16)
    tool_version: int = 1
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    score: int = 0
    category_scores: dict[str, Any] = Field(default_factory=dict,
                                            sa_column=Column(JSON, nullable=False))
    computed_level: str = Field(max_length=8)
    level: str = Field(max_length=8)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    screened_by: str = Field(max_length=100)
    screened_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class MissingEpisode(SQLModel, table=True):
    """A child missing from home or care: when, until when, where found; the return
    interview is due 72 hours (clock time) after the return, and its being overdue is
    announced once (``overdue_at`` claimed by a conditional update)."""

    __tablename__ = "missing_episodes"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    person_id: str | None = Field(default=None, max_length=36, index=True)
    subject: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    went_missing_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    returned_at: datetime | None = Field(default=None,
                                         sa_column=Column(UTCDateTime, nullable=True))
    found_at_place: str | None = Field(default=None, max_length=200)
    return_interview_due_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True, index=True))
    return_interview_at: datetime | None = Field(default=None,
                                                 sa_column=Column(UTCDateTime, nullable=True))
    return_interview_overdue_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True))
    recorded_by: str = Field(max_length=100)
    agency_id: str = Field(max_length=36)
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
