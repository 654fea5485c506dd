"""Identity domain logic: agencies, users and API clients (the caller's unit of work commits)."""

from __future__ import annotations

import json
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import func
from sqlmodel import select

from services.identity.models import Agency, ApiClient, User
from services.identity.roles import Role
from shared.db import UnitOfWork
from shared.events import utcnow

password_hasher = PasswordHash.recommended()  # argon2id


async def has_agencies(uow: UnitOfWork) -> bool:
    """True once any agency exists (the database is no longer empty)."""
    result = await uow.session.exec(select(func.count()).select_from(Agency))
    return bool(result.one())


async def create_agency(uow: UnitOfWork, name: str, kind: str) -> Agency:
    """Register an agency."""
    agency = Agency(name=name, kind=kind, created_at=utcnow())
    uow.session.add(agency)
    await uow.session.flush()
    return agency


async def create_user(
    uow: UnitOfWork,
    *,
    username: str,
    display_name: str,
    agency_id: str,
    roles: list[Role],
    password: str,
    totp_secret: str,
) -> User:
    """Register a member of staff; the password is stored as an argon2id hash."""
    user = User(
        username=username,
        display_name=display_name,
        agency_id=agency_id,
        roles=[str(r) for r in roles],
        password_hash=password_hasher.hash(password),
        totp_secret=totp_secret,
        created_at=utcnow(),
    )
    uow.session.add(user)
    await uow.session.flush()
    return user


async def create_api_client(
    uow: UnitOfWork,
    *,
    client_id: str,
    name: str,
    agency_id: str,
    roles: list[Role],
    jwks: dict[str, Any] | None = None,
    client_secret: str | None = None,
) -> ApiClient:
    """Register a partner system with a public JWKS and/or a secret (stored hashed)."""
    client = ApiClient(
        id=client_id,
        name=name,
        agency_id=agency_id,
        roles=[str(r) for r in roles],
        jwks=json.dumps(jwks) if jwks else None,
        secret_hash=password_hasher.hash(client_secret) if client_secret else None,
        created_at=utcnow(),
    )
    uow.session.add(client)
    await uow.session.flush()
    return client
