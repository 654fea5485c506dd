"""Identity domain logic: agencies, users, API clients and staff sessions.

No HTTP here; the caller's unit of work commits.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from services.identity import passwords
from services.identity.keys import KeyStore
from services.identity.models import (
    AdminChange,
    Agency,
    ApiClient,
    SignInAttempt,
    StaffSession,
    User,
)
from services.identity.passwords import (
    matching_totp_step,
    new_totp_secret,
    open_totp_secret,
    seal_totp_secret,
)
from shared.agencies import agency_updated_event
from shared.auth import SESSION_TOKEN_TYPE, Principal, session_ended_event
from shared.db import UnitOfWork
from shared.events import utcnow
from shared.outbox import add_to_outbox
from shared.problems import Problem
from shared.roles import Role
from shared.settings import Settings
from shared.staff import staff_updated_event

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)


# Agencies, users, clients -------------------------------------------------------------

async def has_agencies(uow: UnitOfWork) -> bool:
    """True once any agency exists (the database is no longer empty)."""
    result = await uow.session.exec(select(func.count()).select_from(Agency))
    return bool(result.one())


async def create_agency(uow: UnitOfWork, name: str, kind: str, *,
                        school_urn: str | None = None,
                        safeguarding_lead_email: str | None = None) -> Agency:
    """Register an agency; other services learn of it by `mash.agency.updated`."""
    await _check_name_free(uow, name, None)
    await _check_urn_free(uow, school_urn, None)
    agency = Agency(name=name, kind=kind, school_urn=school_urn,
                    safeguarding_lead_email=safeguarding_lead_email, created_at=utcnow())
    uow.session.add(agency)
    await uow.session.flush()
    _publish_agency(uow, agency)
    return agency


async def update_agency(uow: UnitOfWork, agency: Agency, changes: dict[str, Any]) -> Agency:
    """Change an agency; other services learn of it by `mash.agency.updated`."""
    for field in ("school_urn", "safeguarding_lead_email"):
        if changes.get(field) and agency.kind != "school":
            raise Problem(422, f"Only a school has a {field}.", title="Validation failed",
                          errors=[{"loc": ["body", field], "msg": "not a school"}])
    await _check_name_free(uow, changes.get("name"), agency.id)
    await _check_urn_free(uow, changes.get("school_urn"), agency.id)
    for name, value in changes.items():
        setattr(agency, name, value)
    uow.session.add(agency)
    _publish_agency(uow, agency)
    return agency


async def _check_name_free(uow: UnitOfWork, name: str | None, agency_id: str | None) -> None:
    if not name:
        return
    holder = (await uow.session.exec(select(Agency.id).where(Agency.name == name))).first()
    if holder is not None and holder != agency_id:
        raise Problem(409, "Another agency has this name.", title="Conflict")


async def _check_urn_free(uow: UnitOfWork, urn: str | None, agency_id: str | None) -> None:
    if not urn:
        return
    holder = (await uow.session.exec(select(Agency.id).where(Agency.school_urn == urn))).first()
    if holder is not None and holder != agency_id:
        raise Problem(409, "Another agency has this school_urn.", title="Conflict")


def _publish_staff(uow: UnitOfWork, user: User) -> None:
    add_to_outbox(uow, staff_updated_event(
        user.id, display_name=user.display_name, agency_id=user.agency_id, roles=user.roles,
        active=user.active))


def _publish_agency(uow: UnitOfWork, agency: Agency) -> None:
    add_to_outbox(uow, agency_updated_event(
        agency.id, kind=agency.kind, active=agency.active, school_urn=agency.school_urn,
        safeguarding_lead_email=agency.safeguarding_lead_email, name=agency.name))


async def create_user(
    uow: UnitOfWork,
    settings: Settings,
    *,
    username: str,
    display_name: str,
    agency_id: str,
    roles: list[Role],
    password: str,
    totp_secret: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Register a member of staff; the password is stored as an argon2id hash, the TOTP
    secret encrypted. ``password_hash``: the password's hash, if the caller made it already
    (the demo data hashes its users' passwords side by side)."""
    user = User(
        username=username,
        display_name=display_name,
        agency_id=agency_id,
        roles=[str(r) for r in roles],
        password_hash=password_hash or await passwords.hasher.hash(password),
        totp_secret=seal_totp_secret(settings, totp_secret or new_totp_secret()),
        created_at=utcnow(),
    )
    uow.session.add(user)
    await uow.session.flush()
    _publish_staff(uow, user)
    return user


