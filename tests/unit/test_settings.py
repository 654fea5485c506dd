"""Settings: safe defaults for `mash up`, refusal of placeholder secrets anywhere else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared import clock
from shared.events import utcnow
from shared.settings import Settings
from tests.helpers import hub_clock_at


def test_development_accepts_the_placeholder_secret() -> None:
    settings = Settings(environment="development")
    assert settings.secret_key.get_secret_value() == "changethis"


@pytest.mark.parametrize("environment", ["production", "test"])
def test_placeholder_secret_is_refused_outside_development(environment: str) -> None:
    with pytest.raises(ValidationError, match="MASH_SECRET_KEY"):
        Settings(environment=environment)  # type: ignore[arg-type]


def test_placeholder_database_password_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="password"):
        Settings(environment="production", secret_key="a-real-secret-of-some-length",
                 referral_database_url="postgresql+asyncpg://mash:changethis@db/referral")


def test_settings_come_from_mash_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASH_ENVIRONMENT", "production")
    monkeypatch.setenv("MASH_SECRET_KEY", "from-the-environment-0123456789")
    monkeypatch.setenv("MASH_BROKER_URL", "amqp://mash:s3cret@rabbit:5672/")
    monkeypatch.setenv("MASH_NOTIFY_DATABASE_URL", "postgresql+asyncpg://notify@db/notify")
    settings = Settings()
    assert settings.environment == "production"
    assert not settings.uses_memory_broker
    assert settings.database_url("notify") == "postgresql+asyncpg://notify@db/notify"


def test_unconfigured_database_is_a_sqlite_file_per_service_in_the_data_dir(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.uses_memory_broker
    urls = {name: settings.database_url(name) for name in ("referral", "notify", "identity")}
    assert urls["referral"] == f"sqlite+aiosqlite:///{tmp_path.resolve()}/referral.db"
    assert len(set(urls.values())) == 3


def test_the_clock_may_be_moved_for_tests_but_not_in_production() -> None:
    start = "2026-12-04T17:30:00+00:00"
    assert Settings(clock_start=start).clock_start is not None
    with pytest.raises(ValidationError, match="not in production"):
        Settings(environment="production", secret_key="a-real-secret-of-some-length",
                 clock_start=start)
    with pytest.raises(ValidationError):
        Settings(clock_start="2026-12-04T17:30:00")  # a time without its zone


def test_the_hubs_clock_starts_at_the_instant_and_runs_on() -> None:
    instant = datetime(2026, 12, 24, 17, 30, tzinfo=UTC)
    with hub_clock_at(instant):
        first = clock.now()
        assert timedelta(0) <= first - instant < timedelta(seconds=5)
        assert abs(clock.timestamp() - first.timestamp()) < 1
        assert utcnow() >= first
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1), "real time again"
