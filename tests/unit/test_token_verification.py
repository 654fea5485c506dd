"""Tokens are verified locally from a cached JWKS, and every forgery or misuse is refused.

The verifier is tested on its own (keys made here with cryptography, a JWKS source that
counts its calls, a controllable monotonic clock for the refetch rate limit), then the
Authenticator through a minimal FastAPI app: bearer tokens, session cookies, CSRF, revoked
sessions and role permissions.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

import shared.auth
from shared.auth import (
    ACCESS_TOKEN_TYPE,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_TOKEN_TYPE,
    Authenticator,
    CurrentPrincipal,
    InvalidToken,
    Principal,
    RolePermission,
    TokenVerifier,
)
from shared.problems import install_problem_handlers

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "mash"
INTERVAL = 30.0


# Keys, tokens and a JWKS source --------------------------------------------------------

@dataclass(frozen=True)
class Key:
    """A private key, the algorithm it signs with, and its public JWK."""

    kid: str
    alg: str
    private_pem: bytes
    public_pem: bytes
    public_jwk: dict[str, Any]


def ec_key(kid: str) -> Key:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
    return Key(kid, "ES256", _private_pem(private), _public_pem(private.public_key()), jwk)


def rsa_key(kid: str) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
    return Key(kid, "RS256", _private_pem(private), _public_pem(private.public_key()), jwk)


def _private_pem(private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def _public_pem(public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def es_key() -> Key:
    return ec_key("es-1")


@pytest.fixture(scope="module")
def rs_key() -> Key:
    return rsa_key("rs-1")


def claims_for(**overrides: Any) -> dict[str, Any]:
    """An access token's claims, as identity issues them for a partner system."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": "northshire-police-system", "aud": AUDIENCE,
        "iat": now, "nbf": now, "exp": now + 900, "jti": uuid.uuid4().hex,
        "agency_id": "agency-police", "roles": ["partner_system"], "scope": "mash.api",
        "kind": "client", "client_id": "northshire-police-system",
    }
    claims.update(overrides)
    return claims


def session_claims(**overrides: Any) -> dict[str, Any]:
    """A staff session token's claims."""
    return claims_for(sub="user-1", kind="user", sid="session-1", roles=["mash_practitioner"],
                      username="practitioner", scope=None, client_id=None, **overrides)


def sign(key: Key, claims: dict[str, Any] | None = None, *, typ: str = ACCESS_TOKEN_TYPE,
         kid: str | None = "", alg: str | None = None, drop: Iterable[str] = ()) -> str:
    """A token signed with ``key``; ``kid=""`` means the key's own kid, None means none."""
    body = dict(claims if claims is not None else claims_for())
    for name in drop:
        body.pop(name)
    headers: dict[str, Any] = {"typ": typ}
    if kid is not None:
        headers["kid"] = kid or key.kid
    return jwt.encode(body, key.private_pem, algorithm=alg or key.alg, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> tuple[
        str, bytes]:
    """A token built by hand (PyJWT will not make the forged ones); also the signing input."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(signature)}", signing_input.encode()


class CountingJwks:
    """A JWKS source that serves whichever keys are published now, counting its calls."""

    def __init__(self, *keys: Key) -> None:
        self.keys = list(keys)
        self.calls = 0
        self.error: Exception | None = None
        self.document: Any = None  # served instead of the keys when set

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.error is not None:
            raise self.error
        if self.document is not None:
            document: dict[str, Any] = self.document
            return document
        return {"keys": [key.public_jwk for key in self.keys]}


class FakeMonotonic:
    """Stands in for time.monotonic inside shared.auth only (not for the event loop)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    clock = FakeMonotonic()
    # Replace the module's `time`, not time.monotonic itself, which asyncio also uses.
    monkeypatch.setattr(shared.auth, "time", SimpleNamespace(monotonic=clock, time=time.time))
    return clock


def verifier_for(source: CountingJwks, **kwargs: Any) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, source, refetch_interval=INTERVAL, **kwargs)


