"""Events the notify service consumes."""

from __future__ import annotations

QUEUE = "notify.partner-events"
CONSUMED = ("mash.referral.received",)
