"""Identity service tables: agencies, staff users and partner API clients."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime, new_id


class Agency(SQLModel, table=True):
    """A partner organisation (police force, NHS trust, school) or the council's MASH."""

    __tablename__ = "agencies"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=32)  # police | health | school | local_authority | other
    active: bool = True
    # Schools: the DfE unique reference number, and the designated safeguarding lead's
    # mailbox (Operation Encompass notices go there when the school has no webhook).
    school_urn: str | None = Field(default=None, max_length=6, unique=True)
    safeguarding_lead_email: str | None = Field(default=None, max_length=320)
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
    # Encrypted (passwords.seal_totp_secret): a copy of the database gives no second factor.
    totp_secret: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    failed_sign_ins: int = 0
    locked_until: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))
    last_totp_step: int = 0  # a TOTP code is accepted once only


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
    # Algorithms its client assertions may use (NHS England examples use RS512).
    assertion_algorithms: list[str] = Field(
        default_factory=lambda: ["RS512", "RS256", "ES256"], sa_column=Column(JSON, nullable=False)
    )
    active: bool = True
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # Wrong secrets in a row; enough of them lock secret authentication until locked_until.
    failed_secrets: int = 0
    locked_until: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))


class SigningKey(SQLModel, table=True):
    """One of identity's token-signing keys: published, then signing, then retired.

    A key is in the JWKS from ``created_at`` until ``unpublish_at``; it signs from
    ``signs_from`` until the next key's ``signs_from``. The private key is stored
    encrypted with a key derived from MASH_SECRET_KEY.
    """

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    algorithm: str = Field(max_length=8)
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))
    private_key_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    signs_from: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    unpublish_at: datetime | None = Field(default=None,
                                          sa_column=Column(UTCDateTime, nullable=True))


class StaffSession(SQLModel, table=True):
    """A signed-in member of staff (the web client's session cookie names it)."""

    __tablename__ = "staff_sessions"

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", max_length=36, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    ended_reason: str | None = Field(default=None, max_length=32)


class UsedClientAssertion(SQLModel, table=True):
    """A client assertion's jti, kept until the assertion expires, so it cannot be replayed."""

    __tablename__ = "used_client_assertions"

    client_id: str = Field(primary_key=True, max_length=100)
    jti: str = Field(primary_key=True, max_length=255)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


class SignInAttempt(SQLModel, table=True):
    """Every staff sign-in attempt and its outcome, for lockout and for audit."""

    __tablename__ = "sign_in_attempts"

    id: int | None = Field(default=None, primary_key=True)
    user_id: str | None = Field(default=None, max_length=36, index=True)
    succeeded: bool
    reason: str = Field(max_length=32)  # ok | bad_credentials | locked | disabled
    attempted_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class AdminChange(SQLModel, table=True):
    """One change an administrator made (an agency, a user, an API client): who, when,
    what, and which fields to which values (never a secret, a password or a key)."""

    __tablename__ = "admin_changes"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))
    actor: str = Field(max_length=100)
    action: str = Field(max_length=32)
    record_type: str = Field(max_length=16)
    record_id: str = Field(max_length=64, index=True)
    changes: dict[str, object] = Field(default_factory=dict,
                                       sa_column=Column(JSON, nullable=False))
