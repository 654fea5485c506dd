"""A school's acknowledgement that its designated safeguarding lead has read a notice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


class EncompassAcknowledgement(SQLModel, table=True):
    """The first read of one police notification by one school: who and when. Later
    reads are audited, not recorded here."""

    __tablename__ = "encompass_acknowledgements"

    referral_id: str = Field(primary_key=True, max_length=36)
    agency_id: str = Field(primary_key=True, max_length=64)
    read_by: str = Field(max_length=64)
    read_by_name: str | None = Field(default=None, max_length=200)
    read_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
