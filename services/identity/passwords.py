"""Password and secret hashing (argon2id), and TOTP second factors (RFC 6238)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, TypeVar

import pyotp
from cryptography.fernet import Fernet

from services.identity.hashing import password_hasher
from shared.crypto import fernet_for
from shared.problems import Problem
from shared.settings import Settings

T = TypeVar("T")
WORKER_NICE = 19  # the lowest priority (see _lower_priority)


@cache
def dummy_hash() -> str:
    """Compared against when an account does not exist, so the time taken reveals nothing.

    Made on first use, not at import: an argon2 hash takes a fifth of a second.
    """
    return password_hasher.hash(secrets.token_urlsafe(16))


class Hasher:
    """Hashes and verifies passwords and secrets on worker threads, never on the event loop.

    argon2-cffi releases the GIL while it works, so the loop keeps answering other
    requests meanwhile. Work waiting beyond ``max_waiting`` is refused at once (503)
    rather than queued for ever: a flood of sign-ins must not hold every later one.
    """

    def __init__(self, *, workers: int | None = None, max_waiting: int = 32) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.max_waiting = max_waiting
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight = 0

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="argon2",
                                            initializer=_lower_priority)
        return self._pool

    def refuse_if_busy(self) -> None:
        """Raise 503 with Retry-After if no more checks may wait (call before other work
        for a request, so a refused one costs next to nothing)."""
        if self._in_flight >= self.workers + self.max_waiting:
            raise Problem(503, "Too many sign-ins are being checked right now; try again "
                               "in a moment.", title="Busy", headers={"Retry-After": "1"})

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        self.refuse_if_busy()
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor(), func, *args)
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        """An argon2id hash of ``password``."""
        return await self._run(password_hasher.hash, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """True if ``password`` matches ``hashed``; None costs as much as a mismatch."""
        return await self._run(_verify, password, hashed)

    async def warm_up(self) -> None:
        """Make the dummy hash now, off the loop, rather than at the first sign-in."""
        await self._run(dummy_hash)

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _lower_priority() -> None:
    """Run this worker thread (and the threads argon2 starts from it) at the lowest CPU
    priority: a flood of password checks then takes only the CPU the event loop and
    everything else leave over, instead of a share equal to theirs."""
    if sys.platform == "linux":  # a thread's own nice value is Linux's alone
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICE)


# The process's hasher; identity's app sizes it from the settings when it is created.
hasher = Hasher()


def _verify(password: str, hashed: str | None) -> bool:
    # Looked up at call time, so tests can count the checks.
    return password_hasher.verify(password, hashed if hashed is not None else dummy_hash())

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
