"""The hubs the drills run against: a deployment (one for the module) and `mash up`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.deployment import Deployment, deployed
from tests.drills.kit import EmbeddedHub, embedded, is_root, mount_tmpfs, unmount


@pytest.fixture(scope="module")
def drill_deployment(
    postgres_database_factory: Callable[[], AbstractContextManager[str]],
    rabbitmq_server: str,
    nginx_binary: str,
) -> Iterator[Deployment]:
    """A deployment whose gateway lets the drill's clients through (they share an address)
    and whose notify may call the test's receiver on 127.0.0.1."""
    with deployed(postgres_database_factory, rabbitmq_server, nginx_binary,
                  rate_limit="2000r/s", rate_burst=2000,
                  extra_env={"MASH_NOTIFY_ALLOW_LOOPBACK_WEBHOOKS": "true"}) as running:
        yield running


@pytest.fixture
def workdir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="mash-drill-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def embedded_hub(workdir: Path) -> Iterator[EmbeddedHub]:
    with embedded(workdir) as hub:
        yield hub


@pytest.fixture
def small_disk(workdir: Path) -> Iterator[Path]:
    """A 32 MB tmpfs of the test's own (mounting needs root, as in CI)."""
    if not is_root():
        unavailable("a tmpfs mount", "not running as root")
    disk = workdir / "notify-disk"
    mount_tmpfs(disk)
    try:
        yield disk
    finally:
        unmount(disk)


@pytest.fixture
def embedded_hub_notify_on_small_disk(workdir: Path, small_disk: Path
                                      ) -> Iterator[tuple[EmbeddedHub, Path]]:
    """`mash up` whose notify.db (only) lives on the small disk."""
    with embedded(workdir, notify_dir=small_disk) as hub:
        yield hub, small_disk
