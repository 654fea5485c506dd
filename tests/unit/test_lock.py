"""The lock files in requirements/ hold what pyproject.toml asks for, so that installing
from them (scripts/up, scripts/test) gives every dependency. CI also checks the converse
(nothing locked that pyproject.toml no longer asks for) with `scripts/lock --check`."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.licences import ROOT, locked

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _unmet(requirements: list[str], lock: str) -> list[str]:
    pins = {pin.name: pin.version for pin in locked(lock)}
    unmet = []
    for line in requirements:
        requirement = Requirement(line)
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{line} (locked: {version})")
    return unmet


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [
        ("runtime", PROJECT["project"]["dependencies"]),
        (
            "test",
            PROJECT["project"]["dependencies"]
            + PROJECT["project"]["optional-dependencies"]["test"],
        ),
        ("audit", PROJECT["dependency-groups"]["audit"]),
    ],
)
def test_the_lock_meets_pyproject(lock: str, requirements: list[str]) -> None:
    assert _unmet(requirements, lock) == [], "run scripts/lock"


def test_the_runtime_lock_pins_the_same_versions_as_the_test_lock() -> None:
    test = {pin.name: pin.version for pin in locked("test")}
    assert {pin.name: pin.version for pin in locked("runtime")}.items() <= test.items()


def test_every_locked_package_is_pinned_with_hashes() -> None:
    for lock in ("runtime", "test", "audit"):
        text = (ROOT / "requirements" / f"{lock}.txt").read_text()
        # One entry per package: its pin line and the indented lines under it.
        entries = [e for e in re.split(r"\n(?=[^\s#])", text) if not e.startswith("#")]
        assert len(entries) == len(locked(lock)) > 0
        assert [e.split()[0] for e in entries if "--hash=sha256:" not in e] == []
