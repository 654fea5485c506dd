"""Notify service tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


class Delivery(SQLModel, table=True):
    """One event that notify has taken on to deliver, and where that stands.

    The partner-notification issue adds subscriptions, channels and attempts; until a
    subscription exists for an event, its delivery stays ``pending``.
    """

    __tablename__ = "deliveries"

    id: str = Field(default_factory=lambda: str(uuid.uuid4()), primary_key=True, max_length=36)
    event_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=128)
    referral_id: str | None = Field(default=None, max_length=36, index=True)
    status: str = Field(default="pending", max_length=32, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
