"""A standard OAuth2 client library (authlib) gets tokens from the hub's token endpoint.

Partner systems will not use our test helpers: they use whatever OAuth2 library their
platform has. authlib's httpx client talks to the real /oauth2/token of the in-process hub
with private_key_jwt (RFC 7523) and client_secret_basic, and its tokens work on the API.

Interoperability finding: authlib's PrivateKeyJWT signs assertions that live for an hour
(``exp = iat + 3600``, not configurable through its constructor), while the endpoint
refuses assertions living longer than five minutes (NHS England's limit; RFC 7523
section 3 lets the server reject an ``exp`` "unreasonably far in the future"). A partner
using authlib must shorten the assertion, as ``FiveMinutePrivateKeyJWT`` below does.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from mash.gateway import Hub, create_hub_app
from tests.auth import ASSERTION_TYPE, demo_client, load_credentials
from tests.integration.hub import hub_settings

POLICE = "northshire-police-system"


class FiveMinutePrivateKeyJWT(PrivateKeyJWT):
    """authlib's private_key_jwt with assertions that expire after five minutes.

    ``claims`` are authlib's "extra JWT claims"; they are set afresh for every assertion
    because authlib adds its ``jti`` to the dict it is given, which would otherwise be
    reused (and refused as a replay) on the next token request.
    """

    lifetime = 300

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        self.claims = {"exp": int(time.time()) + self.lifetime}
        return super().sign(auth, token_endpoint)


@dataclass
class Partner:
    """What a partner system is given: the hub's address and its own credentials."""

    transport: httpx.ASGITransport
    base_url: str
    client_id: str
    kid: str
    private_key_pem: bytes
    client_secret: str
    agency_id: str
    roles: list[str]

    @property
    def token_endpoint(self) -> str:
        return f"{self.base_url}/oauth2/token"


@pytest.fixture
async def partner(demo_data_dir: Path) -> AsyncIterator[Partner]:
    settings = hub_settings(demo_data_dir)
    hub = Hub(settings, demo=True)
    app = create_hub_app(settings, hub=hub)
    credentials = load_credentials(demo_data_dir)
    entry = demo_client(credentials, POLICE)
    async with hub.running():
        yield Partner(
            transport=httpx.ASGITransport(app=app), base_url=credentials["base_url"],
            client_id=entry["client_id"], kid=entry["kid"],
            private_key_pem=(demo_data_dir / "demo" / entry["private_key_file"]).read_bytes(),
            client_secret=entry["client_secret"], agency_id=entry["agency_id"],
            roles=entry["roles"],
        )


def private_key_jwt_client(partner: Partner, method: PrivateKeyJWT | None = None,
                           **kwargs: Any) -> AsyncOAuth2Client:
    auth_method = method or FiveMinutePrivateKeyJWT(
        partner.token_endpoint, headers={"kid": partner.kid}, alg="RS512")
    return AsyncOAuth2Client(partner.client_id, partner.private_key_pem,
                             token_endpoint_auth_method=auth_method,
                             transport=partner.transport, **kwargs)


async def assert_me(partner: Partner, client: AsyncOAuth2Client) -> None:
    response = await client.get(f"{partner.base_url}/api/v1/me")
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["subject"] == partner.client_id
    assert me["client_id"] == partner.client_id
    assert me["kind"] == "client"
    assert me["agency_id"] == partner.agency_id
    assert me["roles"] == partner.roles == ["partner_system"]