async def create_api_client(
    uow: UnitOfWork,
    *,
    client_id: str,
    name: str,
    agency_id: str,
    roles: list[Role],
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    client_secret: str | None = None,
    assertion_algorithms: list[str] | None = None,
    secret_hash: str | None = None,
) -> ApiClient:
    """Register a partner system with a public JWKS (inline or URL) and/or a hashed secret
    (``secret_hash``: the secret's hash, if the caller made it already)."""
    client = ApiClient(
        id=client_id,
        name=name,
        agency_id=agency_id,
        roles=[str(r) for r in roles],
        jwks=jwks_text(jwks),
        jwks_uri=jwks_uri,
        secret_hash=secret_hash or (await passwords.hasher.hash(client_secret)
                                    if client_secret else None),
        created_at=utcnow(),
    )
    if assertion_algorithms:
        client.assertion_algorithms = assertion_algorithms
    uow.session.add(client)
    await uow.session.flush()
    return client


async def update_user(uow: UnitOfWork, user: User, changes: dict[str, Any]) -> User:
    """Change a user; disabling them, or changing their roles or agency, ends their sessions."""
    if "roles" in changes:
        changes["roles"] = [str(r) for r in changes["roles"]]
    reason = None
    if changes.get("active") is False:
        reason = "user_disabled"
    elif "roles" in changes and sorted(changes["roles"]) != sorted(user.roles):
        reason = "roles_changed"
    elif "agency_id" in changes and changes["agency_id"] != user.agency_id:
        reason = "agency_changed"
    for name, value in changes.items():
        setattr(user, name, value)
    uow.session.add(user)
    _publish_staff(uow, user)
    if reason is not None:
        await end_sessions_of(uow, user.id, reason)
    return user


async def username_taken(uow: UnitOfWork, username: str) -> bool:
    """True if a user already has this username."""
    result = await uow.session.exec(select(User.id).where(User.username == username))
    return result.first() is not None


def jwks_text(jwks: dict[str, Any] | None) -> str | None:
    """A JWKS as stored."""
    return json.dumps(jwks) if jwks else None


async def list_agencies(uow: UnitOfWork) -> list[Agency]:
    """Every agency, by name."""
    return list((await uow.session.exec(select(Agency).order_by(col(Agency.name)))).all())


async def list_users(uow: UnitOfWork) -> list[User]:
    """Every user, by username."""
    return list((await uow.session.exec(select(User).order_by(col(User.username)))).all())


async def list_clients(uow: UnitOfWork) -> list[ApiClient]:
    """Every API client, by id."""
    return list((await uow.session.exec(select(ApiClient).order_by(col(ApiClient.id)))).all())


async def end_sessions_of(uow: UnitOfWork, user_id: str, reason: str) -> int:
    """End every open session of a user (disabled, or their roles or agency changed); other
    services are told by `mash.session.ended`."""
    now = utcnow()
    result = await uow.session.exec(
        select(StaffSession).where(StaffSession.user_id == user_id,
                                   col(StaffSession.ended_at).is_(None),
                                   col(StaffSession.expires_at) > now))
    sessions = list(result.all())
    for staff_session in sessions:
        _end(uow, staff_session, reason)
    return len(sessions)


# Staff sign-in ------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedIn:
    """A new staff session and the token the session cookie carries."""

    user: User
    session: StaffSession
    token: str


async def sign_in(
    uow: UnitOfWork, keys: KeyStore, settings: Settings,
    *, username: str, password: str, otp: str,
) -> SignedIn | None:
    """Check password and TOTP code; a new session, or None (the attempt is recorded).

    An unknown username costs the same work as a wrong password. After
    MAX_FAILED_SIGN_INS failures in a row the account is locked for LOCKOUT.
    """
    now = utcnow()
    user = (await uow.session.exec(select(User).where(User.username == username))).first()
    password_ok = await passwords.hasher.verify(password, user.password_hash if user else None)
    secret = open_totp_secret(settings, user.totp_secret) if user else "A" * 32
    step = matching_totp_step(secret, otp, at=time.time(),
                              after_step=user.last_totp_step if user else 0)
    if user is None:
        uow.session.add(SignInAttempt(succeeded=False, reason="bad_credentials",
                                      attempted_at=now))
        return None
    if user.locked_until is not None and user.locked_until > now:
        reason = "locked"
    elif not user.active:
        reason = "disabled"
    elif not password_ok or step is None:
        reason = "bad_credentials"
        user.failed_sign_ins += 1
        if user.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            user.locked_until = now + LOCKOUT
            user.failed_sign_ins = 0
    else:
        reason = "ok"
    uow.session.add(SignInAttempt(user_id=user.id, succeeded=reason == "ok", reason=reason,
                                  attempted_at=now))
    uow.session.add(user)
    if reason != "ok" or step is None:
        return None

    user.failed_sign_ins = 0
    user.locked_until = None
    user.last_totp_step = step
    staff_session = StaffSession(
        id=secrets.token_urlsafe(24), user_id=user.id, created_at=now,
        expires_at=now + timedelta(minutes=settings.session_minutes),
    )
    uow.session.add(staff_session)
    claims = _session_claims(settings, user, staff_session,
                             await agency_kind(uow, user.agency_id))
    token = await keys.sign(claims, token_type=SESSION_TOKEN_TYPE)
    return SignedIn(user, staff_session, token)


