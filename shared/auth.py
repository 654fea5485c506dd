"""Who is calling, checked locally in every service: access tokens and session cookies.

Identity signs JWTs (access tokens for API clients, session tokens for staff) with an
asymmetric key and publishes the public keys as a JWKS. Every service verifies tokens
against a cached copy of that JWKS: no call to identity per request. A token whose
``kid`` is unknown triggers one refetch (rate-limited), which is how a rotated key is
learnt. Staff sign-outs reach the other services as ``mash.session.ended`` events and
are kept in each service's ``revoked_sessions`` table until the session would have
expired anyway.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from shared import clock as hub_clock
from shared.db import UnitOfWork, UTCDateTime
from shared.events import CloudEvent, utcnow
from shared.problems import Problem

ALLOWED_ALGORITHMS = ("ES256", "RS256")
SESSION_COOKIE = "mash_session"
# A header a cross-site HTML form cannot send; the web client sends it on every change.
CSRF_HEADER = "x-mash-csrf"
SESSION_ENDED = "mash.session.ended"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JWT "typ", not a secret
SESSION_TOKEN_TYPE = "session+jwt"  # noqa: S105
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

JwksSource = Callable[[], Awaitable[dict[str, Any]]]


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (for logs and tests, not callers)."""


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a member of staff or a partner system, and its agency."""

    subject: str
    agency_id: str
    roles: frozenset[str]
    kind: str  # "user" or "client"
    token_id: str
    session_id: str | None = None
    scope: str = ""
    # What kind of agency the caller speaks for (police, health, school, local_authority,
    # other), as identity vouched when it issued the token; None in tokens from before.
    agency_kind: str | None = None

    def has_any_role(self, roles: Iterable[str]) -> bool:
        """True if the caller holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)


def http_jwks_source(url: str, *, timeout: float = 5.0) -> JwksSource:
    """Fetch the JWKS from identity over HTTP (deployment mode)."""

    async def fetch() -> dict[str, Any]:
        import httpx  # here, not at import: `mash up` reads its keys in process

        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            response = await client.get(url)
            response.raise_for_status()
            keys: dict[str, Any] = response.json()
            return keys

    return fetch


LEEWAY_SECONDS = 5  # clock skew allowed between identity and the services
VERIFIED_TOKENS_KEPT = 4096


