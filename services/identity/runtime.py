"""What identity's requests share beyond the database, made once in its factory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.identity.keys import KeyStore
from services.identity.oauth import ClientCredentialsGrant
from services.identity.throttle import SignInThrottle
from shared.service import runtime_dependency
from shared.ssrf import UrlGuard


@dataclass
class IdentityRuntime:
    """The signing keys, the guard on partners' JWKS URLs, the token grant and the
    sign-in throttle."""

    keys: KeyStore
    guard: UrlGuard  # what partners' JWKS URLs may point at
    grant: ClientCredentialsGrant
    throttle: SignInThrottle


RuntimeDep = Annotated[IdentityRuntime, Depends(runtime_dependency(IdentityRuntime))]
