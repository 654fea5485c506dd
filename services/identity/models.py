"""Identity service tables: agencies, staff users and partner API clients."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


def new_id() -> str:
    """A random UUID as text."""
    return str(uuid.uuid4())


class Agency(SQLModel, table=True):
    """A partner organisation (police force, NHS trust, school) or the council's MASH."""

    __tablename__ = "agencies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32)  # police | health | school | local_authority | other
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class User(SQLModel, table=True):
    """A member of staff who signs in to the web client with password and TOTP."""

    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    username: str = Field(max_length=100, unique=True)
    display_name: str = Field(max_length=200)
    agency_id: str = Field(foreign_key="agencies.id", max_length=36, index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str = Field(max_length=255)
    totp_secret: str = Field(max_length=64)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ApiClient(SQLModel, table=True):
    """A partner system that obtains tokens by client credentials."""

    __tablename__ = "api_clients"

    id: str = Field(primary_key=True, max_length=100)  # the OAuth2 client_id
    name: str = Field(max_length=200)
    agency_id: str = Field(foreign_key="agencies.id", max_length=36, index=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    jwks: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    jwks_uri: str | None = Field(default=None, max_length=2000)
    secret_hash: str | None = Field(default=None, max_length=255)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
