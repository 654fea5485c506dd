"""The web client's code list (web/codes.json) says what services/referral/codes.py says."""

from __future__ import annotations

import json

from mash.web import WEB_DIR
from services.referral.codes import CONCERNS, REFERRAL_SOURCES


def test_the_clients_codes_are_the_cin_census_codes_of_the_referral_service() -> None:
    shipped = json.loads((WEB_DIR / "codes.json").read_text())
    assert shipped["sources"] == [[code, words] for code, words in REFERRAL_SOURCES.items()]
    assert shipped["concerns"] == [[code, words] for code, words in CONCERNS.items()]
