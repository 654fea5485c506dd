"""Fictional agencies, staff and partner systems, so a newcomer can try the hub at once.

Everything here is made up. Passwords, TOTP secrets, client secrets and private keys are
generated fresh for each data directory and written only to DIR/demo/ (mode 0600).

This module is light to import (the identity service is imported when the data is made):
`mash up` imports it first, to begin a first start's hashing before the services load.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.identity.hashing import password_hasher
from shared.roles import Role

if TYPE_CHECKING:
    from shared.db import UnitOfWork
    from shared.settings import Settings

CREDENTIALS = Path("demo", "credentials.json")  # in the data directory

AGENCIES = {
    "police": ("Northshire Police", "police"),
    "health": ("Northshire Hospitals NHS Foundation Trust", "health"),
    "school": ("Riverside Academy", "school"),
    "mash": ("Northshire Council MASH", "local_authority"),
}

USERS = [
    ("admin", "Hub Administrator", "mash", [Role.ADMIN]),
    ("mash.manager", "Morgan Hale (MASH manager)", "mash", [Role.MASH_MANAGER]),
    ("mash.practitioner", "Priya Shah (MASH social worker)", "mash", [Role.MASH_PRACTITIONER]),
    ("police.officer", "PC 4021 Ellis", "police", [Role.PARTNER_PRACTITIONER]),
    ("school.dsl", "Sam Okafor (designated safeguarding lead)", "school",
     [Role.PARTNER_PRACTITIONER]),
    ("auditor", "Information governance auditor", "mash", [Role.AUDITOR]),
    ("board.member", "Jo Rivers (safeguarding partnership board)", "mash", [Role.BOARD_MEMBER]),
]

# The demo school's DfE URN (999xxx is outside the range DfE has issued) and its
# designated safeguarding lead's mailbox, told of police notifications about its pupils.
DEMO_SCHOOL = {"school_urn": "999001",
               "safeguarding_lead_email": "dsl@riverside-academy.example"}

CLIENTS = [
    ("northshire-police-system", "Northshire Police case system", "police"),
    ("northshire-health-system", "Northshire Hospitals EPR", "health"),
]


@dataclass(frozen=True)
class SigningKey:
    """A client's RSA key pair: the private PEM and the public JWK with its kid."""

    private_pem: bytes
    public_jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        """The key id (the RFC 7638 thumbprint)."""
        return str(self.public_jwk["kid"])


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA public JWK."""
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"),
                           sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def new_signing_key() -> SigningKey:
    """A fresh RSA-2048 key for a partner system's client assertions."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"use": "sig", "alg": "RS512", "kid": jwk_thumbprint(jwk)})
    return SigningKey(pem, jwk)


def _write_private(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)


@dataclass(frozen=True)
class DemoSecrets:
    """What the demo's logins are made of: fresh passwords and client secrets, their
    argon2id hashes, and the partner systems' signing keys (in USERS' and CLIENTS' order)."""

    passwords: list[str]
    password_hashes: list[str]
    client_secrets: list[str]
    secret_hashes: list[str]
    signing_keys: list[SigningKey]


def make_demo_secrets() -> DemoSecrets:
    """Generate and hash the demo's secrets, side by side on worker threads (argon2 and
    OpenSSL release the GIL). Blocking: about 1.4 s of CPU, nine argon2id hashes."""
    passwords = [secrets.token_urlsafe(12) for _ in USERS]
    client_secrets = [secrets.token_urlsafe(32) for _ in CLIENTS]
    with ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="demo-secrets") as pool:
        keys = [pool.submit(new_signing_key) for _ in CLIENTS]
        hashes = list(pool.map(password_hasher.hash, passwords + client_secrets))
    return DemoSecrets(passwords=passwords, password_hashes=hashes[:len(USERS)],
                       client_secrets=client_secrets, secret_hashes=hashes[len(USERS):],
                       signing_keys=[key.result() for key in keys])


def start_demo_secrets() -> Future[DemoSecrets]:
    """Begin make_demo_secrets on a thread of its own and return at once.

    `mash up` calls this first thing on a first start, so the hashing runs on the second
    core while the first imports the services (most of a first start's extra time was
    this hashing, done after the imports). Nothing secret leaves the process: the
    result is only ever given to create_demo_data.
    """
    starter = ThreadPoolExecutor(1, thread_name_prefix="demo-secrets")
    future = starter.submit(make_demo_secrets)
    starter.shutdown(wait=False)
    return future


async def create_demo_data(uow: UnitOfWork, data_dir: Path, settings: Settings, *,
                           demo_secrets: Future[DemoSecrets] | None = None) -> Path | None:
    """On an empty identity database, create the demo records and DIR/demo/credentials.json.

    ``demo_secrets``: secrets begun earlier by start_demo_secrets; made here when None.
    Returns the credentials path, or None if the database already had agencies.
    """
    from services.identity import service as identity
    from services.identity.passwords import new_totp_secret, totp_uri

    if await identity.has_agencies(uow):
        return None
    demo_dir = (data_dir / CREDENTIALS).parent
    demo_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(demo_dir, 0o700)

    agencies = {key: await identity.create_agency(uow, name, kind,
                                                  **(DEMO_SCHOOL if key == "school" else {}))
                for key, (name, kind) in AGENCIES.items()}
    made = (await asyncio.wrap_future(demo_secrets) if demo_secrets is not None
            else await asyncio.to_thread(make_demo_secrets))
    users = []
    for (username, display_name, agency_key, roles), password, password_hash in zip(
            USERS, made.passwords, made.password_hashes, strict=True):
        totp_secret = new_totp_secret()
        user = await identity.create_user(
            uow, settings, username=username, display_name=display_name,
            agency_id=agencies[agency_key].id, roles=roles, password=password,
            totp_secret=totp_secret, password_hash=password_hash,
        )
        users.append({"username": username, "password": password, "totp_secret": totp_secret,
                      "otpauth_uri": totp_uri(totp_secret, username),
                      "roles": user.roles, "agency_id": user.agency_id,
                      "agency": agencies[agency_key].name})
    clients = []
    for (client_id, name, agency_key), secret, secret_hash, key in zip(
            CLIENTS, made.client_secrets, made.secret_hashes, made.signing_keys, strict=True):
        client = await identity.create_api_client(
            uow, client_id=client_id, name=name, agency_id=agencies[agency_key].id,
            roles=[Role.PARTNER_SYSTEM], jwks={"keys": [key.public_jwk]}, client_secret=secret,
            assertion_algorithms=["RS512"], secret_hash=secret_hash,
        )
        key_file = f"{client_id}.pem"
        _write_private(demo_dir / key_file, key.private_pem)
        clients.append({"client_id": client_id, "agency_id": client.agency_id,
                        "agency": agencies[agency_key].name, "roles": client.roles,
                        "private_key_file": key_file, "kid": key.kid, "client_secret": secret})
    credentials = {
        "base_url": settings.base_url,
        "agencies": [{"id": a.id, "name": a.name, "kind": a.kind, "school_urn": a.school_urn,
                      "safeguarding_lead_email": a.safeguarding_lead_email}
                     for a in agencies.values()],
        "users": users,
        "clients": clients,
    }
    path = data_dir / CREDENTIALS
    _write_private(path, json.dumps(credentials, indent=2).encode())
    return path