async def test_authlib_private_key_jwt_from_discovery_gets_a_token_that_works_on_the_api(
    partner: Partner,
) -> None:
    sent: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request)

    async with private_key_jwt_client(partner, event_hooks={"request": [record]}) as client:
        discovery = (await client.request(
            "GET", f"{partner.base_url}/.well-known/openid-configuration", withhold_token=True
        )).json()
        assert "private_key_jwt" in discovery["token_endpoint_auth_methods_supported"]
        assert "RS512" in discovery["token_endpoint_auth_signing_alg_values_supported"]
        assert discovery["token_endpoint"] == partner.token_endpoint

        token = await client.fetch_token(discovery["token_endpoint"],
                                         grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "mash.api"
        assert 0 < token["expires_in"] <= 900
        assert jwt.get_unverified_header(token["access_token"])["typ"] == "at+jwt"

        # What authlib sent is what RFC 7523 describes, and what the endpoint accepted.
        form = {k: v[0] for k, v in parse_qs(sent[-1].content.decode()).items()}
        assert form.keys() == {"grant_type", "client_assertion_type", "client_assertion"}
        assert form["grant_type"] == "client_credentials"
        assert form["client_assertion_type"] == ASSERTION_TYPE
        assertion = form["client_assertion"]
        assert jwt.get_unverified_header(assertion) == {"alg": "RS512", "kid": partner.kid,
                                                        "typ": "JWT"}
        claims = jwt.decode(assertion, options={"verify_signature": False})
        assert claims["iss"] == claims["sub"] == partner.client_id
        assert claims["aud"] == partner.token_endpoint
        # The subclass reads the clock apart from authlib's iat: a second may tick between.
        assert 299 <= claims["exp"] - claims["iat"] <= 300

        await assert_me(partner, client)


async def test_authlib_private_key_jwt_with_scope_and_client_id_in_the_body(
    partner: Partner,
) -> None:
    async with private_key_jwt_client(partner, scope="mash.api") as client:
        await client.fetch_token(partner.token_endpoint, grant_type="client_credentials",
                                 client_id=partner.client_id)
        await assert_me(partner, client)


async def test_authlib_renews_an_expired_client_credentials_token_with_a_fresh_assertion(
    partner: Partner,
) -> None:
    async with private_key_jwt_client(partner, token_endpoint=partner.token_endpoint,
                                      grant_type="client_credentials") as client:
        first = await client.fetch_token(grant_type="client_credentials")
        client.token["expires_at"] = int(time.time()) - 1  # as if 15 minutes had passed
        await assert_me(partner, client)  # authlib fetches a new token first
        assert client.token["access_token"] != first["access_token"]


async def test_authlib_default_hour_long_assertion_is_refused(partner: Partner) -> None:
    """Pins the interoperability finding: authlib's own default needs shortening."""
    method = PrivateKeyJWT(partner.token_endpoint, headers={"kid": partner.kid}, alg="RS512")
    async with private_key_jwt_client(partner, method) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(partner.token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


async def test_authlib_assertion_with_an_unregistered_algorithm_is_refused(
    partner: Partner,
) -> None:
    method = FiveMinutePrivateKeyJWT(partner.token_endpoint, headers={"kid": partner.kid},
                                     alg="RS256")  # the demo client registered RS512 only
    async with private_key_jwt_client(partner, method) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(partner.token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


async def test_authlib_client_secret_basic_gets_a_token_that_works_on_the_api(
    partner: Partner,
) -> None:
    async with AsyncOAuth2Client(partner.client_id, partner.client_secret,
                                 token_endpoint_auth_method="client_secret_basic",
                                 transport=partner.transport) as client:
        token = await client.fetch_token(partner.token_endpoint,
                                         grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        await assert_me(partner, client)


async def test_authlib_client_secret_basic_with_a_wrong_secret_is_refused(
    partner: Partner,
) -> None:
    async with AsyncOAuth2Client(partner.client_id, "not-the-secret",
                                 transport=partner.transport) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(partner.token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


async def test_authlib_client_secret_post_is_refused_as_not_offered(partner: Partner) -> None:
    """Discovery offers private_key_jwt and client_secret_basic only; a secret in the body
    is not read, so the client is not authenticated."""
    async with AsyncOAuth2Client(partner.client_id, partner.client_secret,
                                 token_endpoint_auth_method="client_secret_post",
                                 transport=partner.transport) as client:
        with pytest.raises(OAuthError) as refused:
            await client.fetch_token(partner.token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
