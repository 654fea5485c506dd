"""HTTP layer of the identity service: discovery, tokens, staff sessions, administration."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlmodel import SQLModel

from services.identity import passwords, service
from services.identity.models import Agency, ApiClient, User
from services.identity.oauth import (
    API_SCOPE,
    OAuthError,
    TokenRequest,
    claimed_client_id,
)
from services.identity.passwords import new_totp_secret, totp_uri
from services.identity.runtime import RuntimeDep
from services.identity.schemas import (
    AdminChangeView,
    AgencyCreate,
    AgencyPublic,
    AgencyUpdate,
    ClientCreate,
    ClientCreated,
    ClientPublic,
    ClientUpdate,
    Me,
    SecondFactorReset,
    SessionCreate,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
)
from shared.auth import SESSION_COOKIE, CurrentPrincipal, Principal, RolePermission
from shared.problems import Problem
from shared.roles import Role
from shared.service import ServiceDep, UnitOfWorkDep
from shared.settings import Settings
from shared.ssrf import UnsafeUrl, UrlGuard

ManageIdentities = RolePermission("manage agencies, users and API clients", Role.ADMIN)
changes_router = APIRouter(prefix="/api/v1/admin-changes", tags=["administration"])
AdminDep = Annotated[Principal, Depends(ManageIdentities)]

discovery = APIRouter(tags=["discovery"])
tokens = APIRouter(tags=["tokens"])
sessions = APIRouter(prefix="/api/v1", tags=["sessions"])
admin = APIRouter(prefix="/api/v1", tags=["administration"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@discovery.get("/.well-known/openid-configuration")
async def openid_configuration(svc: ServiceDep) -> dict[str, Any]:
    """Where the token endpoint and keys are, and what they support."""
    settings = svc.settings
    return {
        "issuer": settings.issuer,
        "token_endpoint": settings.token_endpoint,
        "jwks_uri": f"{settings.issuer}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": [
            "RS256", "RS384", "RS512", "PS256", "PS512", "ES256", "ES384"],
        "scopes_supported": [API_SCOPE],
        "response_types_supported": ["token"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
    }


@discovery.get("/.well-known/jwks.json")
async def jwks(runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    """The public keys that verify identity's tokens, including the next key."""
    response.headers["Cache-Control"] = "public, max-age=300"
    return await runtime.keys.public_jwks()


@tokens.post("/oauth2/token", response_model=None)
async def token(request: Request, uow: UnitOfWorkDep, runtime: RuntimeDep) -> JSONResponse:
    """OAuth2 client credentials: private_key_jwt (RFC 7523) or client_secret_basic."""
    form = await request.form()

    def field(name: str) -> str | None:
        value = form.get(name)
        return value if isinstance(value, str) else None

    token_request = TokenRequest(
        grant_type=field("grant_type"), scope=field("scope"), client_id=field("client_id"),
        client_assertion_type=field("client_assertion_type"),
        client_assertion=field("client_assertion"),
        authorization=request.headers.get("authorization"),
    )
    address = _source_address(request)
    client_id = claimed_client_id(token_request)
    runtime.throttle.check(client=client_id, address=address)
    passwords.hasher.refuse_if_busy()
    try:
        issued = await runtime.grant.issue(uow, token_request)
    except OAuthError as error:
        if error.error == "invalid_client":
            runtime.throttle.failed(client=client_id, address=address)
        # Answered, not raised: the replay record of a used assertion is kept (the request's
        # unit of work commits) even though the token is refused.
        headers = dict(NO_STORE)
        if error.basic_challenge:
            headers["WWW-Authenticate"] = 'Basic realm="mash"'
        return JSONResponse({"error": error.error, "error_description": error.description},
                            status_code=error.status, headers=headers)
    return JSONResponse({"access_token": issued.access_token, "token_type": "Bearer",
                         "expires_in": issued.expires_in, "scope": issued.scope},
                        headers=NO_STORE)


def _source_address(request: Request) -> str | None:
    """The caller's address (behind the gateway, uvicorn takes it from X-Forwarded-For)."""
    return request.client.host if request.client else None


def _cookie_is_secure(settings: Settings) -> bool:
    origin = settings.issuer
    return not (origin.startswith("http://127.0.0.1") or origin.startswith("http://localhost")
                or origin.startswith("http://[::1]"))


