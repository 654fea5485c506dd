"""Request headers the referral service's routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

IdempotencyKeyHeader = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=255,
    description="Retry safely: the same key and body within 24 hours returns the first "
                "answer; the same key with another body is 422; while the first request "
                "is still being handled, 409.")]
PurposeHeader = Annotated[str | None, Header(
    alias="X-Purpose", max_length=100,
    description="Why you are reading (recorded in the audit log). MASH staff default to "
                "'triage'; partners to 'referrer_follow_up'.")]
IfMatch = Annotated[str | None, Header(
    alias="If-Match", description="the ETag of the referral as you last read it")]
