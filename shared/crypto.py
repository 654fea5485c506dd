"""Secrets kept at rest, encrypted with a key derived from MASH_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet

from shared.settings import Settings


def fernet_for(settings: Settings, purpose: str) -> Fernet:
    """A Fernet key for one purpose (e.g. "notify webhook secrets"), derived from the secret."""
    secret = settings.secret_key.get_secret_value().encode()
    digest = hashlib.sha256(f"mash {purpose}\x00".encode() + secret).digest()
    return Fernet(base64.urlsafe_b64encode(digest))
