"""Secrets kept at rest, encrypted with a key derived from MASH_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet

from shared.settings import Settings


def fernet_for(settings: Settings, purpose: str) -> Fernet:
    """A Fernet key for one purpose (e.g. "notify webhook secrets"), derived from the secret."""
    return fernet_from_secret(settings.secret_key.get_secret_value(), purpose)


def fernet_from_secret(secret: str, purpose: str) -> Fernet:
    """The Fernet key of ``fernet_for``, from the secret itself (for migrations)."""
    digest = hashlib.sha256(f"mash {purpose}\x00".encode() + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
