"""The identity service's app factory."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from services.identity import directory, passwords
from services.identity import service as identity
from services.identity.keys import KeyStore
from services.identity.oauth import ClientCredentialsGrant, JwksCache
from services.identity.routes import ROUTERS
from services.identity.runtime import IdentityRuntime
from services.identity.throttle import SignInThrottle
from shared.broker import Broker
from shared.db import Database
from shared.service import Service
from shared.settings import Settings
from shared.ssrf import UrlGuard

NAME = "identity"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_service(
    settings: Settings, broker: Broker, registry: CollectorRegistry | None = None
) -> Service:
    """The identity service, for `mash up` or for serving alone (its runtime on app.state)."""
    database = Database(settings.database_url(NAME))
    keys = KeyStore(database, settings)

    async def session_has_ended(session_id: str) -> bool:
        async with database.unit_of_work() as uow:
            return await identity.session_has_ended(uow, session_id)

    # Passwords are hashed on worker threads, so a flood of sign-ins cannot stall the loop.
    passwords.hasher.workers = settings.password_hash_workers or passwords.hasher.workers
    passwords.hasher.max_waiting = settings.password_hash_max_waiting
    service = Service(NAME, settings=settings, broker=broker, routers=[directory.router, *ROUTERS],
                      migrations=MIGRATIONS, registry=registry, database=database,
                      title="MASH identity service", revocation_check=session_has_ended,
                      on_start=[keys.ensure_key, passwords.hasher.warm_up])
    # Identity verifies its own tokens from its own key store, not over HTTP.
    service.verifier.jwks_source = keys.public_jwks
    guard = UrlGuard(allow_loopback=settings.allows_loopback_fetches(), what="JWKS URL")
    service.app.state.runtime = IdentityRuntime(
        keys, guard, ClientCredentialsGrant(settings, keys, JwksCache(guard)),
        SignInThrottle(settings))
    return service
