"""Webhook secrets at rest: encrypted with a key derived from MASH_SECRET_KEY."""

from __future__ import annotations

from datetime import datetime

from services.notify.models import Subscription
from shared.crypto import fernet_for
from shared.settings import Settings


class SecretBox:
    """Encrypts and decrypts subscriptions' webhook secrets."""

    def __init__(self, settings: Settings) -> None:
        self._fernet = fernet_for(settings, "notify webhook secrets")

    def seal(self, secret: str) -> str:
        """The encrypted form of ``secret``, for the database."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret inside ``sealed``."""
        return self._fernet.decrypt(sealed.encode()).decode()

    def signing_secrets(self, subscription: Subscription, now: datetime) -> list[str]:
        """The current secret, and the previous one while its grace period lasts."""
        found = [self.open(subscription.secret_encrypted)] if subscription.secret_encrypted \
            else []
        expires = subscription.previous_secret_expires_at
        if subscription.previous_secret_encrypted and expires is not None and expires > now:
            found.append(self.open(subscription.previous_secret_encrypted))
        return found
