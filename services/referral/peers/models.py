"""Peer hubs, the notices sent to them, and each attempt at sending one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime, new_id

SAFEGUARDING_BASIS = "Children Act 2004 s11 / DPA 2018 Sch 8"

# What a unit of work notes when it queues a notice, so the commit wakes the sender.
PEER_NOTICES = "peer_notices"


class NoticeStatus(StrEnum):
    """Where a notice stands."""

    PENDING = "pending"  # due now, in flight, or waiting for its next retry
    DELIVERED = "delivered"
    DEAD = "dead"  # refused for good or out of retries; an admin may send it again
    NOT_SHARED = "not_shared"  # a decision not to share, with its reason


class PeerHub(SQLModel, table=True):
    """Another MASH hub, and the key this hub signs its client assertions there with."""

    __tablename__ = "peer_hubs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    la_code: str = Field(max_length=3, unique=True)
    base_url: str = Field(max_length=2000)
    client_id: str = Field(max_length=100)
    # The agency of the peer's partner system here: referrals it sends are known to be its.
    agency_id: str | None = Field(default=None, max_length=36, index=True)
    kid: str = Field(max_length=64)
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))
    private_key_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class PeerNotice(SQLModel, table=True):
    """One notice to one peer hub (or a decision not to send it): the ledger's line.

    ``id`` is the Idempotency-Key it is sent with: stable across retries, so the peer
    stores it once however often it is sent.
    """

    __tablename__ = "peer_notices"
    __table_args__ = (Index("ix_peer_notices_due", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    peer_hub_id: str = Field(max_length=36, index=True)
    referral_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=16)  # referral | decision | share
    status: str = Field(default=NoticeStatus.PENDING, max_length=16, index=True)
    legal_basis: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    shares_summary: bool = False
    decided_by: str | None = Field(default=None, max_length=100)
    body: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    committed_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))
    attempt_count: int = 0
    next_attempt_at: datetime | None = Field(default=None,
                                             sa_column=Column(UTCDateTime, nullable=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=200)
    dead_reason: str | None = Field(default=None, max_length=64)
    delivered_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))
    remote_referral_id: str | None = Field(default=None, max_length=36)
    remote_reference: str | None = Field(default=None, max_length=32)


class PeerNoticeAttempt(SQLModel, table=True):
    """One try at sending a notice: when, what the peer answered, how long it took."""

    __tablename__ = "peer_notice_attempts"

    id: int | None = Field(default=None, primary_key=True)
    notice_id: str = Field(max_length=36, index=True)
    attempted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status_code: int | None = None
    latency_ms: float
    error: str | None = Field(default=None, max_length=200)
