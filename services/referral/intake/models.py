"""Idempotency-Keys kept with the answer they were first given."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


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
