"""The audit log's tables: a hash chain of entries and its head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime

GENESIS = "0" * 64


class AuditEntry(SQLModel, table=True):
    """Who did what to which record, when, and why."""

    __tablename__ = "audit_entries"

    seq: int = Field(primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    actor: str = Field(max_length=100, index=True)
    actor_kind: str = Field(max_length=8)
    agency_id: str = Field(max_length=36)
    action: str = Field(max_length=32)
    record_type: str = Field(max_length=32)
    record_id: str = Field(max_length=64, index=True)
    purpose: str = Field(max_length=100)
    request_id: str | None = Field(default=None, max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The newest entry's sequence number and hash (one row)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS, max_length=64)
