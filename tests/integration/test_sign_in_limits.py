"""Guessing passwords and client secrets: failures are rate-limited, clients lock out, and
password checks never hold up the rest of the hub."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash.gateway import Hub
from services.identity import passwords
from services.identity.models import ApiClient
from services.identity.passwords import Hasher
from shared.events import utcnow
from shared.problems import Problem
from tests.auth import basic, client_token, current_otp, demo_client, demo_user, load_credentials
from tests.helpers import HUB_BASE_URL
from tests.integration.hub import hub_settings, start_hub

HEALTH = "northshire-health-system"  # the demo client that signs in with a secret
TOKEN = {"grant_type": "client_credentials"}

Limited = tuple[httpx.AsyncClient, Callable[[str], httpx.AsyncClient], dict[str, Any], Hub]


@pytest.fixture
async def start(demo_data_dir: Path) -> AsyncIterator[Callable[..., Awaitable[Limited]]]:
    """Starts a hub with the given limits; yields its client, a factory of clients calling
    from other addresses, the demo credentials and the hub."""
    running_hubs: list[tuple[object, httpx.AsyncClient]] = []
    extra: list[httpx.AsyncClient] = []

    async def _start(**limits: object) -> Limited:
        hub, client, running = await start_hub(hub_settings(demo_data_dir, **limits))
        running_hubs.append((running, client))
        app = client._transport.app  # type: ignore[attr-defined]

        def from_address(address: str) -> httpx.AsyncClient:
            other = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                base_url=HUB_BASE_URL)
            extra.append(other)
            return other

        return client, from_address, load_credentials(demo_data_dir), hub

    yield _start
    for other in extra:
        await other.aclose()
    for running, client in running_hubs:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def sign_in(client: httpx.AsyncClient, credentials: dict[str, Any], username: str,
                  password: str | None = None) -> httpx.Response:
    user = demo_user(credentials, username)
    return await client.post("/api/v1/sessions", json={
        "username": username, "password": password or user["password"],
        "otp": current_otp(user["totp_secret"])})


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 300


async def test_failed_sign_ins_for_one_username_get_429_with_retry_after(start: Callable[
        ..., Awaitable[Limited]]) -> None:
    client, _, credentials, _ = await start(auth_failures_per_username=3)
    for _ in range(3):
        assert (await sign_in(client, credentials, "auditor", "guess")).status_code == 401
    # Refused before any check: even the right password and code.
    assert_too_many(await sign_in(client, credentials, "auditor"))
    for _ in range(3):  # a name with no account is limited as well
        await client.post("/api/v1/sessions", json={
            "username": "no.such.user", "password": "x", "otp": "123456"})
    assert_too_many(await client.post("/api/v1/sessions", json={
        "username": "no.such.user", "password": "x", "otp": "123456"}))
    # Another user signing in correctly is unaffected.
    assert (await sign_in(client, credentials, "mash.practitioner")).status_code == 200


async def test_wrong_secrets_for_one_client_get_429_with_retry_after(start: Callable[
        ..., Awaitable[Limited]]) -> None:
    client, _, credentials, hub = await start(auth_failures_per_client=3)
    secret = demo_client(credentials, HEALTH)["client_secret"]
    for _ in range(3):
        wrong = await client.post("/oauth2/token", data=TOKEN,
                                  headers={"authorization": basic(HEALTH, "guess")})
        assert wrong.status_code == 401
    assert_too_many(await client.post("/oauth2/token", data=TOKEN,
                                      headers={"authorization": basic(HEALTH, secret)}))
    # Another client, and staff signing in, are unaffected.
    assert await client_token(client, credentials, hub.settings.data_dir)
    assert (await sign_in(client, credentials, "mash.practitioner")).status_code == 200


async def test_failures_from_one_address_get_429_for_every_name_from_it(start: Callable[
        ..., Awaitable[Limited]]) -> None:
    client, from_address, credentials, _ = await start(auth_failures_per_address=4)
    attacker = from_address("203.0.113.7")
    for username in ("admin", "auditor", "mash.manager"):
        assert (await sign_in(attacker, credentials, username, "guess")).status_code == 401
    unknown = await attacker.post("/api/v1/sessions", json={
        "username": "no.such.user", "password": "x", "otp": "123456"})
    assert unknown.status_code == 401
    assert_too_many(await sign_in(attacker, credentials, "school.dsl"))
    secret = demo_client(credentials, HEALTH)["client_secret"]
    assert_too_many(await attacker.post("/oauth2/token", data=TOKEN,
                                        headers={"authorization": basic(HEALTH, secret)}))
    # The same user from another address is not held up by the attacker's failures.
    assert (await sign_in(client, credentials, "school.dsl")).status_code == 200


async def test_thirty_wrong_secrets_in_a_row_lock_the_client_out_for_a_while(start: Callable[
        ..., Awaitable[Limited]]) -> None:
    client, _, credentials, hub = await start(auth_failures_per_client=1000,
                                              auth_failures_per_address=1000)
    secret = demo_client(credentials, HEALTH)["client_secret"]

    async def token(with_secret: str) -> httpx.Response:
        return await client.post("/oauth2/token", data=TOKEN,
                                 headers={"authorization": basic(HEALTH, with_secret)})

    for _ in range(29):
        assert (await token("guess")).status_code == 401
    assert (await token(secret)).status_code == 200, "29 in a row do not lock; and reset"
    for _ in range(30):
        assert (await token("guess")).status_code == 401
    locked = await token(secret)  # the right secret, during the lock-out
    assert locked.status_code == 401 and locked.json()["error"] == "invalid_client"
    other = await client_token(client, credentials, hub.settings.data_dir)
    assert other, "another client is unaffected"

    identity = hub.services["identity"]
    async with identity.database.unit_of_work() as uow:
        row = await uow.session.get(ApiClient, HEALTH)
        assert row is not None and row.locked_until is not None
        assert timedelta(minutes=14) < row.locked_until - utcnow() <= timedelta(minutes=15)
        row.locked_until = utcnow() - timedelta(seconds=1)  # the lock-out has run its course
        uow.session.add(row)
        await uow.commit()
    assert (await token(secret)).status_code == 200


async def test_passwords_are_checked_off_the_event_loop(
    start: Callable[..., Awaitable[Limited]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, _, credentials, _ = await start()
    threads: list[str] = []
    real_verify = passwords.password_hasher.verify

    def recording_verify(password: str, hashed: str) -> bool:
        threads.append(threading.current_thread().name)
        return real_verify(password, hashed)

    monkeypatch.setattr(passwords.password_hasher, "verify", recording_verify)
    assert (await sign_in(client, credentials, "mash.practitioner")).status_code == 200
    secret = demo_client(credentials, HEALTH)["client_secret"]
    assert (await client.post("/oauth2/token", data=TOKEN,
                              headers={"authorization": basic(HEALTH, secret)})
            ).status_code == 200
    loop_thread = threading.current_thread().name
    assert len(threads) == 2 and loop_thread not in threads
    assert all(name.startswith("argon2") for name in threads)


async def test_checks_beyond_the_queue_are_refused_at_once_with_503(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real_verify = passwords.password_hasher.verify

    def blocked_verify(password: str, hashed: str) -> bool:
        release.wait(10)
        return real_verify(password, hashed)

    monkeypatch.setattr(passwords.password_hasher, "verify", blocked_verify)
    hasher = Hasher(workers=1, max_waiting=1)
    running = [asyncio.create_task(hasher.verify("x", None)) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(Problem) as refused:
        await hasher.verify("x", None)
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "1"}
    release.set()
    assert await asyncio.gather(*running) == [False, False]
    hasher.close()
