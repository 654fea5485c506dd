"""Email through SMTP (STARTTLS and login optional), plain text."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notify.channels import Outcome
from services.notify.models import Delivery, Subscription
from services.notify.templates import render
from shared.settings import Settings


class EmailChannel:
    """Sends a delivery as a plain-text email to a subscription's address."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
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
        except aiosmtplib.SMTPResponseException as exc:
            return Outcome(False, status_code=exc.code, error=f"SMTP {exc.code}")
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(False, error=type(exc).__name__)
        return Outcome(True, status_code=250)

    async def close(self) -> None:
        """Nothing to release: each send has its own connection."""