@pytest.fixture
def jwks(es_key: Key, rs_key: Key) -> CountingJwks:
    return CountingJwks(es_key, rs_key)


@pytest.fixture
def verifier(jwks: CountingJwks, monotonic: FakeMonotonic) -> TokenVerifier:
    return verifier_for(jwks)


async def refused(verifier: TokenVerifier, token: str, token_type: str = ACCESS_TOKEN_TYPE
                  ) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token, token_type=token_type)
    return caught.value


# What is accepted -----------------------------------------------------------------------

async def test_valid_es256_access_token_is_accepted_with_its_claims(
    verifier: TokenVerifier, es_key: Key, jwks: CountingJwks
) -> None:
    expected = claims_for()
    claims = await verifier.verify(sign(es_key, expected), token_type=ACCESS_TOKEN_TYPE)
    assert claims == expected
    assert jwks.calls == 1


async def test_valid_rs256_access_token_is_accepted(
    verifier: TokenVerifier, rs_key: Key
) -> None:
    claims = await verifier.verify(sign(rs_key), token_type=ACCESS_TOKEN_TYPE)
    assert claims["sub"] == "northshire-police-system"


async def test_valid_session_token_is_accepted_as_a_session(
    verifier: TokenVerifier, es_key: Key
) -> None:
    token = sign(es_key, session_claims(), typ=SESSION_TOKEN_TYPE)
    claims = await verifier.verify(token, token_type=SESSION_TOKEN_TYPE)
    assert claims["sid"] == "session-1" and claims["kind"] == "user"


async def test_known_kid_is_served_from_the_cache_without_fetching_again(
    verifier: TokenVerifier, es_key: Key, rs_key: Key, jwks: CountingJwks
) -> None:
    for _ in range(5):
        await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)
        await verifier.verify(sign(rs_key), token_type=ACCESS_TOKEN_TYPE)
    assert jwks.calls == 1


# Algorithms and keys ----------------------------------------------------------------------

async def test_alg_none_is_refused(verifier: TokenVerifier, es_key: Key) -> None:
    for alg in ("none", "None", "NONE"):
        token, _ = handmade({"alg": alg, "typ": ACCESS_TOKEN_TYPE, "kid": es_key.kid},
                            claims_for())
        error = await refused(verifier, token)
        assert "not allowed" in str(error)


