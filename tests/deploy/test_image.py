"""The container image (deploy/Containerfile), built here as deploy/image/build builds it:
on a base made from Debian's packages with debootstrap, with podman. This sandbox refuses
to start containers (the OCI runtime's setrlimit is not permitted), so the built image is
checked instead: its configuration, and `mash` run inside its root filesystem by chroot
as the image's own user. hadolint lints the Containerfile.

The image is tagged with a hash of everything it is built from, so a second run on the
same machine (CI runs on the machine its submission came from) reuses it; older test
images are removed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
INPUTS = ["deploy/Containerfile", "deploy/image/build", "deploy/nginx/mash.conf",
          "pyproject.toml", "README.md", "requirements/runtime.txt", "mash", "services",
          "shared", "web"]
MAX_SIZE_MB = 500


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def image() -> str:
    for tool in ("podman", "debootstrap"):
        if shutil.which(tool) is None:
            unavailable(tool, "not installed (.ci/services installs Debian's package)")
    if os.geteuid() != 0:
        unavailable("root", "deploy/image/build runs debootstrap and chroot builds as root")
    tag = f"localhost/mash:test-{inputs_digest()}"
    if podman("image", "exists", tag, check=False).returncode != 0:
        built = subprocess.run([str(ROOT / "deploy" / "image" / "build"), tag], cwd=ROOT,
                               capture_output=True, text=True, timeout=1800)
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    for line in podman("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split():
        if line.startswith("localhost/mash:test-") and line != tag:
            podman("rmi", "--force", line, check=False)
    return tag


@pytest.fixture(scope="module")
def config(image: str) -> dict[str, Any]:
    [inspected] = json.loads(podman("image", "inspect", image).stdout)
    return dict(inspected)


@pytest.fixture(scope="module")
def rootfs(image: str) -> Iterator[Path]:
    mounted = podman("image", "mount", image).stdout.strip()
    try:
        yield Path(mounted)
    finally:
        podman("image", "unmount", image, check=False)


def test_runs_as_a_non_root_user_with_mash_as_its_entrypoint(config: dict[str, Any]) -> None:
    settings = config["Config"]
    assert settings["User"] == "10001:10001"
    assert settings["Entrypoint"] == ["mash"]
    assert settings["Cmd"][0] == "up"
    assert "8000/tcp" in settings["ExposedPorts"]
    health = config["Healthcheck"] if "Healthcheck" in config else settings["Healthcheck"]
    assert "/healthz" in " ".join(health["Test"])
    labels = settings["Labels"]
    assert labels["org.opencontainers.image.licenses"] == "AGPL-3.0-or-later"
    assert labels["org.opencontainers.image.title"] == "mash"
    assert labels["org.opencontainers.image.version"]


def test_the_final_stage_has_no_compiler_and_no_pip(rootfs: Path) -> None:
    binaries = {p.name for d in ("usr/bin", "usr/local/bin", "opt/mash/venv/bin")
                for p in (rootfs / d).iterdir()}
    assert not {"gcc", "cc", "c++", "g++", "x86_64-linux-gnu-gcc-12", "pip", "pip3",
                "apt-get-build-dep"} & binaries
    assert not list(rootfs.glob("usr/lib/gcc/*/*/cc1"))
    assert not list((rootfs / "opt/mash/venv/lib").glob("python3*/site-packages/pip"))


def chrooted(rootfs: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``argv`` inside the image's root filesystem, as its user, with its environment."""
    env = {"PATH": "/opt/mash/venv/bin:/usr/bin:/bin", "MASH_WEB_DIR": "/opt/mash/web",
           "HOME": "/var/lib/mash", "PYTHONDONTWRITEBYTECODE": "1"}
    chroot = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin")
    assert chroot is not None
    return subprocess.run([chroot, "--userspec=10001:10001", str(rootfs), *argv],
                          env=env, capture_output=True, text=True, timeout=120)


def test_mash_runs_inside_the_image(rootfs: Path) -> None:
    helped = chrooted(rootfs, "mash", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "{up,serve,relay,migrate" in helped.stdout
    # The whole hub imports: every runtime dependency, the migrations and the web client
    # are in the image, not only the command line.
    probe = ("from mash.gateway import create_hub_app; from mash.web import WEB_DIR; "
             "from services.referral.app import MIGRATIONS; "
             "print((WEB_DIR / 'index.html').is_file(), "
             "len(list((MIGRATIONS / 'versions').glob('*.py'))))")
    imported = chrooted(rootfs, "python3", "-c", probe)
    assert imported.returncode == 0, imported.stderr
    found, migrations = imported.stdout.split()
    assert found == "True" and int(migrations) >= 20
    assert (rootfs / "opt/mash/nginx/mash.conf").is_file()  # for the gateway's init container


def test_image_size(config: dict[str, Any]) -> None:
    size_mb = config["Size"] / 1e6
    print(f"image size: {size_mb:.0f} MB", file=sys.stderr)
    assert size_mb < MAX_SIZE_MB


def test_hadolint_passes_the_containerfile() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    linted = subprocess.run([str(hadolint), "--failure-threshold", "info", str(CONTAINERFILE)],
                            capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr
