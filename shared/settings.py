"""Settings from the environment (prefix ``MASH_``), shared by every service.

A service's own settings live with it (services/notify/settings.py, services/referral/
settings.py) and read the same environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AwareDatetime, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.names import DEFAULT_SECRET, SERVICE_NAMES

__all__ = ["DEFAULT_SECRET", "SERVICE_NAMES", "Settings"]

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """One settings object per process; every service reads the fields it needs."""

    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    environment: Environment = "development"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)

    # Where `mash up` keeps its SQLite files and demo credentials.
    data_dir: Path = Path(".mash")
    # Public origin of the gateway, used in links and token audiences.
    base_url: str = "http://127.0.0.1:8000"

    # Per-service database URLs; unset means a SQLite file in data_dir.
    referral_database_url: str | None = None
    notify_database_url: str | None = None
    identity_database_url: str | None = None

    # "memory://" is the in-process broker; "amqp://..." is RabbitMQ.
    broker_url: str = "memory://"
    broker_exchange: str = "mash.events"
    broker_delivery_limit: int = 5

    # Tokens: identity signs, every service verifies against identity's JWKS.
    api_audience: str = "mash"
    jwks_url: str | None = None  # default: <base_url>/.well-known/jwks.json
    access_token_minutes: int = Field(default=15, ge=1, le=15)
    session_minutes: int = 480
    # A new signing key is published this long before it signs (caches pick it up).
    key_publish_lead_seconds: int = 600

    # Sign-in (POST /api/v1/sessions) and tokens (POST /oauth2/token). After this many
    # failed attempts within the window for one username, one client id or one source
    # address, further attempts for it are answered 429 with Retry-After, unchecked.
    # Only failures count, so busy but honest callers are never slowed.
    auth_failures_per_username: int = Field(default=10, ge=1)
    auth_failures_per_client: int = Field(default=10, ge=1)
    auth_failures_per_address: int = Field(default=50, ge=1)
    auth_failure_window_seconds: float = Field(default=300, gt=0)
    # This many wrong client secrets in a row lock the client's secret out for a while,
    # as five failed sign-ins lock a user out.
    client_lockout_failures: int = Field(default=30, ge=1)
    client_lockout_minutes: int = Field(default=15, ge=1)
    # Worker threads that hash and verify passwords (unset: one per core), and how many
    # checks may wait for one before more are refused with 503.
    password_hash_workers: int | None = Field(default=None, ge=1)
    password_hash_max_waiting: int = Field(default=32, ge=0)

    max_body_bytes: int = 1_048_576
    outbox_batch_size: int = 100
    outbox_poll_seconds: float = 1.0
    # Outbox rows already published, and inbox rows (the record that a consumer handled a
    # message), are deleted once older than this; an unsent outbox row is never deleted.
    message_retention_days: float = Field(default=7, gt=0)
    message_purge_seconds: float = Field(default=3600, gt=0)

    # /readyz: each check gives up after this long (they run at once, so the answer
    # comes within about this long, whatever is broken), and it reports "not ready" when
    # the filesystem of a SQLite database has less free space than this.
    ready_timeout_seconds: float = Field(default=0.8, gt=0, le=10)
    ready_min_free_disk_mb: int = Field(default=100, ge=0)

    # Fetches from addresses others chose (partners' JWKS URLs, peer hubs) may reach
    # loopback, over plain http too, for tests and `mash up`; unset means allowed only in
    # environment=development. Private and link-local addresses are always refused.
    allow_loopback_fetches: bool | None = None

    log_level: str = "INFO"
    # Start the hub's clock at this instant (tests and demonstrations; refused in
    # production): see shared.clock.
    clock_start: AwareDatetime | None = None
    # Where `mash audit checkpoint` also posts the sealed head of the audit chain (kept
    # away from the hub: a records system, a WORM bucket's upload URL).
    audit_checkpoint_url: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secrets_outside_development(self) -> Self:
        if self.environment == "development":
            return self
        if self.clock_start is not None and self.environment == "production":
            raise ValueError("MASH_CLOCK_START moves the hub's clock: not in production")
        if self.secret_key.get_secret_value() == DEFAULT_SECRET:
            raise ValueError(
                f'MASH_SECRET_KEY is "{DEFAULT_SECRET}"; set a real secret for '
                f"environment {self.environment!r}"
            )
        for url in (self.broker_url, *self._configured_database_urls()):
            if f":{DEFAULT_SECRET}@" in url:
                raise ValueError(
                    f'a connection URL uses the password "{DEFAULT_SECRET}"; '
                    f"set a real one for environment {self.environment!r}"
                )
        return self

    def _configured_database_urls(self) -> list[str]:
        urls = (self.referral_database_url, self.notify_database_url, self.identity_database_url)
        return [u for u in urls if u]

    def database_url(self, service: str) -> str:
        """The database URL for one service: configured, or a SQLite file in data_dir."""
        configured: str | None = getattr(self, f"{service}_database_url", None)
        if configured:
            return configured
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    def allows_loopback_fetches(self) -> bool:
        """True when outbound fetches may reach this machine (tests, `mash up`)."""
        if self.allow_loopback_fetches is not None:
            return self.allow_loopback_fetches
        return self.environment == "development"

    @property
    def issuer(self) -> str:
        """The `iss` of every token: the hub's public origin."""
        return self.base_url.rstrip("/")

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL: the `aud` of client assertions."""
        return f"{self.issuer}/oauth2/token"

    @property
    def jwks_location(self) -> str:
        """Where services fetch identity's public keys."""
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"

    @property
    def uses_memory_broker(self) -> bool:
        """True when events stay inside this process."""
        return self.broker_url.startswith("memory:")