async def agency_kind(uow: UnitOfWork, agency_id: str) -> str | None:
    """The kind of an agency (police, health, ...): a token says what its holder speaks for."""
    agency = await uow.session.get(Agency, agency_id)
    return agency.kind if agency is not None else None


def _session_claims(settings: Settings, user: User, staff_session: StaffSession,
                    kind: str | None) -> dict[str, Any]:
    issued = int(staff_session.created_at.timestamp())
    return {
        "iss": settings.issuer,
        "sub": user.id,
        "aud": settings.api_audience,
        "iat": issued,
        "nbf": issued,
        "exp": int(staff_session.expires_at.timestamp()),
        "jti": secrets.token_urlsafe(16),
        "sid": staff_session.id,
        "agency_id": user.agency_id,
        "agency_kind": kind,
        "roles": user.roles,
        "kind": "user",
        "username": user.username,
    }


def _end(uow: UnitOfWork, staff_session: StaffSession, reason: str) -> None:
    staff_session.ended_at = utcnow()
    staff_session.ended_reason = reason
    uow.session.add(staff_session)
    add_to_outbox(uow, session_ended_event(staff_session.id, staff_session.expires_at))


async def end_session(uow: UnitOfWork, session_id: str, reason: str = "signed_out") -> bool:
    """Sign out: the session ends here at once, and in other services on the event."""
    staff_session = await uow.session.get(StaffSession, session_id)
    if staff_session is None or staff_session.ended_at is not None:
        return False
    _end(uow, staff_session, reason)
    return True


async def session_has_ended(uow: UnitOfWork, session_id: str) -> bool:
    """True if the session is unknown or has ended (identity's own revocation check)."""
    staff_session = await uow.session.get(StaffSession, session_id)
    return staff_session is None or staff_session.ended_at is not None


async def describe_subject(uow: UnitOfWork, subject: str, kind: str) -> dict[str, Any]:
    """Name and status of a user or client, for GET /api/v1/me."""
    if kind == "user":
        user = await uow.session.get(User, subject)
        return {"username": user.username, "display_name": user.display_name} if user else {}
    client = await uow.session.get(ApiClient, subject)
    return {"client_id": client.id, "display_name": client.name} if client else {}


# Fields an admin change never records the value of.
_SECRET_FIELDS = frozenset({"jwks", "client_secret", "password", "totp_secret",
                            "secret_hash", "password_hash"})


def record_admin_change(uow: UnitOfWork, who: Principal, action: str, record_type: str,
                        record_id: str, changes: dict[str, Any] | None = None) -> None:
    """Audit one administrator's change, in the change's own transaction."""
    shown = {name: ("(changed)" if name in _SECRET_FIELDS else value)
             for name, value in (changes or {}).items()}
    uow.session.add(AdminChange(at=utcnow(), actor=who.subject, action=action,
                                record_type=record_type, record_id=record_id,
                                changes=json.loads(json.dumps(shown, default=str))))


async def admin_changes(uow: UnitOfWork, limit: int = 200) -> list[AdminChange]:
    """The newest administrators' changes first."""
    result = await uow.session.exec(select(AdminChange)
                                    .order_by(col(AdminChange.id).desc()).limit(limit))
    return list(result.all())


async def reset_second_factor(uow: UnitOfWork, settings: Settings, user: User) -> str:
    """A new TOTP secret for a user who lost theirs (returned once); their sessions end."""
    secret = passwords.new_totp_secret()
    user.totp_secret = passwords.seal_totp_secret(settings, secret)
    user.last_totp_step = 0  # the new secret's codes have not been used
    uow.session.add(user)
    await end_sessions_of(uow, user.id, "second_factor_reset")
    return secret