@pytest.mark.parametrize("secret_of", ["public_pem", "public_jwk_json"])
async def test_hs256_signed_with_the_public_key_is_refused(
    verifier: TokenVerifier, es_key: Key, rs_key: Key, secret_of: str
) -> None:
    """The classic key confusion: an HMAC "signed" with what the attacker can download."""
    for key in (es_key, rs_key):
        secret = key.public_pem if secret_of == "public_pem" else \
            json.dumps(key.public_jwk).encode()
        header = {"alg": "HS256", "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
        _, signing_input = handmade(header, claims_for())
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        token, _ = handmade(header, claims_for(), mac)
        await refused(verifier, token)


async def test_token_signed_by_a_different_key_under_a_known_kid_is_refused(
    verifier: TokenVerifier, es_key: Key
) -> None:
    impostor = ec_key(es_key.kid)
    error = await refused(verifier, sign(impostor))
    assert "InvalidSignatureError" in str(error)


async def test_header_alg_that_does_not_match_the_keys_alg_is_refused(
    verifier: TokenVerifier, es_key: Key, rs_key: Key
) -> None:
    """RS256 in the header, naming the ES256 key's kid: refused before any decoding."""
    token = sign(rs_key, kid=es_key.kid, alg="RS256")
    error = await refused(verifier, token)
    assert "does not match" in str(error)


async def test_unknown_kid_is_refused(verifier: TokenVerifier) -> None:
    stranger = ec_key("nobody-published-this")
    error = await refused(verifier, sign(stranger))
    assert "unknown kid" in str(error)


async def test_missing_kid_is_refused(verifier: TokenVerifier, es_key: Key,
                                      jwks: CountingJwks) -> None:
    error = await refused(verifier, sign(es_key, kid=None))
    assert "no kid" in str(error)
    assert jwks.calls == 0, "a token without a kid does not make the verifier fetch"


async def test_malformed_token_is_refused(verifier: TokenVerifier) -> None:
    for token in ("", "not-a-jwt", "a.b.c", "e30.e30"):
        await refused(verifier, token)


# Token type ----------------------------------------------------------------------------------

async def test_session_token_used_as_an_access_token_is_refused(
    verifier: TokenVerifier, es_key: Key
) -> None:
    session = sign(es_key, session_claims(), typ=SESSION_TOKEN_TYPE)
    error = await refused(verifier, session, ACCESS_TOKEN_TYPE)
    assert "wrong token type" in str(error)


async def test_access_token_used_as_a_session_token_is_refused(
    verifier: TokenVerifier, es_key: Key
) -> None:
    error = await refused(verifier, sign(es_key), SESSION_TOKEN_TYPE)
    assert "wrong token type" in str(error)


async def test_plain_jwt_typ_or_no_typ_is_refused(verifier: TokenVerifier, es_key: Key) -> None:
    await refused(verifier, sign(es_key, typ="JWT"))
    token = jwt.encode(claims_for(), es_key.private_pem, algorithm="ES256",
                       headers={"kid": es_key.kid, "typ": None})
    assert "typ" not in jwt.get_unverified_header(token)
    await refused(verifier, token)


# Claims -------------------------------------------------------------------------------------

async def test_expired_token_is_refused(verifier: TokenVerifier, es_key: Key) -> None:
    now = int(time.time())
    error = await refused(verifier, sign(es_key, claims_for(iat=now - 960, nbf=now - 960,
                                                            exp=now - 60)))
    assert "ExpiredSignatureError" in str(error)


async def test_token_not_yet_valid_is_refused(verifier: TokenVerifier, es_key: Key) -> None:
    error = await refused(verifier, sign(es_key, claims_for(nbf=int(time.time()) + 60)))
    assert "ImmatureSignatureError" in str(error)


async def test_token_issued_in_the_future_without_nbf_is_refused(
    verifier: TokenVerifier, es_key: Key
) -> None:
    token = sign(es_key, claims_for(iat=int(time.time()) + 60), drop=["nbf"])
    await refused(verifier, token)


async def test_wrong_issuer_is_refused(verifier: TokenVerifier, es_key: Key) -> None:
    for issuer in ("https://evil.example", ISSUER + "/", "http://127.0.0.1:8001"):
        error = await refused(verifier, sign(es_key, claims_for(iss=issuer)))
        assert "InvalidIssuerError" in str(error)


async def test_wrong_audience_is_refused(verifier: TokenVerifier, es_key: Key) -> None:
    for audience in ("another-api", f"{ISSUER}/oauth2/token", ["another-api"]):
        error = await refused(verifier, sign(es_key, claims_for(aud=audience)))
        assert "InvalidAudienceError" in str(error)


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "iss", "aud", "sub"])
async def test_token_missing_a_required_claim_is_refused(
    verifier: TokenVerifier, es_key: Key, claim: str
) -> None:
    error = await refused(verifier, sign(es_key, drop=[claim]))
    assert "MissingRequiredClaimError" in str(error)


# Fetching the JWKS: refetch on unknown kid, rate limit, rotation, failures -------------------

async def test_unknown_kid_refetches_once_then_is_rate_limited_until_the_interval_passes(
    verifier: TokenVerifier, es_key: Key, jwks: CountingJwks, monotonic: FakeMonotonic
) -> None:
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)
    assert jwks.calls == 1  # first use: the cache is empty
    monotonic.advance(INTERVAL + 1)

    await refused(verifier, sign(ec_key("unknown-1")))
    assert jwks.calls == 2, "an unknown kid triggers exactly one refetch"

    monotonic.advance(1)
    await refused(verifier, sign(ec_key("unknown-2")))
    await refused(verifier, sign(ec_key("unknown-1")))
    assert jwks.calls == 2, "no second refetch within the interval"
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)  # known keys still work

    monotonic.advance(INTERVAL)
    await refused(verifier, sign(ec_key("unknown-3")))
    assert jwks.calls == 3, "after the interval an unknown kid refetches again"


