"""Missing from home: episodes recorded by the police or MASH staff, the return interview
due 72 hours after the return (clock time, weekends included) and announced once when
overdue however many replicas look, three episodes in 90 days flagging the child, and
the places children are found at feeding place alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from services.referral.intelligence import missing
from services.referral.intelligence.missing import ReturnInterviewScheduler
from services.referral.intelligence.missing_schemas import episode_view
from services.referral.intelligence.models import MissingEpisode
from services.referral.settings import HubSettings
from shared.auth import Principal
from shared.events import utcnow
from shared.outbox import OutboxMessage
from shared.roles import Role
from tests.auth import load_credentials
from tests.bodies import referral_body
from tests.helpers import AWKWARD_INSTANTS, hub_clock_at
from tests.integration.hub import hub_settings, start_hub
from tests.integration.partners import HEALTH, POLICE, Intake

EPISODES = "/api/v1/missing-episodes"
STAFF = Principal(subject="mash.practitioner", agency_id="mash", kind="user", token_id="t",
                  roles=frozenset({Role.MASH_PRACTITIONER}))
OVERDUE = "mash.missing_episode.return_interview_overdue"
CHILD = {"role": "child", "given_name": "Amy", "family_name": "Brook",
         "date_of_birth": "2010-02-11", "sex": "F", "nhs_number": "9990000018",
         "address": {"line1": "1 Test Street", "postcode": "S60 1AA"}}
OTHER_CHILD = {"role": "child", "given_name": "Bella", "family_name": "Cole",
               "date_of_birth": "2009-07-23", "sex": "F",
               "address": {"line1": "2 Elm Road", "postcode": "S61 2BB"}}


@pytest.fixture
async def hub(demo_data_dir: Path, database_url: str) -> AsyncIterator[Intake]:
    """The hub with the referral service on SQLite, then on PostgreSQL."""
    settings = hub_settings(demo_data_dir, referral_database_url=database_url)
    started, client, running = await start_hub(settings)
    try:
        yield Intake(started, client, demo_data_dir, load_credentials(demo_data_dir), {})
    finally:
        await client.aclose()
        await running.__aexit__(None, None, None)  # type: ignore[attr-defined]


async def child_person(hub: Intake, subject: dict[str, Any] = CHILD,
                       contexts: list[dict[str, str]] | None = None) -> tuple[str, str]:
    """Refer a child; (referral id, the child's person id)."""
    response = await hub.submit(referral_body(subjects=[subject], contexts=contexts or []))
    assert response.status_code == 201, response.text
    referral_id = response.json()["id"]
    await hub.as_user("mash.practitioner")
    read = (await hub.client.get(f"/api/v1/referrals/{referral_id}")).json()
    return referral_id, read["subjects"][0]["person_id"]


async def record(hub: Intake, body: dict[str, Any], client_id: str = POLICE) -> Any:
    hub.client.cookies.clear()
    return await hub.client.post(EPISODES, json=body, headers=await hub.as_client(client_id))


def at(instant: datetime) -> str:
    return instant.isoformat()


async def overdue_events(hub: Intake) -> list[dict[str, Any]]:
    async with hub.hub.services["referral"].database.unit_of_work() as uow:
        rows = (await uow.session.exec(select(OutboxMessage).where(
            OutboxMessage.event_type == OVERDUE))).all()
    return [json.loads(row.payload) for row in rows]


@pytest.mark.parametrize("instant", ["friday_evening", "bank_holiday_eve"])
async def test_the_return_interview_is_due_72_clock_hours_after_return_and_announced_once(
    hub: Intake, instant: str,
) -> None:
    _, person_id = await child_person(hub)
    database = hub.hub.services["referral"].database
    # The child is back on a Friday evening, or on Christmas Eve: recorded on the hub's
    # clock at that moment (the demo's signing keys are younger than a past instant, so
    # the service is called here rather than through a token).
    with hub_clock_at(AWKWARD_INSTANTS[instant]):
        returned = utcnow()
        async with database.unit_of_work() as uow:
            recorded = await missing.record(uow, STAFF, person_id, None,
                                            returned - timedelta(hours=20), returned, None,
                                            HubSettings())
            await uow.commit()
        async with database.unit_of_work() as uow:
            counts = await missing.recent_counts(uow, [person_id])
        episode = episode_view(recorded, counts, utcnow()).model_dump(mode="json")
    due = returned + timedelta(hours=72)  # over the weekend or the holiday: clock hours
    assert datetime.fromisoformat(episode["return_interview_due_at"]) == due
    assert not episode["return_interview_overdue"]

    database = hub.hub.services["referral"].database
    early = [ReturnInterviewScheduler(database, clock=lambda: due - timedelta(minutes=1))
             for _ in range(2)]
    assert [await s.run_once() for s in early] == [0, 0]
    late = due + timedelta(minutes=1)
    replicas = [ReturnInterviewScheduler(database, clock=lambda: late) for _ in range(3)]
    assert sum(await asyncio.gather(*(r.run_once() for r in replicas))) == 1
    restarted = ReturnInterviewScheduler(database, clock=lambda: late + timedelta(hours=5))
    assert await restarted.run_once() == 0
    (event,) = await overdue_events(hub)
    assert event["data"]["missing_episode_id"] == episode["id"]
    assert set(event["data"]) == {"missing_episode_id", "person_id", "due_at", "links"}


async def test_a_return_interview_held_in_time_is_not_announced(hub: Intake) -> None:
    _, person_id = await child_person(hub)
    returned = utcnow() - timedelta(hours=2)
    created = (await record(hub, {"person_id": person_id,
                                  "went_missing_at": at(returned - timedelta(hours=5))})).json()
    assert created["return_interview_due_at"] is None
    hub.client.cookies.clear()
    changed = await hub.client.post(
        f"{EPISODES}/{created['id']}", headers=await hub.as_client(POLICE),
        json={"returned_at": at(returned),
              "return_interview_at": at(returned + timedelta(hours=1))})
    assert changed.status_code == 200, changed.text
    assert changed.json()["return_interview_at"]
    database = hub.hub.services["referral"].database
    scheduler = ReturnInterviewScheduler(database, clock=lambda: returned + timedelta(days=5))
    assert await scheduler.run_once() == 0


async def test_three_episodes_in_90_days_flag_the_child(hub: Intake) -> None:
    _, person_id = await child_person(hub)
    now = utcnow()
    flags = []
    for days_ago in (200, 60, 30, 2):  # the first is outside the 90 days
        went = now - timedelta(days=days_ago)
        response = await record(hub, {"person_id": person_id, "went_missing_at": at(went),
                                      "returned_at": at(went + timedelta(hours=6))})
        assert response.status_code == 201, response.text
        flags.append((response.json()["episodes_in_90_days"],
                      response.json()["repeatedly_missing"]))
    assert flags == [(0, False), (1, False), (2, False), (3, True)]
    await hub.as_user("mash.practitioner")
    listed = (await hub.client.get(f"{EPISODES}?person_id={person_id}")).json()["items"]
    assert len(listed) == 4 and all(e["repeatedly_missing"] for e in listed)
    person = (await hub.client.get(f"/api/v1/people/{person_id}")).json()
    assert {"code": "repeatedly_missing", "text": "Missing 3 times in 90 days"} in person["flags"]


async def test_a_described_child_is_matched_to_their_person(hub: Intake) -> None:
    _, person_id = await child_person(hub)
    response = await record(hub, {
        "subject": {"given_name": "Amy", "family_name": "Brook", "date_of_birth": "2010-02-11",
                    "nhs_number": "999 000 0018"},
        "went_missing_at": at(utcnow() - timedelta(hours=3))})
    assert response.status_code == 201, response.text
    assert response.json()["person_id"] == person_id


async def test_where_missing_children_are_found_feeds_place_alerts(hub: Intake) -> None:
    _, amy = await child_person(hub)
    went = utcnow() - timedelta(days=3)
    found = await record(hub, {"person_id": amy, "went_missing_at": at(went),
                               "returned_at": at(went + timedelta(hours=9)),
                               "found_at_place": "The Arches,  Mill Road"})
    assert found.status_code == 201, found.text
    assert found.json()["found_at_place"] == "the arches, mill road"
    referral_id, _ = await child_person(hub, OTHER_CHILD,
                                        [{"kind": "place", "value": "the arches, mill road"}])
    await hub.as_user("mash.practitioner")
    (alert,) = (await hub.client.get("/api/v1/alerts?status=open")).json()["items"]
    assert alert["kind"] == "place"
    assert alert["referral_ids"] == [referral_id]
    assert alert["missing_episode_ids"] == [found.json()["id"]]
    assert sorted(c["given_name"] for c in alert["children"]) == ["Amy", "Bella"]


async def test_only_the_police_and_mash_staff_see_episodes_and_bad_input_changes_nothing(
    hub: Intake,
) -> None:
    _, person_id = await child_person(hub)
    went = utcnow() - timedelta(hours=5)
    created = await record(hub, {"person_id": person_id, "went_missing_at": at(went)})
    episode_id = created.json()["id"]
    for bad in ({"person_id": person_id, "went_missing_at": at(went),
                 "returned_at": at(went - timedelta(hours=1))},
                {"went_missing_at": at(went)},
                {"person_id": "no-such-person", "went_missing_at": at(went)},
                {"person_id": person_id, "went_missing_at": "2026-01-01T10:00:00"}):
        response = await record(hub, bad)
        assert response.status_code == 422, bad
    assert await hub.count(MissingEpisode) == 1

    assert (await record(hub, {"person_id": person_id, "went_missing_at": at(went)},
                         client_id=HEALTH)).status_code == 404
    csrf = await hub.as_user("school.dsl")
    assert (await hub.client.get(EPISODES)).status_code == 404
    assert (await hub.client.get(f"{EPISODES}/{episode_id}")).status_code == 404
    assert (await hub.client.post(EPISODES, headers=csrf, json={
        "person_id": person_id, "went_missing_at": at(went)})).status_code == 404
    await hub.as_user("police.officer")
    assert (await hub.client.get(f"{EPISODES}/{episode_id}")).status_code == 200
    assert await hub.count(MissingEpisode) == 1
