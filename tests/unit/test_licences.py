"""Every locked dependency states a licence we can read, every runtime one can be combined
with AGPL-3.0-or-later, and docs/licences.md lists them as they are."""

from __future__ import annotations

from email.message import Message

import pytest

from tests.licences import (
    AGPL_COMPATIBLE,
    LICENCES_DOC,
    TOOLS_ONLY,
    Row,
    complies,
    licence_of,
    render,
    runtime_and_tools,
)


def _refusals(rows: list[Row], allowed: frozenset[str]) -> list[str]:
    refused = []
    for row in rows:
        if not row.pin.applies():
            continue
        if row.installed != row.pin.version:
            refused.append(f"{row.pin.name}: {row.installed} installed, {row.pin.version} locked")
        elif not complies(row.licence.expression, allowed):
            refused.append(f"{row.pin.name}: {row.licence.expression} ({row.licence.source})")
    return refused


def test_every_runtime_dependency_may_be_combined_with_the_agpl() -> None:
    runtime, _ = runtime_and_tools()
    assert len(runtime) > 20
    assert _refusals(runtime, AGPL_COMPATIBLE) == []


def test_every_test_tool_is_open_source() -> None:
    _, tools = runtime_and_tools()
    assert any(row.pin.name == "pytest" for row in tools)
    assert _refusals(tools, TOOLS_ONLY) == []


def test_the_licences_page_lists_the_locked_packages_as_they_are() -> None:
    assert LICENCES_DOC.read_text() == render(), "run scripts/lock to write docs/licences.md"


def _metadata(**fields: str | list[str]) -> Message:
    message = Message()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            message[name.replace("_", "-")] = item
    return message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"License_Expression": "mit or apache-2.0"}, "MIT OR Apache-2.0"),
        # The expression wins over a classifier that says otherwise.
        (
            {
                "License_Expression": "MIT",
                "Classifier": "License :: OSI Approved :: Apache Software License",
            },
            "MIT",
        ),
        ({"License": "BSD-3-Clause"}, "BSD-3-Clause"),
        ({"License": "Apache 2.0"}, "Apache-2.0"),
        (
            {
                "License": "LGPL",
                "Classifier": "License :: OSI Approved :: GNU Lesser General Public License "
                "v2 or later (LGPLv2+)",
            },
            "LGPL-2.0-or-later",
        ),
        (
            {
                "Classifier": [
                    "License :: OSI Approved",
                    "License :: OSI Approved :: MIT License",
                    "License :: OSI Approved :: Python Software Foundation License",
                ]
            },
            "MIT AND PSF-2.0",
        ),
        # Two, three or four clauses: the BSD classifier alone does not say.
        ({"License": "BSD license", "Classifier": "License :: OSI Approved :: BSD License"}, None),
        ({"License": "Copyright (c) Example Ltd. All rights reserved."}, None),
        ({"Classifier": "License :: Other/Proprietary License"}, None),
        ({}, None),
    ],
)
def test_a_licence_is_read_from_the_metadata_or_is_unknown(
    fields: dict[str, str | list[str]], expected: str | None
) -> None:
    assert licence_of("some-package", _metadata(**fields)).expression == expected


def test_a_reviewed_licence_is_used_only_when_the_metadata_does_not_say() -> None:
    vague = _metadata(License="Dual License")
    assert licence_of("python-dateutil", vague).expression == "Apache-2.0 AND BSD-3-Clause"
    assert licence_of("python-dateutil", vague).source.startswith("reviewed")
    clear = _metadata(License_Expression="Apache-2.0")
    assert licence_of("python-dateutil", clear).expression == "Apache-2.0"


@pytest.mark.parametrize(
    ("expression", "agpl", "tools"),
    [
        ("MIT", True, True),
        ("Apache-2.0 OR BSD-3-Clause", True, True),
        ("MIT AND PSF-2.0", True, True),
        ("GPL-2.0-only", False, True),
        ("MIT OR GPL-2.0-only", True, True),
        ("MIT AND GPL-2.0-only", False, True),
        ("(MIT OR GPL-2.0-only) AND LicenseRef-Proprietary", False, False),
        ("GPL-2.0-or-later WITH Classpath-exception-2.0", True, True),
        ("LicenseRef-Proprietary", False, False),
        ("EPL-2.0", False, True),
        (None, False, False),
    ],
)
def test_an_expression_complies_when_one_choice_of_licences_is_allowed(
    expression: str | None, agpl: bool, tools: bool
) -> None:
    assert complies(expression, AGPL_COMPATIBLE) is agpl
    assert complies(expression, TOOLS_ONLY) is tools
