"""Fault drills in deployment mode (PostgreSQL, RabbitMQ, nginx): each service killed, the
broker's connections closed and the broker refused, a database refusing connections, the
partner's receiver down. In each, every acknowledged referral is stored once, the partner is
told of each once (one webhook-id), and clients see only 201, 409, 429 or 503 with
Retry-After."""

from __future__ import annotations

import pytest

from tests.deployment import Deployment
from tests.drills.kit import (
    DeployedHub,
    Fault,
    close_broker_connections,
    kill_and_restart,
    receiver_down,
    refuse_broker,
    refuse_database,
    run_drill,
)

pytestmark = [pytest.mark.drills, pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.nginx]

COUNT = 200


async def drill(name: str, deployment: Deployment, fault: Fault) -> None:
    result = await run_drill(name, DeployedHub(deployment), fault, count=COUNT)
    problems = result.problems()
    assert not problems, f"{name}: {problems}\n{result.row()}\n{deployment.outputs()}"


@pytest.mark.parametrize("service", ["referral", "notify", "identity", "relay"])
async def test_a_service_killed_mid_load_and_restarted_loses_and_repeats_nothing(
    drill_deployment: Deployment, service: str,
) -> None:
    process = drill_deployment.process(service)
    ready = drill_deployment.ready_url(service) if service != "relay" else None
    await drill(f"kill -9 {service}", drill_deployment, kill_and_restart(process, ready))


async def test_broker_connections_closed_mid_load_lose_and_repeat_nothing(
    drill_deployment: Deployment,
) -> None:
    await drill("broker connections closed", drill_deployment,
                close_broker_connections(drill_deployment))


async def test_broker_refusing_connections_for_ten_seconds_loses_and_repeats_nothing(
    drill_deployment: Deployment,
) -> None:
    await drill("broker refused 10 s", drill_deployment, refuse_broker)


async def test_referral_database_refusing_connections_for_ten_seconds_loses_nothing(
    drill_deployment: Deployment,
) -> None:
    await drill("referral database refused 10 s", drill_deployment,
                refuse_database(drill_deployment.databases["referral"]))


async def test_notify_database_refusing_connections_for_ten_seconds_leaves_no_partner_untold(
    drill_deployment: Deployment,
) -> None:
    await drill("notify database refused 10 s", drill_deployment,
                refuse_database(drill_deployment.databases["notify"]))


async def test_webhook_receiver_down_for_thirty_seconds_is_told_everything_once_back(
    drill_deployment: Deployment,
) -> None:
    await drill("webhook receiver down 30 s", drill_deployment, receiver_down)
