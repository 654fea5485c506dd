"""Identity's token-signing keys: creation, rotation without downtime, the public JWKS."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlmodel import col, select

from services.identity.models import SigningKey
from shared.crypto import fernet_for
from shared.db import Database, UnitOfWork
from shared.events import utcnow
from shared.settings import Settings

ALGORITHM = "ES256"


def _fernet(settings: Settings) -> Fernet:
    return fernet_for(settings, "identity signing keys")


def _new_key(settings: Settings, signs_from: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    kid = secrets.token_urlsafe(12)
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return SigningKey(
        kid=kid,
        algorithm=ALGORITHM,
        public_jwk=json.dumps(jwk),
        private_key_encrypted=_fernet(settings).encrypt(pem).decode(),
        created_at=utcnow(),
        signs_from=signs_from,
    )


class KeyStore:
    """Reads and rotates signing keys in identity's database."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    async def _keys(self, uow: UnitOfWork) -> list[SigningKey]:
        result = await uow.session.exec(select(SigningKey).order_by(col(SigningKey.signs_from)))
        return list(result.all())

    async def ensure_key(self) -> None:
        """Create the first key (signing at once) if there is none."""
        async with self.database.unit_of_work() as uow:
            if not await self._keys(uow):
                uow.session.add(_new_key(self.settings, utcnow()))
                await uow.commit()

    async def rotate(self, *, lead: timedelta | None = None) -> SigningKey:
        """Publish a new key now; it signs after ``lead`` (default: the configured lead).

        The keys it replaces stay published until every token they signed has expired.
        """
        lead = lead if lead is not None else timedelta(
            seconds=self.settings.key_publish_lead_seconds)
        now = utcnow()
        signs_from = now + lead
        token_life = timedelta(minutes=max(self.settings.access_token_minutes,
                                           self.settings.session_minutes))
        async with self.database.unit_of_work() as uow:
            key = _new_key(self.settings, signs_from)
            for old in await self._keys(uow):
                if old.unpublish_at is None:
                    old.unpublish_at = signs_from + token_life
                    uow.session.add(old)
            uow.session.add(key)
            await uow.commit()
        return key

    async def public_jwks(self) -> dict[str, Any]:
        """The JWKS: every key published now (including ones not yet signing)."""
        now = utcnow()
        async with self.database.unit_of_work() as uow:
            keys = [k for k in await self._keys(uow)
                    if k.unpublish_at is None or k.unpublish_at > now]
        return {"keys": [json.loads(k.public_jwk) for k in keys]}

    async def sign(self, claims: dict[str, Any], *, token_type: str) -> str:
        """Sign ``claims`` with the newest key that is due to sign."""
        now = utcnow()
        async with self.database.unit_of_work() as uow:
            due = [k for k in await self._keys(uow) if k.signs_from <= now]
        if not due:
            raise RuntimeError("no signing key is due; run `mash keys rotate`")
        key = due[-1]
        pem = _fernet(self.settings).decrypt(key.private_key_encrypted.encode())
        return jwt.encode(claims, pem, algorithm=key.algorithm,
                          headers={"kid": key.kid, "typ": token_type})
