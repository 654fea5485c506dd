"""Two hubs in deployment mode, side by side: each its own PostgreSQL databases, RabbitMQ
exchange, `mash serve` processes, `mash relay` and nginx. A police referral in hub A about
a child placed in hub B's area reaches B, and B's decision comes back to A."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.bodies import referral_body
from tests.deployment import Deployment, deployed, wait_until_ready
from tests.integration.partners import child
from tests.two_hubs import FAST_RETRIES, RunningHub, by_external_reference, pair, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.nginx]

PLACED = {"placing_la_code": "372", "host_la_code": "373"}
DEPLOYMENTS: dict[str, Deployment] = {}


def hub_env(name: str, la_code: str) -> dict[str, str]:
    return {"MASH_LA_CODE": la_code, "MASH_HUB_NAME": name,
            "MASH_PEER_RETRY_SCHEDULE_SECONDS": FAST_RETRIES,
            # Both hubs are on this machine: their URLs are loopback.
            "MASH_ALLOW_LOOPBACK_FETCHES": "true"}


@pytest.fixture(scope="module")
def hubs(postgres_database_factory: Callable[[], AbstractContextManager[str]],
         rabbitmq_server: str, nginx_binary: str) -> Iterator[tuple[RunningHub, RunningHub]]:
    with ExitStack() as stack:
        running = []
        for name, code in (("Rotherham MASH", "372"), ("Doncaster MASH", "373")):
            deployment = stack.enter_context(deployed(
                postgres_database_factory, rabbitmq_server, nginx_binary,
                rate_limit="1000r/s", rate_burst=1000, extra_env=hub_env(name, code)))
            hub = RunningHub(name, code, Path(deployment.data_dir),
                             int(urlsplit(deployment.gateway).port or 0), {})
            stack.callback(hub.close)
            running.append(hub)
            DEPLOYMENTS[code] = deployment
        pair(running[0], running[1])
        yield running[0], running[1]


def test_a_referral_reaches_the_peer_and_its_decision_comes_back(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    subject: dict[str, Any] = child(nhs_number="999 000 0034", looked_after=PLACED)
    sent = a.refer(referral_body(subjects=[subject], external_reference="SYP-D1"))
    notice = wait_for(lambda: by_external_reference(b, sent["reference"]), seconds=20)
    assert notice["known_to"]["name"] == "Rotherham MASH"
    assert notice["subjects"][0]["looked_after"]["placing_la_code"] == "372"

    staff = b.as_user("mash.practitioner")
    tag = staff.get(f"/api/v1/referrals/{notice['id']}").headers["etag"]
    triaged = staff.post(f"/api/v1/referrals/{notice['id']}/triage", headers={"If-Match": tag},
                         json={"rag": "green", "rationale": "placed child"})
    assert triaged.status_code == 200, triaged.text
    decided = staff.post(f"/api/v1/referrals/{notice['id']}/decision",
                         headers={"If-Match": triaged.headers["etag"]},
                         json={"outcome": "advice_signposting", "rationale": "synthetic"})
    assert decided.status_code == 200, decided.text
    answer = wait_for(lambda: by_external_reference(a, notice["reference"]), seconds=20)
    assert answer["known_to"]["name"] == "Doncaster MASH"
    assert "advice_signposting" in answer["summary"]


def test_the_peers_referral_service_down_for_a_while_loses_nothing(
    hubs: tuple[RunningHub, RunningHub],
) -> None:
    a, b = hubs
    deployment = DEPLOYMENTS["373"]
    referral_service = deployment.process("referral")
    referral_service.stop()
    try:
        sent = a.refer(referral_body(subjects=[child(nhs_number="999 000 0042",
                                                     looked_after=PLACED)],
                                     external_reference="SYP-D2"))
        waiting = wait_for(lambda: [
            n for n in a.as_user("admin").get("/api/v1/peer-hubs/ledger").json()["items"]
            if n["referral_id"] == sent["id"] and n["attempt_count"] >= 2], seconds=20)
        assert waiting[0]["status"] == "pending" and waiting[0]["last_status_code"] in (502, 503)
    finally:
        referral_service.restart()
        wait_until_ready(referral_service,
                         f"http://127.0.0.1:{deployment.ports['referral']}/readyz")
    notice = wait_for(lambda: by_external_reference(b, sent["reference"]), seconds=20)
    assert notice["known_to"]["their_reference"] == sent["reference"]
