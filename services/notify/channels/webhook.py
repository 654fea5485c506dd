"""Signed webhooks per Standard Webhooks: POST, 2xx only, no redirects followed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from services.notify.channels import Outcome
from services.notify.models import Delivery, Subscription
from services.notify.secret_box import SecretBox
from services.notify.signing import signature_header
from shared.events import utcnow
from shared.ssrf import OutboundClient, UnsafeUrl, UrlGuard, host_header, pinned_url

if TYPE_CHECKING:
    import httpx

USER_AGENT = "mash-notify/0.1 (Standard Webhooks)"


class WebhookChannel:
    """Posts a delivery's body to a subscription's URL, signed with its secret(s)."""

    name = "webhook"
    client = OutboundClient()

    def __init__(self, guard: UrlGuard, secrets: SecretBox, *, timeout: float,
                 clock: Callable[[], datetime] = utcnow,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.guard = guard
        self.secrets = secrets
        self.clock = clock
        self.timeout = timeout
        self.transport = transport

    async def send(self, delivery: Delivery, subscription: Subscription) -> Outcome:
        """One signed POST; the answer's status decides, its body is never read."""
        import httpx

        if not subscription.url or delivery.payload is None:
            return Outcome(False, error="no url")
        try:
            addresses = await self.guard.check(subscription.url)
        except UnsafeUrl:
            return Outcome(False, error="address not allowed")
        now = self.clock()
        timestamp = int(now.timestamp())
        body = delivery.payload.encode()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                self.secrets.signing_secrets(subscription, now), delivery.id, timestamp, body),
            "host": host_header(subscription.url),
        }
        # Connect to an address just checked (the next one if it refuses), naming the host
        # in Host and in TLS (SNI and the certificate check): the name is resolved once, so
        # it cannot be rebound between the check and the connection.
        hostname = urlsplit(subscription.url).hostname or ""
        for n, address in enumerate(addresses, start=1):
            try:
                async with self.client.stream(
                        "POST", pinned_url(subscription.url, address), content=body,
                        headers=headers, extensions={"sni_hostname": hostname}) as response:
                    code = response.status_code
                    retry_after = response.headers.get("retry-after")
                break
            except httpx.ConnectError as exc:
                if n == len(addresses):
                    return Outcome(False, error=type(exc).__name__)
            except httpx.TimeoutException:
                return Outcome(False, error="timeout")
            except httpx.HTTPError as exc:
                return Outcome(False, error=type(exc).__name__)
        if 200 <= code < 300:
            return Outcome(True, status_code=code)
        wait = parse_retry_after(retry_after, now) if code in (429, 503) else None
        return Outcome(False, status_code=code, error=f"HTTP {code}", retry_after=wait,
                       gone=code == 410)

    async def close(self) -> None:
        """Close the connection pool."""
        await WebhookChannel.client.close(self)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