async def test_flood_of_concurrent_unknown_kids_fetches_once(
    verifier: TokenVerifier, es_key: Key, jwks: CountingJwks
) -> None:
    strangers = [sign(ec_key(f"unknown-{i}")) for i in range(10)]
    results = await asyncio.gather(
        *(verifier.verify(token, token_type=ACCESS_TOKEN_TYPE) for token in strangers),
        return_exceptions=True)
    assert all(isinstance(result, InvalidToken) for result in results)
    assert jwks.calls == 1


async def test_rotated_key_is_learnt_by_refetching_on_its_unknown_kid(
    es_key: Key, monotonic: FakeMonotonic
) -> None:
    jwks = CountingJwks(es_key)
    verifier = verifier_for(jwks)
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)

    rotated = ec_key("es-2")
    jwks.keys.append(rotated)  # identity publishes the next key
    monotonic.advance(INTERVAL + 1)
    claims = await verifier.verify(sign(rotated), token_type=ACCESS_TOKEN_TYPE)
    assert claims["iss"] == ISSUER
    assert jwks.calls == 2
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)  # old key still published
    assert jwks.calls == 2

    jwks.keys.remove(es_key)  # the old key is unpublished once its tokens have expired
    monotonic.advance(INTERVAL + 1)
    await refused(verifier, sign(ec_key("unknown")))  # any refetch forgets it
    await refused(verifier, sign(es_key))
    assert jwks.calls == 3


async def test_rotated_key_within_the_refetch_interval_is_refused_until_it_passes(
    es_key: Key, monotonic: FakeMonotonic
) -> None:
    jwks = CountingJwks(es_key)
    verifier = verifier_for(jwks)
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)
    rotated = ec_key("es-2")
    jwks.keys.append(rotated)
    await refused(verifier, sign(rotated))
    monotonic.advance(INTERVAL)
    await verifier.verify(sign(rotated), token_type=ACCESS_TOKEN_TYPE)


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), TimeoutError(),
                                   ValueError("not JSON")])
async def test_failing_jwks_source_gives_invalid_token_not_a_crash(
    es_key: Key, monotonic: FakeMonotonic, error: Exception
) -> None:
    jwks = CountingJwks(es_key)
    jwks.error = error
    verifier = verifier_for(jwks)
    caught = await refused(verifier, sign(es_key))
    assert "JWKS unavailable" in str(caught)

    jwks.error = None  # identity is back: the next fetch after the interval succeeds
    monotonic.advance(INTERVAL + 1)
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)


@pytest.mark.parametrize("document", [
    [], "keys", {}, {"keys": "none"}, {"keys": ["not-a-jwk", 7]},
    {"keys": [{"kid": "es-1", "alg": "ES256", "kty": "EC", "crv": "P-256", "x": "AA"}]},
])
async def test_jwks_that_is_not_a_jwks_gives_invalid_token_not_a_crash(
    es_key: Key, monotonic: FakeMonotonic, document: Any
) -> None:
    jwks = CountingJwks(es_key)
    jwks.document = document
    verifier = verifier_for(jwks)
    await refused(verifier, sign(es_key))


@pytest.mark.parametrize("failure", ["error", "garbage"])
async def test_failed_refetch_keeps_the_keys_already_known(
    es_key: Key, monotonic: FakeMonotonic, failure: str
) -> None:
    jwks = CountingJwks(es_key)
    verifier = verifier_for(jwks)
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)
    if failure == "error":
        jwks.error = httpx.ConnectError("identity is down")
    else:
        jwks.document = "<html>502 Bad Gateway</html>"
    monotonic.advance(INTERVAL + 1)
    await refused(verifier, sign(ec_key("unknown")))
    assert jwks.calls == 2
    await verifier.verify(sign(es_key), token_type=ACCESS_TOKEN_TYPE)


