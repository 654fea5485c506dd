"""The key pair this hub keeps for each peer: made at registration, the private half
encrypted at rest (as identity's signing keys), the public half published as a JWKS."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from shared.crypto import fernet_for
from shared.settings import Settings

ALGORITHM = "ES256"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_SECONDS = 60


def peer_fernet(settings: Settings) -> Fernet:
    """The key that encrypts peer hubs' private keys in the referral database."""
    return fernet_for(settings, "referral peer hub keys")


@dataclass(frozen=True)
class NewKey:
    """A fresh key pair: its id, its public JWK (JSON) and its encrypted private key."""

    kid: str
    public_jwk: str
    private_key_encrypted: str


def new_key(fernet: Fernet) -> NewKey:
    """An ES256 key pair for one peer."""
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    kid = secrets.token_urlsafe(12)
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return NewKey(kid, json.dumps(jwk), fernet.encrypt(pem).decode())


def jwks(public_jwk: str) -> dict[str, Any]:
    """The JWKS of one peer's key."""
    return {"keys": [json.loads(public_jwk)]}


def client_assertion(fernet: Fernet, private_key_encrypted: str, kid: str, client_id: str,
                     token_endpoint: str) -> str:
    """A private_key_jwt client assertion (RFC 7523) for the peer's token endpoint."""
    pem = fernet.decrypt(private_key_encrypted.encode())
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_endpoint, "iat": now,
              "exp": now + ASSERTION_SECONDS, "jti": secrets.token_urlsafe(16)}
    return jwt.encode(claims, pem, algorithm=ALGORITHM, headers={"kid": kid})
