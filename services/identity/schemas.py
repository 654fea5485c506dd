"""Request and response shapes of the identity API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import EmailStr, Field, HttpUrl, model_validator

from shared.agencies import SCHOOL_URN_PATTERN
from shared.roles import Role
from shared.schemas import Schema

AssertionAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS512", "ES256", "ES384"]
AgencyKind = Literal["police", "health", "school", "local_authority", "other"]


class SessionCreate(Schema):
    """Staff sign-in: password and the current code of their authenticator app."""

    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    otp: str = Field(min_length=6, max_length=10)


class Me(Schema):
    """Who the caller is."""

    subject: str
    kind: Literal["user", "client"]
    agency_id: str
    # police | health | school | local_authority | other: what the web client offers.
    agency_kind: str | None = None
    roles: list[str]
    username: str | None = None
    client_id: str | None = None
    display_name: str | None = None
    session_expires_at: datetime | None = None


class Changes(Schema):
    """A PATCH body: a field left out stays as it is; ``NOT_NULL`` fields cannot be cleared."""

    NOT_NULL: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> Changes:
        cleared = [name for name in self.NOT_NULL
                   if name in self.model_fields_set and getattr(self, name) is None]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null; leave a field out to keep it")
        return self


SchoolUrn = Field(default=None, pattern=SCHOOL_URN_PATTERN, examples=["100000"],
                  description="schools: the DfE unique reference number (6 digits)")
SafeguardingLeadEmail = Field(
    default=None, max_length=320,
    description="schools: the designated safeguarding lead's mailbox, told of police "
                "notifications about the school's pupils (Operation Encompass) when the "
                "school has no webhook for them")


class AgencyCreate(Schema):
    """A new agency."""

    name: str = Field(min_length=1, max_length=200)
    kind: AgencyKind
    school_urn: str | None = SchoolUrn
    safeguarding_lead_email: EmailStr | None = SafeguardingLeadEmail

    @model_validator(mode="after")
    def _school_details_for_schools(self) -> AgencyCreate:
        if self.kind != "school" and (self.school_urn or self.safeguarding_lead_email):
            raise ValueError("only a school has a school_urn and a safeguarding_lead_email")
        return self


class AgencyUpdate(Changes):
    """Changes to an agency."""

    NOT_NULL = ("name", "active")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None
    school_urn: str | None = SchoolUrn
    safeguarding_lead_email: EmailStr | None = SafeguardingLeadEmail


class AgencyPublic(Schema):
    """An agency as the API shows it."""

    id: str
    name: str
    kind: str
    active: bool
    school_urn: str | None = None
    safeguarding_lead_email: str | None = None
    created_at: datetime


class UserCreate(Schema):
    """A new member of staff; the initial password and TOTP secret are returned once."""

    username: str = Field(min_length=3, max_length=100, pattern=r"^[a-z0-9._-]+$")
    display_name: str = Field(min_length=1, max_length=200)
    agency_id: str
    roles: list[Role] = Field(min_length=1)


class UserUpdate(Changes):
    """Changes to a user; disabling them, or changing their roles or agency, ends their
    sessions at once."""

    NOT_NULL = ("display_name", "agency_id", "roles", "active")

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    agency_id: str | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    active: bool | None = None


class UserPublic(Schema):
    """A user as the API shows it (never the hashes or the TOTP secret)."""

    id: str
    username: str
    display_name: str
    agency_id: str
    roles: list[str]
    active: bool
    locked_until: datetime | None
    created_at: datetime


class UserCreated(UserPublic):
    """A new user with the credentials to hand over; shown this once only."""

    initial_password: str
    totp_secret: str
    otpauth_uri: str


class ClientCreate(Schema):
    """A new partner system: a JWKS (inline or URL) for private_key_jwt, else a secret."""

    client_id: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    agency_id: str
    roles: list[Role] = Field(default_factory=lambda: [Role.PARTNER_SYSTEM], min_length=1)
    jwks: dict[str, Any] | None = None
    jwks_uri: HttpUrl | None = None
    assertion_algorithms: list[AssertionAlgorithm] = Field(
        default_factory=lambda: list[AssertionAlgorithm](["RS512"]))

    @model_validator(mode="after")
    def _one_key_source(self) -> ClientCreate:
        if self.jwks is not None and self.jwks_uri is not None:
            raise ValueError("give jwks or jwks_uri, not both")
        if self.jwks is not None and not isinstance(self.jwks.get("keys"), list):
            raise ValueError("jwks must be a JSON Web Key Set: {\"keys\": [...]}")
        return self


class ClientUpdate(Changes):
    """Changes to a partner system; disabling stops new tokens at once."""

    NOT_NULL = ("name", "active")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None
    jwks: dict[str, Any] | None = None
    jwks_uri: HttpUrl | None = None


class ClientPublic(Schema):
    """A partner system as the API shows it (never the secret's hash)."""

    client_id: str
    name: str
    agency_id: str
    roles: list[str]
    token_endpoint_auth_method: Literal["private_key_jwt", "client_secret_basic"]
    jwks_uri: str | None
    assertion_algorithms: list[str]
    active: bool
    created_at: datetime


class ClientCreated(ClientPublic):
    """A new partner system; ``client_secret`` is shown this once only (when no JWKS)."""

    client_secret: str | None = None


class SecondFactorReset(Schema):
    """A user's new second factor: shown this once."""

    totp_secret: str
    otpauth_uri: str


class AdminChangeView(Schema):
    """One administrator's change: who, when, what (secrets never shown)."""

    id: int
    at: datetime
    actor: str
    action: str
    record_type: str
    record_id: str
    changes: dict[str, Any]
