"""Known vulnerabilities of the locked packages, for a machine where pip-audit cannot ask.

pip-audit asks PyPI's per-release JSON API (https://pypi.org/pypi/NAME/VERSION/json) about
each locked version. Where only the per-project document answers (a mirror or proxy that
serves https://pypi.org/pypi/NAME/json but not the per-release one), this reads that
document's `vulnerabilities`, which PyPI fills for the newest release: a package locked at
its newest release is checked, and any other is reported as not checked, never as clean.

    python -m tests.vulnerabilities runtime test audit
Exit 1 when a checked package has a known vulnerability, 0 otherwise; the summary says
how many were checked and lists those that were not."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

from tests.licences import locked

PYPI = "https://pypi.org/pypi"


def per_release_api_answers() -> bool:
    """Whether the per-release document pip-audit needs answers from here."""
    try:
        # A fixed https address (S310 warns of file: and custom schemes).
        with urllib.request.urlopen(f"{PYPI}/pip/24.0/json", timeout=20) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, TimeoutError):
        return False


def project(name: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{PYPI}/{name}/json", timeout=30) as response:  # noqa: S310
        document: dict[str, object] = json.load(response)
    return document


def main(files: list[str]) -> int:
    pins = sorted({(pin.name, pin.version) for name in files for pin in locked(name)})
    found: list[str] = []
    unchecked: list[str] = []
    for name, version in pins:
        try:
            document = project(name)
        except (urllib.error.URLError, TimeoutError) as exc:
            unchecked.append(f"{name} {version} (PyPI did not answer: {exc})")
            continue
        info = document["info"]
        assert isinstance(info, dict)
        if info["version"] != version:
            unchecked.append(f"{name} {version} (newest is {info['version']})")
            continue
        for advisory in document.get("vulnerabilities") or []:  # type: ignore[attr-defined]
            found.append(f"{name} {version}: {advisory.get('id')} "
                         f"(fixed in {', '.join(advisory.get('fixed_in') or []) or '?'})")
    for line in found:
        print(f"VULNERABLE {line}")
    print(f"{len(pins) - len(unchecked)} of {len(pins)} locked packages checked against "
          f"PyPI's advisories for their newest release: {len(found)} known vulnerabilities")
    for line in unchecked:
        print(f"  not checked: {line}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