async def test_jwks_keys_for_other_algorithms_are_ignored(
    es_key: Key, monotonic: FakeMonotonic
) -> None:
    """An HMAC key slipped into the JWKS cannot be used to verify anything."""
    jwks = CountingJwks()
    secret = b"attacker-chosen-secret-of-32-bytes!!"
    jwks.document = {"keys": [{"kty": "oct", "kid": "hmac", "alg": "HS256",
                               "k": _b64(secret)}]}
    verifier = verifier_for(jwks)
    token = jwt.encode(claims_for(), secret, algorithm="HS256",
                       headers={"kid": "hmac", "typ": ACCESS_TOKEN_TYPE})
    await refused(verifier, token)


# The Authenticator through an app ---------------------------------------------------------

ADMINISTER = RolePermission("administer the hub", "admin")


@dataclass
class AuthApp:
    client: httpx.AsyncClient
    revoked: set[str]


def make_app(authenticator: Authenticator) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.authenticator = authenticator

    def describe(caller: Principal) -> dict[str, Any]:
        return {"subject": caller.subject, "agency_id": caller.agency_id,
                "roles": sorted(caller.roles), "kind": caller.kind,
                "session_id": caller.session_id, "token_id": caller.token_id}

    @app.get("/whoami")
    async def whoami(caller: CurrentPrincipal) -> dict[str, Any]:
        return describe(caller)

    @app.post("/changes")
    async def change(caller: CurrentPrincipal) -> dict[str, Any]:
        return describe(caller)

    @app.get("/admin")
    async def administer(
        caller: Annotated[Principal, Depends(ADMINISTER)]
    ) -> dict[str, Any]:
        return describe(caller)

    return app


@pytest.fixture
async def auth_app(verifier: TokenVerifier) -> AsyncIterator[AuthApp]:
    revoked: set[str] = set()

    async def is_revoked(session_id: str) -> bool:
        return session_id in revoked

    app = make_app(Authenticator(verifier, is_revoked))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        yield AuthApp(client, revoked)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def cookie(token: str, **extra: str) -> dict[str, str]:
    return {"cookie": f"{SESSION_COOKIE}={token}", **extra}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


async def test_no_credentials_get_401_problem_with_a_bearer_challenge(auth_app: AuthApp) -> None:
    for method in ("GET", "POST"):
        path = "/whoami" if method == "GET" else "/changes"
        response = await auth_app.client.request(method, path)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_invalid_bearer_token_gets_401_problem(auth_app: AuthApp, es_key: Key) -> None:
    expired = sign(es_key, claims_for(exp=int(time.time()) - 60))
    for headers in (bearer(expired), bearer("garbage"), {"authorization": "Basic Zm9vOmJhcg=="}):
        response = await auth_app.client.get("/whoami", headers=headers)
        assert_problem(response, 401)
        assert "www-authenticate" in response.headers


async def test_bearer_access_token_is_accepted(auth_app: AuthApp, es_key: Key) -> None:
    claims = claims_for()
    response = await auth_app.client.get("/whoami", headers=bearer(sign(es_key, claims)))
    assert response.status_code == 200, response.text
    assert response.json() == {"subject": "northshire-police-system",
                               "agency_id": "agency-police", "roles": ["partner_system"],
                               "kind": "client", "session_id": None,
                               "token_id": claims["jti"]}


async def test_bearer_post_needs_no_csrf_header(auth_app: AuthApp, es_key: Key) -> None:
    response = await auth_app.client.post("/changes", headers=bearer(sign(es_key)))
    assert response.status_code == 200, response.text


async def test_session_cookie_is_accepted_for_get(auth_app: AuthApp, es_key: Key) -> None:
    token = sign(es_key, session_claims(), typ=SESSION_TOKEN_TYPE)
    response = await auth_app.client.get("/whoami", headers=cookie(token))
    assert response.status_code == 200, response.text
    assert response.json()["kind"] == "user"
    assert response.json()["session_id"] == "session-1"


