"""What the peer hub routes share, made once in the referral service's factory."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import Fernet

from services.referral.settings import HubSettings
from shared.ssrf import UrlGuard


@dataclass(frozen=True)
class PeerRuntime:
    """The key that seals peers' private keys, the URL guard, the hub's own settings and
    its public origin."""

    fernet: Fernet
    guard: UrlGuard
    hub: HubSettings
    origin: str
