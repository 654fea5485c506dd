"""Email through SMTP (STARTTLS and login optional), plain text."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notify.channels import Outcome
from services.notify.models import Delivery, Subscription
from services.notify.settings import NotifySettings
from services.notify.templates import render


class EmailChannel:
    """Sends a delivery as a plain-text email to a subscription's address."""

    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def message(self, delivery: Delivery, subscription: Subscription) -> EmailMessage:
        """The email for ``delivery``; its Message-ID is stable across retries."""
        subject, body = render(delivery.payload or "{}")
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = subscription.address or ""
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{delivery.id}@mash-notify>"
        message.set_content(body)
        return message

    async def send(self, delivery: Delivery, subscription: Subscription) -> Outcome:
        """Hand the email to the SMTP server; accepted means delivered."""
        settings = self.settings
        if not settings.smtp_host:
            return Outcome(False, error="smtp not configured")
        if not subscription.address:
            return Outcome(False, error="no address")
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                self.message(delivery, subscription), hostname=settings.smtp_host,
                port=settings.smtp_port, start_tls=settings.smtp_starttls,
                username=settings.smtp_username, password=password,
                timeout=settings.smtp_timeout_seconds)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusals = sorted(exc.recipients, key=lambda refused: refused.code, reverse=True)
            return rejection(refusals[0].code, refusals[0].message) if refusals \
                else Outcome(False, error="recipients refused")
        except aiosmtplib.SMTPResponseException as exc:
            return rejection(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(False, error=type(exc).__name__)
        return Outcome(True, status_code=250)

    async def close(self) -> None:
        """Nothing to release: each send has its own connection."""


# 5xx answers about our own login are our configuration, not the mailbox: fixing the
# settings lets them through, so they are retried like a 4xx.
AUTHENTICATION_CODES = frozenset({530, 534, 535, 538})


def rejection(code: int, message: str) -> Outcome:
    """What an SMTP refusal comes to: a 5xx is permanent (dead-lettered at once, with the
    server's reason), a 4xx transient (retried)."""
    reason = " ".join(str(message).split())[:120]
    permanent = 500 <= code < 600 and code not in AUTHENTICATION_CODES
    return Outcome(False, status_code=code, error=f"SMTP {code} {reason}".strip(),
                   permanent=permanent)
