"""Identity through the gateway: partner systems' tokens, staff sessions, administration."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlmodel import select

from mash.gateway import Hub
from services.identity import passwords
from services.identity.keys import KeyStore
from services.identity.models import SignInAttempt
from shared.auth import CSRF_HEADER, SESSION_COOKIE
from tests.auth import (
    assertion_form,
    basic,
    client_assertion,
    client_token,
    current_otp,
    demo_client,
    demo_user,
    load_credentials,
)
from tests.bodies import referral_body
from tests.helpers import HUB_BASE_URL, eventually
from tests.integration.hub import hub_settings, start_hub

TOKEN_URL = f"{HUB_BASE_URL}/oauth2/token"
POLICE = "northshire-police-system"


@dataclass
class Hub_:
    hub: Hub
    client: httpx.AsyncClient
    data_dir: Path
    credentials: dict[str, Any]

    def private_key(self, client_id: str = POLICE) -> bytes:
        entry = demo_client(self.credentials, client_id)
        return (self.data_dir / "demo" / entry["private_key_file"]).read_bytes()

    def assertion(self, client_id: str = POLICE, **kwargs: Any) -> str:
        entry = demo_client(self.credentials, client_id)
        return client_assertion(client_id, self.private_key(client_id), entry["kid"],
                                kwargs.pop("audience", TOKEN_URL), **kwargs)

    async def token_request(self, **kwargs: Any) -> httpx.Response:
        return await self.client.post("/oauth2/token", data=assertion_form(
            self.assertion(**kwargs)))

    async def sign_in(self, username: str, *, password: str | None = None,
                      otp: str | None = None) -> httpx.Response:
        user = demo_user(self.credentials, username)
        self.client.cookies.clear()
        return await self.client.post("/api/v1/sessions", json={
            "username": username, "password": password or user["password"],
            "otp": otp or current_otp(user["totp_secret"])})


@pytest.fixture
async def hub(demo_data_dir: Path) -> AsyncIterator[Hub_]:
    running_hub, client, running = await start_hub(hub_settings(demo_data_dir))
    try:
        yield Hub_(running_hub, client, demo_data_dir, load_credentials(demo_data_dir))
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


# Discovery and keys ---------------------------------------------------------------------

async def test_discovery_names_the_token_endpoint_and_keys(hub: Hub_) -> None:
    config = (await hub.client.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == HUB_BASE_URL
    assert config["token_endpoint"] == TOKEN_URL
    assert config["jwks_uri"] == f"{HUB_BASE_URL}/.well-known/jwks.json"
    assert config["grant_types_supported"] == ["client_credentials"]
    assert set(config["token_endpoint_auth_methods_supported"]) == {
        "private_key_jwt", "client_secret_basic"}
    keys = (await hub.client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys and all(k["kid"] and k["alg"] == "ES256" for k in keys)
    assert not any("d" in k for k in keys), "no private key material is published"


# Partner systems: private_key_jwt --------------------------------------------------------

async def test_partner_system_gets_a_short_lived_signed_token_with_its_private_key(
    hub: Hub_,
) -> None:
    response = await hub.token_request()
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] <= 900
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256" and header["kid"] and header["typ"] == "at+jwt"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    entry = demo_client(hub.credentials, POLICE)
    assert claims["sub"] == POLICE and claims["iss"] == HUB_BASE_URL
    assert claims["agency_id"] == entry["agency_id"] and claims["roles"] == ["partner_system"]
    assert claims["exp"] - claims["iat"] <= 900
    assert {"aud", "jti", "scope"} <= claims.keys()
    me = await hub.client.get("/api/v1/me",
                              headers={"authorization": f"Bearer {body['access_token']}"})
    assert me.json()["subject"] == POLICE and me.json()["kind"] == "client"


async def test_a_client_assertion_cannot_be_replayed(hub: Hub_) -> None:
    assertion = hub.assertion()
    first = await hub.client.post("/oauth2/token", data=assertion_form(assertion))
    assert first.status_code == 200
    replay = await hub.client.post("/oauth2/token", data=assertion_form(assertion))
    assert_oauth_error(replay, "invalid_client", 401)


@pytest.mark.parametrize(("case", "kwargs"), [
    ("expires more than five minutes ahead", {"lifetime": 600}),
    ("already expired", {"lifetime": -60}),
    ("audience is not the token endpoint", {"audience": f"{HUB_BASE_URL}/somewhere"}),
    ("algorithm not allowed by the registration", {"algorithm": "RS256"}),
    ("subject differs from issuer", {"sub": "someone-else"}),
])
async def test_bad_client_assertions_are_refused(hub: Hub_, case: str,
                                                 kwargs: dict[str, Any]) -> None:
    assert_oauth_error(await hub.token_request(**kwargs), "invalid_client", 401)


async def test_an_assertion_signed_with_another_key_is_refused(hub: Hub_) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    entry = demo_client(hub.credentials, POLICE)
    assertion = client_assertion(POLICE, pem, entry["kid"], TOKEN_URL)
    response = await hub.client.post("/oauth2/token", data=assertion_form(assertion))
    assert_oauth_error(response, "invalid_client", 401)


async def test_refusals_never_reveal_whether_a_client_exists(hub: Hub_) -> None:
    entry = demo_client(hub.credentials, POLICE)
    unknown = await hub.client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                                    headers={"authorization": basic("no-such-client", "x")})
    wrong = await hub.client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                                  headers={"authorization": basic(POLICE, "wrong")})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.headers["www-authenticate"] == wrong.headers["www-authenticate"]
    forged = client_assertion("no-such-client", hub.private_key(), entry["kid"], TOKEN_URL)
    by_assertion = await hub.client.post("/oauth2/token", data=assertion_form(forged))
    assert by_assertion.json() == (await hub.token_request(lifetime=900)).json()


async def test_unknown_client_costs_the_same_password_check_as_a_wrong_secret(
    hub: Hub_, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify = passwords.password_hasher.verify

    def counting_verify(password: str, hashed: str) -> bool:
        calls.append(hashed)
        return real_verify(password, hashed)

    monkeypatch.setattr(passwords.password_hasher, "verify", counting_verify)
    await hub.client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                          headers={"authorization": basic("no-such-client", "x")})
    await hub.client.post("/oauth2/token", data={"grant_type": "client_credentials"},
                          headers={"authorization": basic(POLICE, "wrong")})
    assert len(calls) == 2 and calls[0] == passwords.dummy_hash() != calls[1]


# Partner systems: client_secret_basic and grant errors ----------------------------------

async def test_client_secret_basic_works_as_a_fallback(hub: Hub_) -> None:
    entry = demo_client(hub.credentials, "northshire-health-system")
    response = await hub.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"},
        headers={"authorization": basic(entry["client_id"], entry["client_secret"])})
    assert response.status_code == 200, response.text
    wrong = await hub.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"},
        headers={"authorization": basic(entry["client_id"], "not-the-secret")})
    assert_oauth_error(wrong, "invalid_client", 401)
    assert wrong.headers["www-authenticate"].startswith("Basic")


async def test_grant_errors_follow_rfc_6749(hub: Hub_) -> None:
    entry = demo_client(hub.credentials, POLICE)
    auth = {"authorization": basic(POLICE, entry["client_secret"])}
    assert_oauth_error(await hub.client.post("/oauth2/token", data={"grant_type": "password"},
                                             headers=auth), "unsupported_grant_type")
    assert_oauth_error(await hub.client.post("/oauth2/token", data={}, headers=auth),
                       "invalid_request")
    assert_oauth_error(await hub.client.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "scope": "admin"},
        headers=auth), "invalid_scope")
    assert_oauth_error(await hub.client.post("/oauth2/token",
                                             data={"grant_type": "client_credentials"}),
                       "invalid_client", 401)
    both = assertion_form(hub.assertion())
    assert_oauth_error(await hub.client.post("/oauth2/token", data=both, headers=auth),
                       "invalid_request")


# Staff sessions ----------------------------------------------------------------------------

async def test_staff_sign_in_sets_a_strict_http_only_cookie_that_identifies_them(
    hub: Hub_,
) -> None:
    response = await hub.sign_in("mash.practitioner")
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie, "plain-HTTP localhost cannot use Secure cookies"
    assert response.json()["roles"] == ["mash_practitioner"]
    me = (await hub.client.get("/api/v1/me")).json()
    assert me["username"] == "mash.practitioner" and me["kind"] == "user"


async def test_wrong_password_unknown_user_and_wrong_code_look_the_same(hub: Hub_) -> None:
    wrong_password = await hub.sign_in("mash.manager", password="not-it")
    unknown = await hub.client.post("/api/v1/sessions", json={
        "username": "nobody", "password": "x", "otp": "123456"})
    wrong_code = await hub.sign_in("mash.manager", otp="000000")
    for response in (wrong_password, unknown, wrong_code):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert wrong_password.json()["detail"] == unknown.json()["detail"] == \
        wrong_code.json()["detail"]


async def test_a_code_with_characters_outside_ascii_is_a_wrong_code_not_a_server_error(
    hub: Hub_,
) -> None:
    for otp in ("\u009b\u0098_]\u00b7\u009d", "１２３４５６"):  # noqa: RUF001
        response = await hub.sign_in("mash.manager", otp=otp)
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (await hub.sign_in("mash.manager")).status_code == 200


async def test_a_totp_code_signs_in_once_only(hub: Hub_) -> None:
    user = demo_user(hub.credentials, "school.dsl")
    code = current_otp(user["totp_secret"])
    assert (await hub.sign_in("school.dsl", otp=code)).status_code == 200
    assert (await hub.sign_in("school.dsl", otp=code)).status_code == 401


async def test_repeated_failures_lock_the_account_and_are_recorded(hub: Hub_) -> None:
    for _ in range(5):
        assert (await hub.sign_in("auditor", password="guess")).status_code == 401
    locked = await hub.sign_in("auditor")  # the right password and code, but locked
    assert locked.status_code == 401
    async with hub.hub.services["identity"].database.unit_of_work() as uow:
        attempts = (await uow.session.exec(select(SignInAttempt))).all()
    reasons = [a.reason for a in attempts]
    assert reasons.count("bad_credentials") == 5 and reasons[-1] == "locked"
    assert all(a.user_id for a in attempts)


async def test_changes_made_with_a_cookie_need_the_csrf_header(hub: Hub_) -> None:
    assert (await hub.sign_in("police.officer")).status_code == 200
    without = await hub.client.post("/api/v1/referrals", json=referral_body())
    assert without.status_code == 403
    with_header = await hub.client.post("/api/v1/referrals", json=referral_body(),
                                        headers={CSRF_HEADER: "1"})
    assert with_header.status_code == 201, with_header.text


async def test_signing_out_ends_the_session_in_every_service(hub: Hub_) -> None:
    assert (await hub.sign_in("police.officer")).status_code == 200
    token = hub.client.cookies[SESSION_COOKIE]
    signed_out = await hub.client.delete("/api/v1/sessions/current",
                                         headers={CSRF_HEADER: "1"})
    assert signed_out.status_code == 204
    hub.client.cookies.set(SESSION_COOKIE, token)  # a copy kept by an attacker
    assert (await hub.client.get("/api/v1/me")).status_code == 401

    async def referral_refuses_the_old_cookie() -> bool:
        response = await hub.client.post("/api/v1/referrals", json=referral_body(),
                                         headers={CSRF_HEADER: "1"})
        return response.status_code == 401

    assert await eventually(referral_refuses_the_old_cookie)


# Administration ----------------------------------------------------------------------------

async def test_admin_registers_a_user_who_can_then_sign_in(hub: Hub_) -> None:
    assert (await hub.sign_in("admin")).status_code == 200
    admin = {CSRF_HEADER: "1"}
    agency = (await hub.client.post("/api/v1/agencies", headers=admin, json={
        "name": "Eastfield Primary School", "kind": "school"})).json()
    created = await hub.client.post("/api/v1/users", headers=admin, json={
        "username": "eastfield.dsl", "display_name": "DSL", "agency_id": agency["id"],
        "roles": ["partner_practitioner"]})
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["otpauth_uri"].startswith("otpauth://totp/")
    listed = (await hub.client.get("/api/v1/users")).text
    assert user["initial_password"] not in listed and user["totp_secret"] not in listed
    assert "password_hash" not in listed

    hub.client.cookies.clear()
    signed_in = await hub.client.post("/api/v1/sessions", json={
        "username": "eastfield.dsl", "password": user["initial_password"],
        "otp": current_otp(user["totp_secret"])})
    assert signed_in.status_code == 200
    assert signed_in.json()["agency_id"] == agency["id"]


async def test_only_admins_administer(hub: Hub_) -> None:
    assert (await hub.sign_in("mash.manager")).status_code == 200
    response = await hub.client.post("/api/v1/agencies", headers={CSRF_HEADER: "1"},
                                     json={"name": "X", "kind": "other"})
    assert response.status_code == 403
    assert (await hub.client.get("/api/v1/clients")).status_code == 403
    hub.client.cookies.clear()
    assert (await hub.client.get("/api/v1/users")).status_code == 401


async def test_disabling_a_user_ends_their_sessions_at_once(hub: Hub_) -> None:
    assert (await hub.sign_in("police.officer")).status_code == 200
    officer_cookie = hub.client.cookies[SESSION_COOKIE]
    officer_id = (await hub.client.get("/api/v1/me")).json()["subject"]
    assert (await hub.sign_in("admin")).status_code == 200
    disabled = await hub.client.patch(f"/api/v1/users/{officer_id}", json={"active": False},
                                      headers={CSRF_HEADER: "1"})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    hub.client.cookies.clear()
    hub.client.cookies.set(SESSION_COOKIE, officer_cookie)
    assert (await hub.client.get("/api/v1/me")).status_code == 401
    assert (await hub.sign_in("police.officer")).status_code == 401


async def _change_user_as_admin(hub: Hub_, username: str, change: dict[str, Any]) -> str:
    """Sign ``username`` in, have the admin PATCH them; the user's old session cookie."""
    assert (await hub.sign_in(username)).status_code == 200
    cookie = hub.client.cookies[SESSION_COOKIE]
    user_id = (await hub.client.get("/api/v1/me")).json()["subject"]
    assert (await hub.client.get("/api/v1/referrals")).status_code == 200
    assert (await hub.sign_in("admin")).status_code == 200
    changed = await hub.client.patch(f"/api/v1/users/{user_id}", json=change,
                                     headers={CSRF_HEADER: "1"})
    assert changed.status_code == 200, changed.text
    hub.client.cookies.clear()
    hub.client.cookies.set(SESSION_COOKIE, cookie)
    return cookie


