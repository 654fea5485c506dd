"""Notify's own settings: webhook delivery and SMTP (environment variables, prefix ``MASH_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    """How notify delivers; read from the environment beside the shared Settings."""

    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    # Webhook delivery. Retries wait these many seconds after each failed attempt
    # (jittered); the last one failing dead-letters the delivery (~3 days).
    notify_webhook_timeout_seconds: float = 15.0
    notify_retry_schedule_seconds: list[float] = Field(default_factory=lambda: [
        5.0, 300.0, 1800.0, 7200.0, 18000.0, *([36000.0] * 7)])
    notify_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    notify_max_retry_after_seconds: float = 86400
    notify_secret_grace_seconds: int = 86400
    # An endpoint failing this long when a delivery runs out of retries is disabled. Two
    # days is below the shortest the jittered schedule above can take (about 2.6 days), so
    # with the defaults every delivery that runs out of retries disables its endpoint.
    notify_disable_after_seconds: float = 172800
    # A later event of a referral waits at most this long for the referral's `received`
    # to reach notify (so a lost `received` cannot hold the rest back for ever).
    notify_order_hold_seconds: float = 86400
    # When an endpoint that was failing answers again, the deliveries waiting for their
    # next retry come due at once, in order, this many a second at most (2,000 in 20 s).
    notify_catch_up_per_second: float = Field(default=100.0, gt=0)
    # A failing endpoint with nothing due sooner gets one waiting delivery this often (a
    # probe: if it fails, that delivery keeps its place in the schedule), so its return
    # is noticed even when no new event is on its way to it.
    notify_probe_seconds: float = Field(default=5.0, gt=0)
    notify_poll_seconds: float = 1.0
    notify_batch_size: int = 50
    # Webhooks to loopback (and plain http there) for tests and `mash up`; unset means
    # allowed only in environment=development. Private and link-local are always refused.
    notify_allow_loopback_webhooks: bool | None = None

    # Email through SMTP. No host means email deliveries wait (and retry).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "mash@localhost"
    smtp_timeout_seconds: float = 15.0

    def allows_loopback_webhooks(self, environment: str) -> bool:
        """True when webhook URLs may point at this machine (tests, `mash up`)."""
        if self.notify_allow_loopback_webhooks is not None:
            return self.notify_allow_loopback_webhooks
        return environment == "development"
