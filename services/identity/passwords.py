"""Password and secret hashing (argon2id), and TOTP second factors (RFC 6238)."""

from __future__ import annotations

import base64
import secrets
from functools import cache

import pyotp
from cryptography.fernet import Fernet
from pwdlib import PasswordHash

from shared.crypto import fernet_for
from shared.settings import Settings

password_hasher = PasswordHash.recommended()  # argon2id


@cache
def dummy_hash() -> str:
    """Compared against when an account does not exist, so the time taken reveals nothing.

    Made on first use, not at import: an argon2 hash takes a fifth of a second.
    """
    return password_hasher.hash(secrets.token_urlsafe(16))

TOTP_ISSUER = "MASH hub"
# TOTP secrets are kept encrypted with a key derived for this purpose (migration 0004 too).
TOTP_PURPOSE = "identity TOTP secrets"


def new_totp_secret() -> str:
    """A 160-bit TOTP secret in base32, as authenticator apps expect."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def _totp_box(settings: Settings) -> Fernet:
    return fernet_for(settings, TOTP_PURPOSE)


def seal_totp_secret(settings: Settings, secret: str) -> str:
    """A TOTP secret as the database keeps it: encrypted, as signing keys are."""
    return _totp_box(settings).encrypt(secret.encode()).decode()


def open_totp_secret(settings: Settings, sealed: str) -> str:
    """The TOTP secret of ``seal_totp_secret``."""
    return _totp_box(settings).decrypt(sealed.encode()).decode()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def matching_totp_step(secret: str, code: str, *, at: float, after_step: int) -> int | None:
    """The 30-second step ``code`` belongs to (one step of drift either way), or None.

    Steps up to ``after_step`` are refused: a code is accepted once only.
    """
    totp = pyotp.TOTP(secret)
    step_now = int(at // totp.interval)
    # Compared as bytes: compare_digest refuses str with characters outside ASCII.
    given = code.strip().replace(" ", "").encode()
    matched = None
    for step in (step_now - 1, step_now, step_now + 1):
        # Always compare all three, so timing does not depend on which matched.
        if secrets.compare_digest(totp.generate_otp(step).encode(), given) and step > after_step:
            matched = step
    return matched