async def _old_cookie_refused_everywhere(hub: Hub_) -> None:
    assert (await hub.client.get("/api/v1/me")).status_code == 401  # identity: at once

    async def referral_refuses_the_old_cookie() -> bool:
        return (await hub.client.get("/api/v1/referrals")).status_code == 401

    # The referral service learns by `mash.session.ended` (in-process here: milliseconds).
    assert await eventually(referral_refuses_the_old_cookie, within=5.0)


async def test_demoting_a_manager_ends_their_sessions_in_every_service(hub: Hub_) -> None:
    await _change_user_as_admin(hub, "mash.manager", {"roles": ["mash_practitioner"]})
    await _old_cookie_refused_everywhere(hub)


async def test_moving_a_user_to_another_agency_ends_their_sessions_in_every_service(
    hub: Hub_,
) -> None:
    other_agency = demo_client(hub.credentials, "northshire-health-system")["agency_id"]
    await _change_user_as_admin(hub, "police.officer", {"agency_id": other_agency})
    await _old_cookie_refused_everywhere(hub)


async def test_renaming_a_user_keeps_their_session(hub: Hub_) -> None:
    await _change_user_as_admin(hub, "mash.practitioner", {"display_name": "Renamed"})
    assert (await hub.client.get("/api/v1/me")).status_code == 200
    assert (await hub.client.get("/api/v1/referrals")).status_code == 200


