"""Structured CSE screening: the tool held as data, a computed level, a practitioner's
level with a reason, the level on the referral and in the queue, and a high level making
the referral red (a hub setting, on by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from services.referral.intelligence.models import Screening
from services.referral.intelligence.screening import tool
from tests.auth import load_credentials
from tests.integration.hub import hub_settings, start_hub
from tests.integration.partners import Intake, running_intake


@pytest.fixture
async def hub(demo_data_dir: Path) -> AsyncIterator[Intake]:
    async with running_intake(demo_data_dir) as started:
        yield started


async def referral(hub: Intake) -> tuple[str, str]:
    response = await hub.submit()
    assert response.status_code == 201, response.text
    referral_id = str(response.json()["id"])
    await hub.as_user("mash.practitioner")
    read = await hub.client.get(f"/api/v1/referrals/{referral_id}")
    return referral_id, read.headers["ETag"]


async def screen(hub: Intake, referral_id: str, etag: str | None, **body: Any) -> Any:
    csrf = await hub.as_user("mash.practitioner")
    headers = {**csrf, **({"If-Match": etag} if etag else {})}
    return await hub.client.post(f"/api/v1/referrals/{referral_id}/screenings",
                                 json={"tool": "cse", **body}, headers=headers)


async def full(hub: Intake, referral_id: str) -> dict[str, Any]:
    await hub.as_user("mash.practitioner")
    found: dict[str, Any] = (await hub.client.get(f"/api/v1/referrals/{referral_id}")).json()
    return found


def test_the_tool_is_data_with_weights_and_thresholds() -> None:
    cse = tool("cse")
    assert cse.medium < cse.high
    assert cse.level({})[1] == "low"
    assert cse.level({"missing_episodes": True, "found_out_of_area": True})[:2] == (6, "medium")
    assert cse.level({"disclosed_abuse": True})[1] == "high"  # critical
    assert cse.level({"missing_episodes": False})[0] == 0


async def test_a_computed_level_shows_on_the_referral_and_in_the_queue(hub: Intake) -> None:
    referral_id, etag = await referral(hub)
    response = await screen(hub, referral_id, etag,
                            answers={"missing_episodes": True, "older_partner": True})
    assert response.status_code == 201, response.text
    done = response.json()
    assert (done["score"], done["computed_level"], done["level"]) == (7, "medium", "medium")
    assert done["category_scores"] == {"missing": 3, "relationships": 4}
    assert not done["overridden"]
    read = await full(hub, referral_id)
    assert read["cse_level"] == "medium" and read["rag"] is None
    assert read["timeline"][-1]["what"] == "screened"
    queue = (await hub.client.get("/api/v1/referrals/queue")).json()["items"]
    assert [i["cse_level"] for i in queue if i["id"] == referral_id] == ["medium"]


async def test_a_high_level_makes_the_referral_red(hub: Intake) -> None:
    referral_id, etag = await referral(hub)
    response = await screen(hub, referral_id, etag, answers={"exchange_for_sex": True})
    assert response.json()["level"] == "high"
    read = await full(hub, referral_id)
    assert read["rag"] == "red" and read["response_due_at"]


async def test_a_practitioner_s_level_needs_a_reason(hub: Intake) -> None:
    referral_id, etag = await referral(hub)
    refused = await screen(hub, referral_id, etag, answers={"injuries": True}, level="high")
    assert refused.status_code == 422
    unknown = await screen(hub, referral_id, etag, answers={"likes_football": True})
    assert unknown.status_code == 422
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert await hub.count(Screening) == 0
    assert (await full(hub, referral_id))["cse_level"] is None
    stale = await screen(hub, referral_id, None, answers={"injuries": True})
    assert stale.status_code == 428
    done = await screen(hub, referral_id, etag, answers={"injuries": True}, level="high",
                        reason="seen getting into cars outside school")
    assert done.status_code == 201, done.text
    assert done.json()["computed_level"] == "low" and done.json()["overridden"]
    assert (await full(hub, referral_id))["rag"] == "red"


async def test_partners_cannot_screen(hub: Intake) -> None:
    referral_id, etag = await referral(hub)
    csrf = await hub.as_user("school.dsl")
    response = await hub.client.post(f"/api/v1/referrals/{referral_id}/screenings",
                                     json={"tool": "cse", "answers": {}},
                                     headers={**csrf, "If-Match": etag})
    assert response.status_code in (403, 404)
    assert await hub.count(Screening) == 0


@pytest.fixture
async def hub_not_red(demo_data_dir: Path, monkeypatch: pytest.MonkeyPatch
                      ) -> AsyncIterator[Intake]:
    monkeypatch.setenv("MASH_CSE_HIGH_MAKES_RED", "false")
    started, client, running = await start_hub(hub_settings(demo_data_dir))
    try:
        yield Intake(started, client, demo_data_dir, load_credentials(demo_data_dir), {})
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def test_a_hub_may_keep_high_screenings_from_making_referrals_red(
    hub_not_red: Intake,
) -> None:
    referral_id, etag = await referral(hub_not_red)
    response = await screen(hub_not_red, referral_id, etag, answers={"disclosed_abuse": True})
    assert response.json()["level"] == "high"
    read = await full(hub_not_red, referral_id)
    assert read["cse_level"] == "high" and read["rag"] is None
