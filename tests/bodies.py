"""Synthetic referral bodies for tests (NHS numbers from the 999 test range)."""

from __future__ import annotations

import copy
from typing import Any

# 999 000 0018 and friends: test-range NHS numbers with a valid check digit.
TEST_NHS_NUMBERS = ["9990000018", "9990000026", "9990000034", "9990000042"]

REFERRAL: dict[str, Any] = {
    "source": "6",
    "referrer": {"name": "PC 4021 Ellis", "role": "Police officer", "phone": "01632 960001",
                 "email": "ellis@police.example"},
    "kind": "referral",
    "subjects": [
        {"role": "child", "given_name": "Amy", "family_name": "Example",
         "date_of_birth": "2012-04-02", "sex": "F", "nhs_number": "999 000 0018",
         "address": {"line1": "1 Test Street", "town": "Northshire", "postcode": "s60 1aa"},
         "school": "Riverside Academy"},
        {"role": "adult_of_concern", "given_name": "Sam", "family_name": "Sample"},
    ],
    "concerns": ["3A", "10A"],
    "immediate_risk": False,
    "summary": "Synthetic account: police attended a domestic incident; the child was present.",
    "consent": {"status": "not_sought", "reason": "would increase risk to the child"},
    "external_reference": "NP-2026-0001",
}


def referral_body(**changes: Any) -> dict[str, Any]:
    """A valid referral body, with top-level fields replaced by ``changes``."""
    body = copy.deepcopy(REFERRAL)
    body.update(changes)
    return body
