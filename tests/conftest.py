"""Fixtures shared by every test.

Tests that need PostgreSQL, RabbitMQ or nginx use the real thing. Where one is missing
they are skipped on a developer's machine, but fail in CI (CI=true), where .ci/run has
installed and started them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

POSTGRES_URL = os.environ.get(
    "MASH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
RABBITMQ_URL = os.environ.get("MASH_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def run_check(check: Callable[[], Coroutine[Any, Any, str | None]]) -> str | None:
    """Run an async reachability check from sync code, even inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, check()).result()


def unavailable(what: str, why: str) -> None:
    """Skip on a developer's machine; fail in CI, where every dependency must be present."""
    message = f"{what} is not available ({why})"
    if IN_CI:
        pytest.fail(message + "; CI must run this test", pytrace=False)
    pytest.skip(message)


async def _postgres_reachable() -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(_asyncpg_dsn(POSTGRES_URL), timeout=3)
        await conn.close()
        return None
    except Exception as exc:
        return type(exc).__name__


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The test PostgreSQL server's URL (database `test`), or skip/fail if it is down."""
    problem = run_check(_postgres_reachable)
    if problem:
        unavailable("PostgreSQL", problem)
    return POSTGRES_URL


async def _create_database(server_url: str) -> str:
    import asyncpg

    name = f"mash_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return _with_database(server_url, name)


async def _drop_database(server_url: str, url: str) -> None:
    import asyncpg

    name = url.rpartition("/")[2]
    admin = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def postgres_database(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    url = await _create_database(postgres_server)
    try:
        yield url
    finally:
        await _drop_database(postgres_server, url)


@pytest.fixture(scope="session")
def postgres_database_factory(
    postgres_server: str,
) -> Callable[[], AbstractContextManager[str]]:
    """Fresh databases for fixtures of any scope, outside an event loop.

    ``with postgres_database_factory() as url:`` creates an empty database and drops it
    when the block ends (used where several services each need their own database).
    """

    @contextmanager
    def fresh_database() -> Iterator[str]:
        url = asyncio.run(_create_database(postgres_server))
        try:
            yield url
        finally:
            asyncio.run(_drop_database(postgres_server, url))

    return fresh_database


async def _rabbitmq_reachable() -> str | None:
    import aio_pika

    try:
        conn = await aio_pika.connect(RABBITMQ_URL, timeout=3)
        await conn.close()
        return None
    except Exception as exc:
        return type(exc).__name__


@pytest.fixture(scope="session")
def rabbitmq_server() -> str:
    """The test RabbitMQ server's URL, or skip/fail if it is down."""
    problem = run_check(_rabbitmq_reachable)
    if problem:
        unavailable("RabbitMQ", problem)
    return RABBITMQ_URL


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses (exchanges, queues, databases)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """Path of the nginx binary, or skip/fail if it is not installed."""
    path = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if path is None:
        unavailable("nginx", "binary not found")
    assert path is not None
    return path


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database, once as a SQLite file and once as a PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after a first `mash up`: migrated, with demo data. Built once;
    tests get copies (creating the demo logins hashes eight secrets with argon2)."""
    from mash.gateway import Hub
    from shared.settings import Settings
    from tests.helpers import HUB_BASE_URL

    directory = tmp_path_factory.mktemp("demo-template")

    async def first_start() -> None:
        hub = Hub(Settings(data_dir=directory, base_url=HUB_BASE_URL), demo=True)
        async with hub.running():
            pass

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, first_start()).result()
    return directory


@pytest.fixture
def demo_data_dir(demo_template: Path, tmp_path: Path) -> Path:
    """A data directory of one's own, with the demo agencies, users and clients in it."""
    target = tmp_path / "demo-data"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty data directory for `mash up`-style tests."""
    directory = tmp_path / "data"
    directory.mkdir()
    yield directory