@sessions.post("/sessions", response_model=Me)
async def sign_in(body: SessionCreate, uow: UnitOfWorkDep, svc: ServiceDep, runtime: RuntimeDep,
                  request: Request, response: Response) -> Me:
    """Sign in with username, password and TOTP code; sets the session cookie."""
    address = _source_address(request)
    runtime.throttle.check(username=body.username, address=address)
    passwords.hasher.refuse_if_busy()
    signed_in = await service.sign_in(uow, runtime.keys, svc.settings, username=body.username,
                                      password=body.password, otp=body.otp)
    await uow.commit()  # a failed attempt counts even though the request is refused
    if signed_in is None:
        runtime.throttle.failed(username=body.username, address=address)
        raise Problem(401, "The username, password or code was not accepted. After several "
                           "failed attempts, sign-in is paused for 15 minutes.",
                      title="Sign-in failed")
    response.set_cookie(
        SESSION_COOKIE, signed_in.token, max_age=svc.settings.session_minutes * 60,
        httponly=True, secure=_cookie_is_secure(svc.settings), samesite="strict", path="/",
    )
    response.headers.update(NO_STORE)
    user = signed_in.user
    return Me(subject=user.id, kind="user", agency_id=user.agency_id,
              agency_kind=await service.agency_kind(uow, user.agency_id), roles=user.roles,
              username=user.username, display_name=user.display_name,
              session_expires_at=signed_in.session.expires_at)


@sessions.delete("/sessions/current", status_code=204)
async def sign_out(caller: CurrentPrincipal, uow: UnitOfWorkDep, svc: ServiceDep) -> Response:
    """Sign out: the session cannot be used again."""
    if caller.session_id is None:
        raise Problem(400, "Only a signed-in member of staff has a session to end.")
    await service.end_session(uow, caller.session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True,
                           secure=_cookie_is_secure(svc.settings), samesite="strict")
    return response


@sessions.get("/me", response_model=Me)
async def me(caller: CurrentPrincipal, uow: UnitOfWorkDep) -> Me:
    """Who the caller is: subject, agency and roles."""
    details = await service.describe_subject(uow, caller.subject, caller.kind)
    return Me(subject=caller.subject, kind="user" if caller.kind == "user" else "client",
              agency_id=caller.agency_id,
              agency_kind=await service.agency_kind(uow, caller.agency_id),
              roles=sorted(caller.roles), **details)


# Administration ------------------------------------------------------------------------

def _public(model: type[BaseModel], record: SQLModel, **extra: Any) -> Any:
    return model.model_validate({**record.model_dump(), **extra})


def _client_public(client: ApiClient, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client.id, "name": client.name, "agency_id": client.agency_id,
        "roles": client.roles, "jwks_uri": client.jwks_uri,
        "token_endpoint_auth_method": "private_key_jwt" if (client.jwks or client.jwks_uri)
        else "client_secret_basic",
        "assertion_algorithms": client.assertion_algorithms, "active": client.active,
        "created_at": client.created_at, **extra,
    }


async def _check_jwks_uri(url: str | None, guard: UrlGuard) -> None:
    """Refuse a JWKS URL the hub may not fetch (it is checked again at every fetch)."""
    if url is None:
        return
    try:
        await guard.check(url)
    except UnsafeUrl as exc:
        raise Problem(422, str(exc), title="JWKS URL not allowed",
                      errors=[{"loc": ["body", "jwks_uri"], "msg": str(exc)}]) from exc


async def _agency(uow: UnitOfWorkDep, agency_id: str) -> Agency:
    agency = await uow.session.get(Agency, agency_id)
    if agency is None:
        raise Problem(422, "No such agency.", title="Validation failed",
                      errors=[{"loc": ["body", "agency_id"], "msg": "unknown agency"}])
    return agency


@admin.get("/agencies", response_model=list[AgencyPublic])
async def list_agencies(_: AdminDep, uow: UnitOfWorkDep) -> list[Agency]:
    """Every agency."""
    return await service.list_agencies(uow)


@admin.post("/agencies", response_model=AgencyPublic, status_code=201)
async def create_agency(body: AgencyCreate, caller: AdminDep, uow: UnitOfWorkDep) -> Agency:
    """Register an agency."""
    agency = await service.create_agency(
        uow, body.name, body.kind, school_urn=body.school_urn,
        safeguarding_lead_email=str(body.safeguarding_lead_email)
        if body.safeguarding_lead_email else None)
    service.record_admin_change(uow, caller, "create_agency", "agency", agency.id,
                                body.model_dump(mode="json"))
    return agency


@admin.patch("/agencies/{agency_id}", response_model=AgencyPublic)
async def update_agency(agency_id: str, body: AgencyUpdate, caller: AdminDep,
                        uow: UnitOfWorkDep) -> Agency:
    """Rename, disable or enable an agency, or set a school's URN and DSL mailbox."""
    agency = await uow.session.get(Agency, agency_id)
    if agency is None:
        raise Problem(404, "No such agency.")
    changes = body.model_dump(exclude_unset=True, mode="json")
    await service.update_agency(uow, agency, dict(changes))
    service.record_admin_change(uow, caller, "update_agency", "agency", agency.id, changes)
    return agency


@admin.get("/users", response_model=list[UserPublic])
async def list_users(_: AdminDep, uow: UnitOfWorkDep) -> list[User]:
    """Every member of staff."""
    return await service.list_users(uow)