@dataclass
class TokenVerifier:
    """Verifies identity's JWTs from a cached JWKS, with pinned algorithms."""

    issuer: str
    audience: str
    jwks_source: JwksSource
    refetch_interval: float = 30.0
    clock: Callable[[], float] = hub_clock.timestamp
    _keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    _fetched_at: float = float("-inf")
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Tokens already verified, with their claims and key id: a partner system sends the
    # same access token with every request until it expires, and checking its signature
    # again each time was a tenth of intake's CPU. Expiry and the key are checked at
    # every use; a key gone from the JWKS takes its tokens with it.
    _verified: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = field(
        default_factory=OrderedDict)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.refetch_interval:
                return
            self._fetched_at = time.monotonic()
            try:
                document = await self.jwks_source()
            except Exception as exc:
                raise InvalidToken(f"JWKS unavailable: {type(exc).__name__}") from exc
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise InvalidToken("JWKS unavailable: not a JWK set")
            keys: dict[str, jwt.PyJWK] = {}
            for jwk in document["keys"]:
                if not isinstance(jwk, dict):
                    continue
                if jwk.get("kid") and jwk.get("alg") in ALLOWED_ALGORITHMS:
                    try:
                        keys[jwk["kid"]] = jwt.PyJWK(jwk)
                    except jwt.PyJWTError:
                        continue
            self._keys = keys

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        return key

    async def verify(self, token: str, *, token_type: str) -> dict[str, Any]:
        """The claims of a valid token of ``token_type``; raise InvalidToken otherwise."""
        cached = self._verified.get((token_type, token))
        if cached is not None:
            kid, claims = cached
            if claims["exp"] <= self.clock() - LEEWAY_SECONDS:
                del self._verified[(token_type, token)]
                raise InvalidToken("ExpiredSignatureError")
            if kid in self._keys:
                self._verified.move_to_end((token_type, token))
                return claims
            del self._verified[(token_type, token)]  # its key has gone: verify again
        claims = await self._verify(token, token_type)
        self._verified[(token_type, token)] = (self._kid_of(token), claims)
        if len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return claims

    @staticmethod
    def _kid_of(token: str) -> str:
        return str(jwt.get_unverified_header(token)["kid"])

    async def _verify(self, token: str, token_type: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise InvalidToken(f"algorithm {algorithm!r} not allowed")
        if header.get("typ") != token_type:
            raise InvalidToken("wrong token type")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("no kid")
        key = await self._key(kid)
        if key.algorithm_name != algorithm:
            raise InvalidToken("algorithm does not match the key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                # Times are checked below against the hub's clock (shared.clock).
                options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"],
                         "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        self._check_times(claims)
        return claims

    def _check_times(self, claims: dict[str, Any]) -> None:
        now = self.clock()
        try:
            expires, issued = float(claims["exp"]), float(claims["iat"])
            not_before = float(claims["nbf"]) if claims.get("nbf") is not None else None
        except (TypeError, ValueError) as exc:
            raise InvalidToken("times are not numbers") from exc
        if expires <= now - LEEWAY_SECONDS:
            raise InvalidToken("ExpiredSignatureError")
        if not_before is not None and not_before > now + LEEWAY_SECONDS:
            raise InvalidToken("ImmatureSignatureError")
        if not_before is None and issued > now + LEEWAY_SECONDS:
            raise InvalidToken("issued in the future")


class RevokedSession(SQLModel, table=True):
    """A staff session that has ended (signed out or disabled) before its expiry."""

    __tablename__ = "revoked_sessions"

    session_id: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


def session_ended_event(session_id: str, expires_at: datetime) -> CloudEvent:
    """`mash.session.ended`: every service stops accepting the session."""
    return CloudEvent(source="/services/identity", type=SESSION_ENDED, subject=session_id,
                      data={"session_id": session_id, "expires_at": expires_at.isoformat()})


async def record_session_ended(uow: UnitOfWork, event: CloudEvent) -> None:
    """Consumer: remember an ended session until it would have expired."""
    expires_at = datetime.fromisoformat(event.data["expires_at"])
    await uow.session.exec(
        uow.insert(RevokedSession)
        .values(session_id=event.data["session_id"], expires_at=expires_at)
        .on_conflict_do_nothing()
    )
    await uow.session.exec(  # housekeeping: forget sessions that have expired anyway
        RevokedSession.__table__.delete().where(  # type: ignore[attr-defined]
            RevokedSession.__table__.c.expires_at < utcnow()  # type: ignore[attr-defined]
        )
    )


RevocationCheck = Callable[[str], Awaitable[bool]]


def revocation_check_from_table(database: Any) -> RevocationCheck:
    """Check a session id against this service's ``revoked_sessions`` table."""

    async def is_revoked(session_id: str) -> bool:
        async with database.unit_of_work() as uow:
            found = await uow.session.get(RevokedSession, session_id)
            return found is not None

    return is_revoked


@dataclass
class Authenticator:
    """Turns a request's bearer token or session cookie into a Principal."""

    verifier: TokenVerifier
    is_revoked: RevocationCheck

    async def authenticate(self, request: Request) -> Principal:
        """The caller of ``request``; 401 problem if there is none or it is not valid."""
        authorization = request.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            claims = await self._verify(credentials.strip(), ACCESS_TOKEN_TYPE)
            return _principal(claims)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            claims = await self._verify(cookie, SESSION_TOKEN_TYPE)
            session_id = claims.get("sid")
            if not isinstance(session_id, str) or await self.is_revoked(session_id):
                raise _unauthenticated("Your session has ended. Sign in again.")
            if request.method in UNSAFE_METHODS and request.headers.get(CSRF_HEADER) != "1":
                raise Problem(403, f"A change made with a session cookie must carry the "
                                   f"{CSRF_HEADER} header.", title="Forbidden")
            return _principal(claims)
        raise _unauthenticated("Sign in, or send an access token as a Bearer token.")

    async def _verify(self, token: str, token_type: str) -> dict[str, Any]:
        try:
            return await self.verifier.verify(token, token_type=token_type)
        except InvalidToken as exc:
            raise _unauthenticated("The token or session is not valid or has expired.",
                                   invalid=True) from exc


def _unauthenticated(detail: str, *, invalid: bool = False) -> Problem:
    # RFC 6750 section 3.1: say "invalid_token" when a token was sent and refused.
    challenge = 'Bearer realm="mash", error="invalid_token"' if invalid else 'Bearer realm="mash"'
    return Problem(401, detail, title="Unauthorized", headers={"WWW-Authenticate": challenge})


def _principal(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles") or []
    return Principal(
        subject=str(claims["sub"]),
        agency_id=str(claims.get("agency_id", "")),
        roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
        kind=str(claims.get("kind", "client")),
        token_id=str(claims["jti"]),
        session_id=claims.get("sid"),
        scope=str(claims.get("scope", "")),
        agency_kind=str(claims["agency_kind"]) if claims.get("agency_kind") else None,
    )


async def get_authenticator(request: Request) -> Authenticator:
    """The authenticator of the service handling this request (async: FastAPI runs a
    plain function dependency in its thread pool, a thread hop on every request)."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator


async def current_principal(
    request: Request, authenticator: Annotated[Authenticator, Depends(get_authenticator)]
) -> Principal:
    """Dependency: the authenticated caller, or 401."""
    return await authenticator.authenticate(request)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class RolePermission:
    """A permission held by callers with any of the given roles.

    Services name their permissions for what they allow, for example
    ``ReferralSubmitPermission = RolePermission("submit referrals", ...)``, and use them
    as route dependencies: ``caller: Annotated[Principal, Depends(ReferralSubmitPermission)]``.
    """

    def __init__(self, action: str, *roles: str) -> None:
        self.action = action
        self.roles = frozenset(roles)

    async def __call__(self, principal: CurrentPrincipal) -> Principal:
        if not principal.has_any_role(self.roles):
            raise Problem(403, f"You are not allowed to {self.action}.", title="Forbidden")
        return principal

