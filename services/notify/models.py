"""Notify service tables: subscriptions, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime, new_id


class Channel(StrEnum):
    """How a subscription is reached."""

    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # due now, in flight, waiting for its next retry or for its turn
    DELIVERED = "delivered"
    DEAD = "dead"  # retries exhausted or subscription disabled; replayable by an admin
    NO_SUBSCRIPTION = "no_subscription"  # nobody subscribed to hear this event


class Subscription(SQLModel, table=True):
    """An agency's webhook endpoint or mailbox and the event types it wants."""

    __tablename__ = "subscriptions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    agency_id: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=16)
    url: str | None = Field(default=None, max_length=2048)
    address: str | None = Field(default=None, max_length=320)
    event_types: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    active: bool = True
    secret_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    previous_secret_encrypted: str | None = Field(default=None,
                                                  sa_column=Column(Text, nullable=True))
    previous_secret_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime, nullable=True))
    failing_since: datetime | None = Field(default=None,
                                           sa_column=Column(UTCDateTime, nullable=True))
    disabled_at: datetime | None = Field(default=None,
                                         sa_column=Column(UTCDateTime, nullable=True))
    disabled_reason: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class Delivery(SQLModel, table=True):
    """One event on its way to one subscription (or recorded as having no subscriber).

    ``id`` is the ``webhook-id``: stable across retries, so partners can drop duplicates.
    ``next_attempt_at`` is when a dispatcher may next take it; claiming moves it past the
    attempt's timeout, so a dispatcher that dies mid-attempt leaves it to another.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_ordering", "subscription_id", "referral_id", "event_time"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    event_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=128)
    referral_id: str | None = Field(default=None, max_length=36, index=True)
    status: str = Field(default=DeliveryStatus.PENDING, max_length=32, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    subscription_id: str | None = Field(default=None, max_length=36)
    agency_id: str | None = Field(default=None, max_length=64, index=True)
    channel: str | None = Field(default=None, max_length=16)
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A mailbox from the agency directory, for a delivery with no subscription (a school's
    # designated safeguarding lead, told of a police notification: Operation Encompass).
    address: str | None = Field(default=None, max_length=320)
    event_time: datetime | None = Field(default=None, sa_column=Column(UTCDateTime,
                                                                       nullable=True))
    # The referral's version the event was published at (received is 1): a partner hears
    # one referral's events in this order, whatever order they reach notify in.
    sequence: int | None = None
    attempt_count: int = 0
    next_attempt_at: datetime | None = Field(default=None,
                                             sa_column=Column(UTCDateTime, nullable=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=200)
    completed_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))
    dead_reason: str | None = Field(default=None, max_length=64)
    # The event's trace (W3C traceparent): each attempt's span continues it.
    traceparent: str | None = Field(default=None, max_length=55)


class DeliveryAttempt(SQLModel, table=True):
    """One try at a delivery: when, what the endpoint answered, how long it took."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=36, index=True)
    attempted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    status_code: int | None = None
    latency_ms: float
    error: str | None = Field(default=None, max_length=200)