@admin.post("/users", response_model=UserCreated, status_code=201)
async def create_user(body: UserCreate, caller: AdminDep, uow: UnitOfWorkDep,
                      svc: ServiceDep) -> Any:
    """Register a member of staff; their first password and TOTP secret are shown once."""
    await _agency(uow, body.agency_id)
    if await service.username_taken(uow, body.username):
        raise Problem(409, "That username is taken.")
    password = secrets.token_urlsafe(12)
    totp_secret = new_totp_secret()
    user = await service.create_user(uow, svc.settings, username=body.username,
                                     display_name=body.display_name,
                                     agency_id=body.agency_id, roles=body.roles,
                                     password=password, totp_secret=totp_secret)
    service.record_admin_change(uow, caller, "create_user", "user", user.id,
                                body.model_dump(mode="json"))
    return _public(UserCreated, user, initial_password=password, totp_secret=totp_secret,
                   otpauth_uri=totp_uri(totp_secret, user.username))


@admin.patch("/users/{user_id}", response_model=UserPublic)
async def update_user(user_id: str, body: UserUpdate, caller: AdminDep,
                      uow: UnitOfWorkDep) -> User:
    """Change a user's name, roles or agency, or disable them.

    Disabling them, or changing their roles or agency, ends their sessions at once: a
    session's token carries the roles and agency it was signed with.
    """
    user = await uow.session.get(User, user_id)
    if user is None:
        raise Problem(404, "No such user.")
    changes = {name: value for name, value in body.model_dump(exclude_unset=True).items()
               if value is not None}
    if "agency_id" in changes:
        await _agency(uow, changes["agency_id"])
    service.record_admin_change(uow, caller, "update_user", "user", user.id,
                                body.model_dump(exclude_unset=True, mode="json"))
    await service.update_user(uow, user, changes)
    return user


@admin.post("/users/{user_id}/second-factor", response_model=SecondFactorReset)
async def reset_second_factor(user_id: str, caller: AdminDep, uow: UnitOfWorkDep,
                              svc: ServiceDep) -> SecondFactorReset:
    """A new second factor for a user who lost theirs: the secret is shown this once, and
    their sessions end."""
    user = await uow.session.get(User, user_id)
    if user is None:
        raise Problem(404, "No such user.")
    secret = await service.reset_second_factor(uow, svc.settings, user)
    service.record_admin_change(uow, caller, "reset_second_factor", "user", user.id)
    return SecondFactorReset(totp_secret=secret, otpauth_uri=totp_uri(secret, user.username))


@changes_router.get("", response_model=list[AdminChangeView])
async def list_admin_changes(_: AdminDep, uow: UnitOfWorkDep) -> list[AdminChangeView]:
    """Every administrator's change to agencies, users and API clients, newest first."""
    return [AdminChangeView.model_validate(c.model_dump())
            for c in await service.admin_changes(uow)]


@admin.get("/clients", response_model=list[ClientPublic])
async def list_clients(_: AdminDep, uow: UnitOfWorkDep) -> list[dict[str, Any]]:
    """Every partner system."""
    return [_client_public(c) for c in await service.list_clients(uow)]


@admin.post("/clients", response_model=ClientCreated, status_code=201)
async def create_client(body: ClientCreate, caller: AdminDep, uow: UnitOfWorkDep,
                        runtime: RuntimeDep) -> dict[str, Any]:
    """Register a partner system; without a JWKS it gets a secret, shown this once."""
    await _agency(uow, body.agency_id)
    await _check_jwks_uri(str(body.jwks_uri) if body.jwks_uri else None, runtime.guard)
    if await uow.session.get(ApiClient, body.client_id) is not None:
        raise Problem(409, "That client_id is taken.")
    secret = None if (body.jwks or body.jwks_uri) else secrets.token_urlsafe(32)
    client = await service.create_api_client(
        uow, client_id=body.client_id, name=body.name, agency_id=body.agency_id,
        roles=body.roles, jwks=body.jwks, jwks_uri=str(body.jwks_uri) if body.jwks_uri else None,
        client_secret=secret, assertion_algorithms=list(body.assertion_algorithms),
    )
    service.record_admin_change(uow, caller, "create_client", "client", client.id,
                                body.model_dump(mode="json"))
    return _client_public(client, client_secret=secret)


@admin.patch("/clients/{client_id}", response_model=ClientPublic)
async def update_client(client_id: str, body: ClientUpdate, caller: AdminDep,
                        uow: UnitOfWorkDep, runtime: RuntimeDep) -> dict[str, Any]:
    """Rename, disable or enable a partner system, or register new keys."""
    client = await uow.session.get(ApiClient, client_id)
    if client is None:
        raise Problem(404, "No such client.")
    changes = body.model_dump(exclude_unset=True, mode="json")
    await _check_jwks_uri(changes.get("jwks_uri"), runtime.guard)
    service.record_admin_change(uow, caller, "update_client", "client", client.id, changes)
    if "jwks" in changes:
        client.jwks = service.jwks_text(changes.pop("jwks"))
    for name, value in changes.items():
        setattr(client, name, value)
    uow.session.add(client)
    return _client_public(client)


ROUTERS = [discovery, tokens, sessions, admin, changes_router]
