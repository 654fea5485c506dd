"""Request and response shapes of the notify API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import EmailStr, Field, model_validator

from services.notify.events import EventType
from shared.pagination import PageLinks
from shared.schemas import Schema, Strict

ChannelName = Literal["webhook", "email"]
EventTypes = list[EventType]


class SubscriptionCreate(Strict):
    """A new webhook endpoint or mailbox for an agency."""

    channel: ChannelName
    url: str | None = Field(default=None, max_length=2048,
                            description="Webhooks: the https endpoint to POST to")
    address: EmailStr | None = Field(default=None, description="Email: the mailbox")
    event_types: EventTypes = Field(min_length=1)
    active: bool = True
    agency_id: str | None = Field(default=None, max_length=64,
                                  description="Admins only: the agency it belongs to")

    @model_validator(mode="after")
    def _one_destination_for_the_channel(self) -> Self:
        if self.channel == "webhook" and (not self.url or self.address):
            raise ValueError("a webhook subscription has a url and no address")
        if self.channel == "email" and (not self.address or self.url):
            raise ValueError("an email subscription has an address and no url")
        return self


class SubscriptionUpdate(Strict):
    """Changes to a subscription; ``active: true`` re-enables a disabled one."""

    url: str | None = Field(default=None, max_length=2048)
    address: EmailStr | None = None
    event_types: EventTypes | None = Field(default=None, min_length=1)
    active: bool | None = None


class SubscriptionView(Schema):
    """A subscription as its agency sees it (never its secret)."""

    id: str
    agency_id: str
    channel: ChannelName
    url: str | None
    address: str | None
    event_types: list[str]
    active: bool
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionView):
    """A new subscription; a webhook's secret is shown here once, never again."""

    secret: str | None = None


class SecretRotated(Schema):
    """A new webhook secret, shown once; the old one also signs until the time given."""

    secret: str
    previous_secret_valid_until: datetime


class AttemptView(Schema):
    """One attempt at a delivery."""

    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryView(Schema):
    """A delivery in the log: its event, where it goes, and how it has gone so far."""

    id: str
    event_id: str
    event_type: str
    referral_id: str | None
    subscription_id: str | None
    agency_id: str | None
    channel: str | None
    status: str
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    dead_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    attempts: list[AttemptView]


class DeliveryPage(Schema):
    """One page of the delivery log, newest first."""

    items: list[DeliveryView]
    links: PageLinks
