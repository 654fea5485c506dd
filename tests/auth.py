"""Getting tokens and sessions the way partner systems and staff do, for tests."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def load_credentials(data_dir: Path) -> dict[str, Any]:
    """The demo credentials `mash up` wrote."""
    credentials: dict[str, Any] = json.loads(
        (data_dir / "demo" / "credentials.json").read_text())
    return credentials


def demo_client(credentials: dict[str, Any], client_id: str = "northshire-police-system"
                ) -> dict[str, Any]:
    """One demo API client's entry."""
    return next(c for c in credentials["clients"] if c["client_id"] == client_id)


def demo_user(credentials: dict[str, Any], username: str) -> dict[str, Any]:
    """One demo user's entry."""
    return next(u for u in credentials["users"] if u["username"] == username)


def client_assertion(client_id: str, private_key_pem: bytes, kid: str, audience: str, *,
                     algorithm: str = "RS512", lifetime: int = 300,
                     **overrides: Any) -> str:
    """A private_key_jwt client assertion as the NHS England API platform describes it."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "jti": str(uuid.uuid4()),
              "iat": now, "exp": now + lifetime, **overrides}
    return jwt.encode(claims, private_key_pem, algorithm=algorithm, headers={"kid": kid})


def assertion_form(assertion: str) -> dict[str, str]:
    """The token request body for a client assertion."""
    return {"grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion}


def basic(client_id: str, secret: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def client_token(client: httpx.AsyncClient, credentials: dict[str, Any], data_dir: Path,
                       client_id: str = "northshire-police-system") -> str:
    """An access token for a demo partner system, by private_key_jwt."""
    entry = demo_client(credentials, client_id)
    pem = (data_dir / "demo" / entry["private_key_file"]).read_bytes()
    assertion = client_assertion(client_id, pem, entry["kid"],
                                 f"{credentials['base_url']}/oauth2/token")
    response = await client.post("/oauth2/token", data=assertion_form(assertion))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def current_otp(secret: str) -> str:
    """The code an authenticator app shows now."""
    return pyotp.TOTP(secret).now()