async def test_moving_a_user_to_an_unknown_agency_is_refused(hub: Hub_) -> None:
    assert (await hub.sign_in("police.officer")).status_code == 200
    user_id = (await hub.client.get("/api/v1/me")).json()["subject"]
    cookie = hub.client.cookies[SESSION_COOKIE]
    assert (await hub.sign_in("admin")).status_code == 200
    refused = await hub.client.patch(f"/api/v1/users/{user_id}",
                                     json={"agency_id": "no-such-agency"},
                                     headers={CSRF_HEADER: "1"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    hub.client.cookies.clear()
    hub.client.cookies.set(SESSION_COOKIE, cookie)
    assert (await hub.client.get("/api/v1/me")).status_code == 200


async def test_admin_registers_clients_by_jwks_or_with_a_secret_shown_once(hub: Hub_) -> None:
    assert (await hub.sign_in("admin")).status_code == 200
    admin = {CSRF_HEADER: "1"}
    agency_id = demo_client(hub.credentials, POLICE)["agency_id"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public_jwk.update({"kid": "k1", "alg": "RS512", "use": "sig"})
    by_key = await hub.client.post("/api/v1/clients", headers=admin, json={
        "client_id": "force-two", "name": "Force two", "agency_id": agency_id,
        "jwks": {"keys": [public_jwk]}})
    assert by_key.status_code == 201, by_key.text
    assert by_key.json()["client_secret"] is None
    assert by_key.json()["token_endpoint_auth_method"] == "private_key_jwt"
    by_secret = (await hub.client.post("/api/v1/clients", headers=admin, json={
        "client_id": "force-three", "name": "Force three", "agency_id": agency_id})).json()
    assert by_secret["client_secret"]
    assert by_secret["client_secret"] not in (await hub.client.get("/api/v1/clients")).text

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    token = await hub.client.post("/oauth2/token", data=assertion_form(
        client_assertion("force-two", pem, "k1", TOKEN_URL)))
    assert token.status_code == 200, token.text


async def test_disabling_a_client_stops_new_tokens_at_once(hub: Hub_) -> None:
    assert (await hub.token_request()).status_code == 200
    assert (await hub.sign_in("admin")).status_code == 200
    disabled = await hub.client.patch(f"/api/v1/clients/{POLICE}", json={"active": False},
                                      headers={CSRF_HEADER: "1"})
    assert disabled.status_code == 200
    hub.client.cookies.clear()
    assert_oauth_error(await hub.token_request(), "invalid_client", 401)


async def test_bad_admin_input_is_a_problem_naming_the_field(hub: Hub_) -> None:
    assert (await hub.sign_in("admin")).status_code == 200
    response = await hub.client.post("/api/v1/users", headers={CSRF_HEADER: "1"}, json={
        "username": "Bad Name!", "display_name": "x", "agency_id": "nope", "roles": ["king"]})
    assert response.status_code == 422
    fields = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert ("body", "username") in fields
    assert any(loc[:2] == ("body", "roles") for loc in fields)


@pytest.mark.parametrize(("collection", "field"), [
    ("agencies", "name"), ("agencies", "active"), ("users", "display_name"),
    ("users", "roles"), ("users", "active"), ("clients", "name"), ("clients", "active"),
])
async def test_a_required_field_cannot_be_patched_to_null_and_nothing_changes(
    hub: Hub_, collection: str, field: str,
) -> None:
    assert (await hub.sign_in("admin")).status_code == 200
    before = (await hub.client.get(f"/api/v1/{collection}")).json()[0]
    key = "client_id" if collection == "clients" else "id"
    response = await hub.client.patch(f"/api/v1/{collection}/{before[key]}",
                                      json={field: None}, headers={CSRF_HEADER: "1"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.text
    after = (await hub.client.get(f"/api/v1/{collection}")).json()[0]
    assert after == before


async def test_an_agency_name_already_taken_is_a_conflict_and_nothing_changes(
    hub: Hub_,
) -> None:
    assert (await hub.sign_in("admin")).status_code == 200
    admin = {CSRF_HEADER: "1"}
    agencies = (await hub.client.get("/api/v1/agencies")).json()
    taken, other = agencies[0], agencies[1]
    created = await hub.client.post("/api/v1/agencies", headers=admin,
                                    json={"name": taken["name"], "kind": "other"})
    renamed = await hub.client.patch(f"/api/v1/agencies/{other['id']}", headers=admin,
                                     json={"name": taken["name"]})
    for response in (created, renamed):
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (await hub.client.get("/api/v1/agencies")).json() == agencies


# Key rotation -----------------------------------------------------------------------------

async def test_key_rotation_publishes_before_signing_and_keeps_old_tokens_valid(
    hub: Hub_,
) -> None:
    keys = KeyStore(hub.hub.services["identity"].database, hub.hub.settings)
    before = await client_token(hub.client, hub.credentials, hub.data_dir)
    old_kid = jwt.get_unverified_header(before)["kid"]

    upcoming = await keys.rotate(lead=timedelta(minutes=10))
    published = {k["kid"] for k in (await hub.client.get("/.well-known/jwks.json")).json()[
        "keys"]}
    assert published == {old_kid, upcoming.kid}, "the next key is published before it signs"
    during = await client_token(hub.client, hub.credentials, hub.data_dir)
    assert jwt.get_unverified_header(during)["kid"] == old_kid

    current = await keys.rotate(lead=timedelta(0))
    after = await client_token(hub.client, hub.credentials, hub.data_dir)
    assert jwt.get_unverified_header(after)["kid"] == current.kid
    for token in (before, after):  # old and new tokens both work across the rotation
        me = await hub.client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200
    referral = await hub.client.post("/api/v1/referrals", json=referral_body(),
                                     headers={"authorization": f"Bearer {before}"})
    assert referral.status_code == 201



# Demo logins, keys by URL, and the details ----------------------------------------------

async def test_every_demo_user_signs_in_with_exactly_the_written_credentials(hub: Hub_) -> None:
    for user in hub.credentials["users"]:
        otp = pyotp.parse_uri(user["otpauth_uri"]).now()  # as an authenticator app would
        assert pyotp.parse_uri(user["otpauth_uri"]).secret == user["totp_secret"]
        hub.client.cookies.clear()
        response = await hub.client.post("/api/v1/sessions", json={
            "username": user["username"], "password": user["password"], "otp": otp})
        assert response.status_code == 200, (user["username"], response.text)
        assert response.json()["roles"] == user["roles"]
        assert response.json()["agency_id"] == user["agency_id"]


async def test_an_unknown_username_costs_the_same_password_check_as_a_wrong_password(
    hub: Hub_, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real_verify = passwords.password_hasher.verify

    def counting_verify(password: str, hashed: str) -> bool:
        checked.append(hashed)
        return real_verify(password, hashed)

    monkeypatch.setattr(passwords.password_hasher, "verify", counting_verify)
    await hub.client.post("/api/v1/sessions", json={
        "username": "nobody", "password": "guess", "otp": "123456"})
    await hub.sign_in("mash.manager", password="guess")
    assert len(checked) == 2 and checked[0] == passwords.dummy_hash() != checked[1]


async def test_session_cookie_is_secure_when_the_hub_is_served_over_https(
    demo_data_dir: Path,
) -> None:
    _, client, running = await start_hub(
        hub_settings(demo_data_dir, base_url="https://mash.example.org"))
    try:
        user = demo_user(load_credentials(demo_data_dir), "mash.manager")
        response = await client.post("/api/v1/sessions", json={
            "username": "mash.manager", "password": user["password"],
            "otp": current_otp(user["totp_secret"])})
        assert response.status_code == 200
        assert "Secure" in response.headers["set-cookie"]
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


class _JwksHandler(BaseHTTPRequestHandler):
    document: ClassVar[dict[str, Any]] = {}
    fetches: ClassVar[int] = 0

    def do_GET(self) -> None:
        type(self).fetches += 1
        body = json.dumps(type(self).document).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _new_rsa_key(kid: str) -> tuple[bytes, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "RS512", "use": "sig"})
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), jwk


@contextmanager
def _serving_jwks(*keys: dict[str, Any]) -> Iterator[int]:
    """A partner's JWKS endpoint on loopback, publishing ``keys``; its port."""
    _JwksHandler.document = {"keys": list(keys)}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


async def _register_jwks_client(hub: Hub_, url: str) -> None:
    """The admin registers the partner system "trust-epr" by its JWKS URL."""
    assert (await hub.sign_in("admin")).status_code == 200
    created = await hub.client.post("/api/v1/clients", headers={CSRF_HEADER: "1"}, json={
        "client_id": "trust-epr", "name": "Trust EPR", "jwks_uri": url,
        "agency_id": demo_client(hub.credentials, POLICE)["agency_id"]})
    assert created.status_code == 201, created.text
    hub.client.cookies.clear()


async def test_a_client_registered_by_jwks_url_signs_in_and_can_rotate_its_key(
    hub: Hub_,
) -> None:
    first_pem, first_jwk = _new_rsa_key("2026-a")
    with _serving_jwks(first_jwk) as port:
        await _register_jwks_client(hub, f"http://127.0.0.1:{port}/jwks.json")
        ok = await hub.client.post("/oauth2/token", data=assertion_form(
            client_assertion("trust-epr", first_pem, "2026-a", TOKEN_URL)))
        assert ok.status_code == 200, ok.text
        fetches = _JwksHandler.fetches
        again = await hub.client.post("/oauth2/token", data=assertion_form(
            client_assertion("trust-epr", first_pem, "2026-a", TOKEN_URL)))
        assert again.status_code == 200 and _JwksHandler.fetches == fetches, "cached"

        second_pem, second_jwk = _new_rsa_key("2026-b")  # the partner rotates its key
        _JwksHandler.document = {"keys": [first_jwk, second_jwk]}
        rotated = await hub.client.post("/oauth2/token", data=assertion_form(
            client_assertion("trust-epr", second_pem, "2026-b", TOKEN_URL)))
        assert rotated.status_code == 200, rotated.text


@pytest.mark.parametrize("jwks_uri", [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",  # cloud metadata
    "https://169.254.169.254/jwks.json",
    "https://10.0.0.5/jwks.json",
    "https://[::ffff:169.254.169.254]/jwks.json",  # IPv4-mapped
    "https://[64:ff9b::a9fe:a9fe]/jwks.json",  # NAT64 of 169.254.169.254
    "https://[2002:a00:5::]/jwks.json",  # 6to4 of 10.0.0.5
    "https://[2001:0:4136:e378:8000:63bf:f5ff:fffa]/jwks.json",  # Teredo, client 10.0.0.5
    "file:///etc/passwd",
])
async def test_a_jwks_url_inside_the_network_is_refused_at_registration(
    hub: Hub_, jwks_uri: str,
) -> None:
    police_agency = demo_client(hub.credentials, POLICE)["agency_id"]
    assert (await hub.sign_in("admin")).status_code == 200
    created = await hub.client.post("/api/v1/clients", headers={CSRF_HEADER: "1"}, json={
        "client_id": "metadata-thief", "name": "X", "jwks_uri": jwks_uri,
        "agency_id": police_agency})
    assert created.status_code == 422, created.text
    assert created.headers["content-type"] == "application/problem+json"
    assert created.json()["errors"][0]["loc"][-1] == "jwks_uri"
    changed = await hub.client.patch(f"/api/v1/clients/{POLICE}", headers={CSRF_HEADER: "1"},
                                     json={"jwks_uri": jwks_uri})
    assert changed.status_code == 422, changed.text
    listed = (await hub.client.get("/api/v1/clients")).json()
    assert "metadata-thief" not in {c["client_id"] for c in listed}
    assert all(c["jwks_uri"] != jwks_uri for c in listed)


async def test_loopback_jwks_urls_are_refused_unless_allowed(hub: Hub_) -> None:
    hub.hub.services["identity"].app.state.runtime.guard.allow_loopback = False
    assert (await hub.sign_in("admin")).status_code == 200
    for url in ("http://127.0.0.1:9/jwks.json", "https://[::1]/jwks.json",
                "https://localhost/jwks.json"):
        created = await hub.client.post("/api/v1/clients", headers={CSRF_HEADER: "1"}, json={
            "client_id": "loopback-client", "name": "X", "jwks_uri": url,
            "agency_id": demo_client(hub.credentials, POLICE)["agency_id"]})
        assert created.status_code == 422, (url, created.text)


async def test_a_jwks_url_whose_name_turns_internal_is_not_fetched(hub: Hub_) -> None:
    answers = ["127.0.0.1"]  # the partner's name resolves here; the test changes the answer

    async def resolver(host: str, port: int) -> list[str]:
        return list(answers)

    hub.hub.services["identity"].app.state.runtime.guard.resolver = resolver
    first_pem, first_jwk = _new_rsa_key("2026-a")
    with _serving_jwks(first_jwk) as port:
        await _register_jwks_client(hub, f"http://jwks.partner.example:{port}/jwks.json")
        ok = await hub.client.post("/oauth2/token", data=assertion_form(
            client_assertion("trust-epr", first_pem, "2026-a", TOKEN_URL)))
        assert ok.status_code == 200, ok.text  # fetched from the address the guard allowed

        answers[:] = ["169.254.169.254"]  # the name is rebound to the metadata service
        fetches = _JwksHandler.fetches
        second_pem, _ = _new_rsa_key("2026-b")  # an unknown kid makes the hub fetch again
        refused = await hub.client.post("/oauth2/token", data=assertion_form(
            client_assertion("trust-epr", second_pem, "2026-b", TOKEN_URL)))
        assert_oauth_error(refused, "invalid_client", 401)
        assert _JwksHandler.fetches == fetches


def test_mash_keys_rotate_publishes_a_new_key(demo_data_dir: Path) -> None:
    mash = str(Path(sys.executable).with_name("mash"))
    result = subprocess.run([mash, "keys", "rotate", "--data-dir", str(demo_data_dir)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "new signing key" in result.stdout
    with sqlite3.connect(demo_data_dir / "identity.db") as conn:
        keys = conn.execute("SELECT kid, unpublish_at FROM signing_keys").fetchall()
    assert len(keys) == 2
    assert sum(1 for _, unpublish_at in keys if unpublish_at is None) == 1
