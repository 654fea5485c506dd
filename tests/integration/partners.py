"""A hub with its demo partners and staff, and a client that speaks as any of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import func, select

from mash.gateway import Hub
from shared.auth import CSRF_HEADER, SESSION_COOKIE
from tests.auth import client_token, current_otp, demo_user, load_credentials
from tests.bodies import REFERRAL, referral_body
from tests.integration.hub import hub_settings, start_hub

POLICE = "northshire-police-system"


HEALTH = "northshire-health-system"
# The referral source each demo system gives (a partner gives its own kind's sources).
SOURCE_OF = {POLICE: "6", HEALTH: "3F"}


@dataclass
class Intake:
    hub: Hub
    client: httpx.AsyncClient
    data_dir: Path
    credentials: dict[str, Any]
    tokens: dict[str, str]
    sessions: dict[str, str] = field(default_factory=dict)

    async def as_client(self, client_id: str) -> dict[str, str]:
        if client_id not in self.tokens:
            self.tokens[client_id] = await client_token(self.client, self.credentials,
                                                        self.data_dir, client_id)
        return {"authorization": f"Bearer {self.tokens[client_id]}"}

    async def as_user(self, username: str) -> dict[str, str]:
        """Sign a member of staff in (once: a TOTP code works once); their session cookie
        is on the client afterwards."""
        self.client.cookies.clear()
        if username not in self.sessions:
            user = demo_user(self.credentials, username)
            response = await self.client.post("/api/v1/sessions", json={
                "username": username, "password": user["password"],
                "otp": current_otp(user["totp_secret"])})
            assert response.status_code == 200, response.text
            self.sessions[username] = self.client.cookies[SESSION_COOKIE]
        self.client.cookies.set(SESSION_COOKIE, self.sessions[username])
        return {CSRF_HEADER: "1"}

    async def submit(self, body: dict[str, Any] | None = None, client_id: str = POLICE,
                     **headers: str) -> httpx.Response:
        self.client.cookies.clear()
        body = body or referral_body(source=SOURCE_OF.get(client_id, "6"))
        return await self.client.post("/api/v1/referrals", json=body,
                                      headers={**await self.as_client(client_id), **headers})

    async def count(self, model: type, *where: Any) -> int:
        async with self.hub.services["referral"].database.unit_of_work() as uow:
            query = select(func.count()).select_from(model)
            for clause in where:
                query = query.where(clause)
            return int((await uow.session.exec(query)).one())


@asynccontextmanager
async def running_intake(data_dir: Path) -> AsyncIterator[Intake]:
    """The hub started in the test's process on ``data_dir`` (demo data in it)."""
    hub, client, running = await start_hub(hub_settings(data_dir))
    try:
        yield Intake(hub, client, data_dir, load_credentials(data_dir), {})
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


@pytest.fixture
async def intake(demo_data_dir: Path) -> AsyncIterator[Intake]:
    async with running_intake(demo_data_dir) as started:
        yield started


def child(**changes: Any) -> dict[str, Any]:
    subject = dict(REFERRAL["subjects"][0])
    subject.update(changes)
    return subject


def agency_of(intake: Intake, client_id: str) -> str:
    return next(c["agency_id"] for c in intake.credentials["clients"]
                if c["client_id"] == client_id)


async def read(intake: Intake, referral_id: str) -> tuple[dict[str, Any], str]:
    response = await intake.client.get(f"/api/v1/referrals/{referral_id}")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]
