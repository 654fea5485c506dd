"""OAuth2 client credentials for partner systems: private_key_jwt (RFC 7523) or a secret.

Every refusal is an RFC 6749 section 5.2 error that never says whether the client exists.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import jwt
from sqlmodel import col, delete

from services.identity import passwords
from services.identity.keys import KeyStore
from services.identity.models import ApiClient, UsedClientAssertion
from services.identity.service import agency_kind
from shared import clock
from shared.auth import ACCESS_TOKEN_TYPE
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.settings import Settings
from shared.ssrf import UrlGuard, guarded_get

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 300  # seconds: NHS England's limit
CLOCK_SKEW = 5
API_SCOPE = "mash.api"


class OAuthError(Exception):
    """An RFC 6749 error response."""

    def __init__(self, error: str, description: str, *, status: int = 400,
                 basic_challenge: bool = False) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.basic_challenge = basic_challenge


def _invalid_client(basic: bool = False) -> OAuthError:
    return OAuthError("invalid_client", "Client authentication failed.",
                      status=401, basic_challenge=basic)


@dataclass(frozen=True)
class TokenRequest:
    """The parts of a token request identity looks at."""

    grant_type: str | None
    scope: str | None
    client_id: str | None
    client_assertion_type: str | None
    client_assertion: str | None
    authorization: str | None


def claimed_client_id(request: TokenRequest) -> str | None:
    """The client id a token request claims (unchecked): for counting its failures."""
    if request.authorization and request.authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(request.authorization.split(" ", 1)[1],
                                       validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return unquote(decoded.partition(":")[0]) or None
    if request.client_assertion:
        try:
            issuer = jwt.decode(request.client_assertion,
                                options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            issuer = None
        if isinstance(issuer, str) and issuer:
            return issuer
    return request.client_id or None


@dataclass(frozen=True)
class IssuedToken:
    """An access token and what the token endpoint says about it."""

    access_token: str
    expires_in: int
    scope: str


class JwksCache:
    """Clients' JWKS fetched from their registered URL, kept for a few minutes.

    Every fetch passes the SSRF guard first (DNS answers change after registration) and
    goes to the address it allowed.
    """

    def __init__(self, guard: UrlGuard, ttl: float = 300.0) -> None:
        self.guard = guard
        self.ttl = ttl
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        """The JWKS at ``url``, from the cache unless stale or ``refresh``.

        Raises UnsafeUrl when the URL may not be fetched, httpx.HTTPError or ValueError
        when the fetch fails.
        """
        cached = self._cache.get(url)
        if cached and not refresh and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        import httpx  # here, not at import: a start of the hub need not load it

        # No proxy from the environment: the guard checked where the URL resolves.
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=False,
                                     trust_env=False) as client:
            response = await guarded_get(client, self.guard, url)
            response.raise_for_status()
            document: dict[str, Any] = response.json()
        self._cache[url] = (time.monotonic(), document)
        return document


class ClientCredentialsGrant:
    """Authenticates partner systems and issues their access tokens."""

    def __init__(self, settings: Settings, keys: KeyStore, jwks_cache: JwksCache) -> None:
        self.settings = settings
        self.keys = keys
        self.jwks_cache = jwks_cache

    async def issue(self, uow: UnitOfWork, request: TokenRequest) -> IssuedToken:
        """Authenticate the client of ``request`` and issue its access token."""
        client = await self._authenticate(uow, request)
        if request.grant_type is None:
            raise OAuthError("invalid_request", "grant_type is required.")
        if request.grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
        if request.scope and set(request.scope.split()) - {API_SCOPE}:
            raise OAuthError("invalid_scope", f"The only scope is {API_SCOPE}.")
        lifetime = self.settings.access_token_minutes * 60
        now = int(clock.timestamp())
        claims = {
            "iss": self.settings.issuer,
            "sub": client.id,
            "aud": self.settings.api_audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": secrets.token_urlsafe(16),
            "agency_id": client.agency_id,
            "agency_kind": await agency_kind(uow, client.agency_id),
            "roles": client.roles,
            "scope": API_SCOPE,
            "kind": "client",
            "client_id": client.id,
        }
        token = await self.keys.sign(claims, token_type=ACCESS_TOKEN_TYPE)
        return IssuedToken(token, lifetime, API_SCOPE)

    async def _authenticate(self, uow: UnitOfWork, request: TokenRequest) -> ApiClient:
        basic = request.authorization is not None and \
            request.authorization.lower().startswith("basic ")
        if request.client_assertion is not None or request.client_assertion_type is not None:
            if basic:
                raise OAuthError("invalid_request", "Use one client authentication method.")
            if request.client_assertion_type != ASSERTION_TYPE or not request.client_assertion:
                raise OAuthError("invalid_request", "client_assertion_type must be "
                                 f"{ASSERTION_TYPE} with a client_assertion.")
            return await self._by_assertion(uow, request.client_assertion, request.client_id)
        if basic:
            assert request.authorization is not None
            return await self._by_secret(uow, request.authorization)
        raise _invalid_client()

    async def _by_secret(self, uow: UnitOfWork, authorization: str) -> ApiClient:
        try:
            decoded = base64.b64decode(authorization.split(" ", 1)[1], validate=True).decode()
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        except (ValueError, UnicodeDecodeError):
            raise _invalid_client(basic=True) from None
        client = await uow.session.get(ApiClient, client_id)
        # Verify against a dummy hash when there is no client, so timing tells nothing.
        stored = client.secret_hash if client and client.secret_hash else None
        matches = await passwords.hasher.verify(secret, stored)
        if client is None or not client.secret_hash:
            raise _invalid_client(basic=True)
        now = utcnow()
        if client.locked_until is not None and client.locked_until > now:
            raise _invalid_client(basic=True)  # even the right secret, until the lock ends
        if not matches:
            self._count_wrong_secret(uow, client, now)
            raise _invalid_client(basic=True)
        if client.failed_secrets:
            client.failed_secrets = 0
            uow.session.add(client)
        if not client.active:
            raise _invalid_client(basic=True)
        return client

    def _count_wrong_secret(self, uow: UnitOfWork, client: ApiClient, now: datetime) -> None:
        """Count a wrong secret; enough in a row lock the client's secret for a while."""
        client.failed_secrets += 1
        if client.failed_secrets >= self.settings.client_lockout_failures:
            client.locked_until = now + timedelta(minutes=self.settings.client_lockout_minutes)
            client.failed_secrets = 0
        uow.session.add(client)

    async def _by_assertion(self, uow: UnitOfWork, assertion: str,
                            client_id_param: str | None) -> ApiClient:
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise _invalid_client() from None
        client_id = unverified.get("iss")
        if not isinstance(client_id, str) or unverified.get("sub") != client_id:
            raise _invalid_client()
        if client_id_param is not None and client_id_param != client_id:
            raise _invalid_client()
        client = await uow.session.get(ApiClient, client_id)
        if client is None or not client.active:
            raise _invalid_client()
        algorithm = header.get("alg")
        if algorithm not in client.assertion_algorithms:
            raise _invalid_client()
        key = await self._client_key(client, header.get("kid"))
        if key is None:
            raise _invalid_client()
        try:
            claims = jwt.decode(
                assertion, key.key, algorithms=[algorithm],
                audience=self.settings.token_endpoint, issuer=client.id,
                options={"require": ["exp", "iss", "sub", "aud", "jti"]}, leeway=CLOCK_SKEW,
            )
        except jwt.PyJWTError:
            raise _invalid_client() from None
        now = time.time()
        if claims["exp"] - now > MAX_ASSERTION_LIFETIME + CLOCK_SKEW:
            raise _invalid_client()
        if not await self._first_use(uow, client.id, str(claims["jti"]), claims["exp"]):
            raise _invalid_client()
        return client

    async def _client_key(self, client: ApiClient, kid: Any) -> jwt.PyJWK | None:
        async def lookup(document: dict[str, Any]) -> jwt.PyJWK | None:
            keys = document.get("keys", [])
            candidates = [k for k in keys if kid is None or k.get("kid") == kid]
            if len(candidates) != 1:
                return None
            try:
                return jwt.PyJWK(candidates[0])
            except jwt.PyJWTError:
                return None

        if client.jwks:
            return await lookup(json.loads(client.jwks))
        if client.jwks_uri:
            import httpx

            try:
                key = await lookup(await self.jwks_cache.get(client.jwks_uri))
                if key is None:  # perhaps the client rotated its key: look once more
                    key = await lookup(await self.jwks_cache.get(client.jwks_uri, refresh=True))
                return key
            except (httpx.HTTPError, ValueError):  # UnsafeUrl is a ValueError
                return None
        return None

    async def _first_use(self, uow: UnitOfWork, client_id: str, jti: str, exp: int) -> bool:
        """Record the assertion's jti; False if it was seen before (a replay)."""
        expires_at = datetime.fromtimestamp(exp, UTC) + timedelta(seconds=CLOCK_SKEW)
        await uow.session.exec(delete(UsedClientAssertion).where(
            col(UsedClientAssertion.expires_at) < utcnow()))
        result = await uow.session.exec(
            uow.insert(UsedClientAssertion)
            .values(client_id=client_id, jti=jti[:255], expires_at=expires_at)
            .on_conflict_do_nothing()
        )
        return bool(result.rowcount)