async def test_cookie_post_without_the_csrf_header_is_forbidden(
    auth_app: AuthApp, es_key: Key
) -> None:
    token = sign(es_key, session_claims(), typ=SESSION_TOKEN_TYPE)
    for headers in (cookie(token), cookie(token, **{CSRF_HEADER: "0"}),
                    cookie(token, **{CSRF_HEADER: "true"})):
        problem = assert_problem(await auth_app.client.post("/changes", headers=headers), 403)
        assert CSRF_HEADER in problem["detail"]
    response = await auth_app.client.post("/changes", headers=cookie(token, **{CSRF_HEADER: "1"}))
    assert response.status_code == 200, response.text
    assert response.json()["session_id"] == "session-1"


async def test_revoked_session_gets_401(auth_app: AuthApp, es_key: Key) -> None:
    token = sign(es_key, session_claims(), typ=SESSION_TOKEN_TYPE)
    assert (await auth_app.client.get("/whoami", headers=cookie(token))).status_code == 200
    auth_app.revoked.add("session-1")
    response = await auth_app.client.get("/whoami", headers=cookie(token))
    assert_problem(response, 401)
    assert "www-authenticate" in response.headers
    response = await auth_app.client.post("/changes", headers=cookie(token, **{CSRF_HEADER: "1"}))
    assert_problem(response, 401)


async def test_session_token_without_a_session_id_gets_401(
    auth_app: AuthApp, es_key: Key
) -> None:
    claims = session_claims()
    del claims["sid"]
    token = sign(es_key, claims, typ=SESSION_TOKEN_TYPE)
    assert_problem(await auth_app.client.get("/whoami", headers=cookie(token)), 401)


async def test_tokens_in_the_wrong_place_get_401(auth_app: AuthApp, es_key: Key) -> None:
    session = sign(es_key, session_claims(), typ=SESSION_TOKEN_TYPE)
    access = sign(es_key)
    assert_problem(await auth_app.client.get("/whoami", headers=bearer(session)), 401)
    assert_problem(await auth_app.client.get("/whoami", headers=cookie(access)), 401)


async def test_caller_without_the_permissions_role_gets_403_problem(
    auth_app: AuthApp, es_key: Key
) -> None:
    problem = assert_problem(
        await auth_app.client.get("/admin", headers=bearer(sign(es_key))), 403)
    assert problem["detail"] == "You are not allowed to administer the hub."
    admin = sign(es_key, claims_for(roles=["auditor", "admin"]))
    response = await auth_app.client.get("/admin", headers=bearer(admin))
    assert response.status_code == 200, response.text
    assert response.json()["roles"] == ["admin", "auditor"]


async def test_unauthenticated_caller_of_a_permission_route_gets_401_not_403(
    auth_app: AuthApp,
) -> None:
    assert_problem(await auth_app.client.get("/admin"), 401)


# Tokens already verified ------------------------------------------------------------------

async def test_a_verified_token_is_not_checked_again_but_still_expires(
    jwks: CountingJwks, es_key: Key, monotonic: FakeMonotonic,
) -> None:
    now = [time.time()]
    verifier = verifier_for(jwks, clock=lambda: now[0])
    token = sign(es_key, claims_for(exp=int(now[0]) + 60))
    first = await verifier.verify(token, token_type=ACCESS_TOKEN_TYPE)
    assert await verifier.verify(token, token_type=ACCESS_TOKEN_TYPE) == first
    assert await refused(verifier, token, SESSION_TOKEN_TYPE), "kept per token type"
    now[0] += 120  # past its expiry (and the leeway)
    error = await refused(verifier, token)
    assert "ExpiredSignatureError" in str(error)


async def test_a_verified_token_whose_key_has_left_the_jwks_is_refused(
    jwks: CountingJwks, es_key: Key, rs_key: Key, monotonic: FakeMonotonic,
    verifier: TokenVerifier,
) -> None:
    token = sign(es_key)
    await verifier.verify(token, token_type=ACCESS_TOKEN_TYPE)
    jwks.keys = [rs_key]  # the ES256 key is withdrawn
    monotonic.advance(INTERVAL + 1)
    await verifier._refresh()  # as the next token with an unknown kid would
    error = await refused(verifier, token)
    assert "unknown kid" in str(error)
