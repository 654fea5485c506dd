"""The audit log's tables: a hash chain of entries and its head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from services.referral.audit.hashchain import GENESIS
from shared.db import UTCDateTime

__all__ = ["GENESIS", "AuditEntry", "AuditHead", "AuditSeal"]


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
    # What else identifies the access, as JSON: a search's terms, say. Hashed when present.
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The newest entry's sequence number and hash (one row)."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS, max_length=64)


class AuditSeal(SQLModel, table=True):
    """The chain's head at a moment, sealed with a key the database does not hold: an
    entry up to ``seq`` cannot be changed, nor the chain recomputed, without breaking it."""

    __tablename__ = "audit_seals"

    seq: int = Field(primary_key=True)
    hash: str = Field(max_length=64)
    sealed_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    mac: str = Field(max_length=64)
