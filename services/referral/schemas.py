"""Request and response shapes of the referral API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from services.referral.codes import REFERRAL_SOURCES


class ReferralCreate(BaseModel):
    """The body of POST /api/v1/referrals (the intake issue completes it)."""

    source: str = Field(description="CIN census referral source code, e.g. '6' for police",
                        json_schema_extra={"enum": list(sorted(REFERRAL_SOURCES))})
    kind: Literal["referral", "notification"] = "referral"
    immediate_risk: bool = False
    summary: str | None = Field(default=None, max_length=20_000)
    external_reference: str | None = Field(default=None, max_length=100)

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in REFERRAL_SOURCES:
            raise ValueError("not a CIN census referral source code")
        return value


class ReferralLinks(BaseModel):
    """Where to find the referral."""

    self: str


class ReferralReceipt(BaseModel):
    """What a referrer gets back: enough to track the referral."""

    id: str
    reference: str
    status: str
    received_at: datetime
    links: ReferralLinks
