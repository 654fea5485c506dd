"""Notify's dispatcher against a real webhook receiver and SMTP server, on SQLite and
PostgreSQL: signatures, retries, disabling, dead letters, restarts, claiming, ordering."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from services.notify import events
from services.notify.app import MIGRATIONS
from services.notify.models import DeliveryAttempt
from services.notify.retries import RetryPolicy
from services.notify.service import replay
from services.notify.settings import NotifySettings
from shared.db import Database
from shared.events import utcnow
from shared.migrations import upgrade_to_head
from tests.helpers import eventually
from tests.integration.notify_hub import POLICE_AGENCY, Notify, referral_event
from tests.webhooks import FakeClock, Mailbox, Receiver, Reply

POLICE = POLICE_AGENCY
SCHOOL = "agency-school"


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"),
                        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_database")
        return url
    return f"sqlite+aiosqlite:///{tmp_path / 'notify.db'}"


class RealClock(FakeClock):
    """The wall clock, for tests that run the dispatcher in the background."""

    def __call__(self) -> datetime:
        return utcnow()


async def test_referrers_agency_gets_a_thin_webhook_it_verifies_with_the_reference_library(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    _, secret = await notify.subscribe(POLICE, url=receiver.url)
    await notify.subscribe(SCHOOL, url=receiver.url)  # another agency: hears nothing

    await notify.publish(referral_event())
    assert await notify.run_due() == 1

    (request,) = receiver.received
    message = Webhook(secret).verify(request.body, request.headers)
    assert set(message) == {"type", "timestamp", "data"}
    assert message["type"] == "mash.referral.received"
    assert message["data"] == {
        "referral_id": "r-1", "reference": "MASH-2026-000001", "status": "received",
        "kind": "referral", "links": {"self": "https://hub.example/api/v1/referrals/r-1"}}
    assert b"Amy" not in request.body and b"narrative" not in request.body
    delivery = await notify.only_delivery(status="delivered")
    assert request.headers["webhook-id"] == delivery.id
    assert delivery.status == "delivered"
    (attempt,) = await notify.attempts(delivery.id)
    assert attempt.status_code == 204 and attempt.latency_ms > 0


async def test_events_are_routed_to_the_agency_concerned_or_to_mash_managers(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    school, _ = await notify.subscribe(SCHOOL, url=receiver.url)
    managers, _ = await notify.subscribe("agency-mash", url=receiver.url,
                                         event_types=(events.DECISION_OVERDUE,))

    await notify.publish(referral_event(events.INFORMATION_REQUEST_CREATED,
                                        agency_id=POLICE, addressed_agency_id=SCHOOL,
                                        information_request_id="ir-1"))
    await notify.publish(referral_event(events.DECISION_OVERDUE))
    await notify.publish(referral_event(events.REFERRAL_RECEIVED))  # police: no subscription

    by_type = {d.event_type: d for d in await notify.deliveries()}
    assert by_type[events.INFORMATION_REQUEST_CREATED].subscription_id == school
    assert by_type[events.DECISION_OVERDUE].subscription_id == managers
    unheard = by_type[events.REFERRAL_RECEIVED]
    assert (unheard.status, unheard.agency_id) == ("no_subscription", POLICE)


async def test_failed_attempts_are_retried_on_schedule_with_the_same_webhook_id(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    receiver.answer(Reply(500), Reply(502))
    await notify.publish(referral_event())

    await notify.run_due()
    delivery = await notify.only_delivery()
    assert await notify.when_next_due(delivery.id) == notify.clock() + timedelta(seconds=5)
    notify.clock.advance(4)
    assert await notify.run_due() == 0  # not due yet
    notify.clock.advance(1)
    await notify.run_due()
    assert await notify.when_next_due(delivery.id) == notify.clock() + timedelta(seconds=300)
    notify.clock.advance(300)
    await notify.run_due()

    assert (await notify.only_delivery()).status == "delivered"
    assert receiver.ids() == [delivery.id] * 3
    assert [a.status_code for a in await notify.attempts(delivery.id)] == [500, 502, 204]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_on_429_and_503_is_honoured(
    notify_db: Database, receiver: Receiver, status: int,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    receiver.answer(Reply(status, {"retry-after": "120"}))
    await notify.publish(referral_event())

    await notify.run_due()

    delivery = await notify.only_delivery()
    assert await notify.when_next_due(delivery.id) == notify.clock() + timedelta(seconds=120)


async def test_redirect_is_not_followed_and_counts_as_a_failure(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    receiver.answer(Reply(307, {"location": "http://169.254.169.254/latest/meta-data"}))
    await notify.publish(referral_event())

    await notify.run_due()

    assert len(receiver.received) == 1
    delivery = await notify.only_delivery()
    assert (delivery.status, delivery.last_status_code) == ("pending", 307)


async def test_slow_endpoint_times_out_and_is_retried(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db, timeout=0.2)
    await notify.subscribe(POLICE, url=receiver.url)
    receiver.answer(Reply(204, delay=0.6))
    await notify.publish(referral_event())

    await notify.run_due()

    delivery = await notify.only_delivery()
    assert (delivery.status, delivery.last_error) == ("pending", "timeout")


async def test_gone_endpoint_disables_the_subscription_and_its_agency_is_emailed(
    notify_db: Database, receiver: Receiver,
) -> None:
    mailbox = Mailbox()
    mailbox.start()
    try:
        notify = Notify(notify_db, settings=NotifySettings(smtp_host="127.0.0.1",
                                                     smtp_port=mailbox.port))
        webhook, _ = await notify.subscribe(POLICE, url=receiver.url)
        await notify.subscribe(POLICE, address="safeguarding@police.example",
                               event_types=(events.REFERRAL_DECIDED,))
        receiver.answer(Reply(500), Reply(410))
        await notify.publish(referral_event())
        await notify.run_due()  # failed: waits for its retry
        await notify.publish(referral_event(referral_id="r-2"))
        await notify.run_due()  # 410 Gone

        subscription = await notify.subscription(webhook)
        assert not subscription.active
        assert subscription.disabled_reason == "endpoint_gone"
        webhook_deliveries = await notify.deliveries(subscription_id=webhook)
        assert {d.status for d in webhook_deliveries} == {"dead"}
        assert len(receiver.received) == 2  # the waiting retry was never sent
        (notice,) = await notify.deliveries(event_type=events.SUBSCRIPTION_DISABLED)
        assert notice.status == "delivered"
        subjects = [m["Subject"] for m in mailbox.messages]
        assert "[MASH] A MASH webhook endpoint of your agency has been disabled" in subjects
    finally:
        mailbox.stop()


async def test_endpoint_failing_for_days_is_dead_lettered_disabled_then_replayable(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db, policy=RetryPolicy.from_settings(NotifySettings()))
    webhook, _ = await notify.subscribe(POLICE, url=receiver.url)
    await notify.publish(referral_event())
    delivery = await notify.only_delivery()
    started = notify.clock()
    receiver.answer(*[Reply(500)] * 13)

    await notify.run_due()
    while (current := await notify.only_delivery()).status == "pending":
        assert current.next_attempt_at is not None
        notify.clock.move_to(current.next_attempt_at)
        await notify.run_due()

    dead = await notify.only_delivery()
    assert (dead.status, dead.dead_reason, dead.attempt_count) == ("dead", "retries_exhausted",
                                                                   13)
    assert 2.5 <= (notify.clock() - started).total_seconds() / 86400 <= 4
    assert set(receiver.ids()) == {delivery.id}
    subscription = await notify.subscription(webhook)
    assert (subscription.active, subscription.disabled_reason) == (False, "endpoint_failing")

    async with notify.database.unit_of_work() as uow:
        subscription.active = True
        uow.session.add(subscription)
        await replay(uow, delivery.id, notify.clock())
        await uow.commit()
    await notify.run_due()
    assert (await notify.only_delivery()).status == "delivered"
    assert receiver.ids()[-1] == delivery.id


async def test_receiver_down_for_a_while_gets_every_event_when_it_comes_back(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db, policy=RetryPolicy([0.05] * 400, jitter=0.5), clock=RealClock())
    await notify.subscribe(POLICE, url=receiver.url)
    await receiver.stop()
    notify.dispatcher.start()
    try:
        for n in range(20):
            await notify.publish(referral_event(referral_id=f"r-{n}"))
        await eventually(lambda: _attempted(notify, at_least=40), within=10)
        assert receiver.received == []
        await receiver.start()
        await eventually(lambda: _all_delivered(notify), within=10)
    finally:
        await notify.dispatcher.stop()

    deliveries = await notify.deliveries()
    assert len(deliveries) == 20
    bodies_by_id: dict[str, set[bytes]] = {}
    for request in receiver.received:
        bodies_by_id.setdefault(request.headers["webhook-id"], set()).add(request.body)
    assert set(bodies_by_id) == {d.id for d in deliveries}  # every event, none lost
    assert all(len(bodies) == 1 for bodies in bodies_by_id.values())  # a repeat is the same


async def _attempted(notify: Notify, *, at_least: int) -> bool:
    async with notify.database.unit_of_work() as uow:
        return len((await uow.session.exec(select(DeliveryAttempt))).all()) >= at_least


async def _all_delivered(notify: Notify) -> bool:
    return {d.status for d in await notify.deliveries()} == {"delivered"}


async def test_a_success_after_failures_brings_the_endpoints_waiting_deliveries_forward(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    elsewhere = Receiver()  # another partner's endpoint, down throughout
    await notify.subscribe(SCHOOL, url=elsewhere.url)
    receiver.answer(*[Reply(500)] * 6)
    for n in range(3):
        await notify.publish(referral_event(referral_id=f"r-{n}"))
    await notify.publish(referral_event(referral_id="s-1", agency_id=SCHOOL))
    await notify.run_due()
    notify.clock.advance(5)
    await notify.run_due()
    waiting = await notify.deliveries(status="pending")
    assert len(waiting) == 4
    assert {await notify.when_next_due(d.id) for d in waiting} == {
        notify.clock() + timedelta(seconds=300)}

    notify.clock.advance(10)  # the endpoint is back: a new event gets through
    await notify.publish(referral_event(referral_id="r-new"))
    assert await notify.dispatcher.dispatch_due() == 1  # one batch: only the new one was due

    now = notify.clock()
    police = sorted((d for d in waiting if d.agency_id == POLICE),
                    key=lambda d: d.event_time or now)  # oldest event first
    assert [await notify.when_next_due(d.id) for d in police] == [
        now, now + timedelta(seconds=0.01), now + timedelta(seconds=0.02)]  # 100 a second
    (school,) = [d for d in waiting if d.agency_id == SCHOOL]
    assert await notify.when_next_due(school.id) == now - timedelta(seconds=10) + timedelta(
        seconds=300), "another endpoint's deliveries keep their schedule"
    notify.clock.advance(1)
    await notify.run_due()
    assert {d.status for d in await notify.deliveries(agency_id=POLICE)} == {"delivered"}
    assert (await notify.only_delivery(agency_id=SCHOOL)).status == "pending"
    assert Counter(receiver.ids()) == Counter(
        {d.id: 3 for d in police} | {(await notify.only_delivery(referral_id="r-new")).id: 1})


async def test_a_failing_endpoint_is_probed_without_cost_and_its_return_found_with_no_traffic(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    notify.dispatcher.probe_every = timedelta(seconds=10)
    await notify.subscribe(POLICE, url=receiver.url)
    receiver.answer(*[Reply(500)] * 6)
    for n in range(3):
        await notify.publish(referral_event(referral_id=f"r-{n}"))
    await notify.run_due()
    notify.clock.advance(5)
    await notify.run_due()
    scheduled = {d.id: d.next_attempt_at for d in await notify.deliveries()}
    assert await notify.dispatcher.probe_failing_endpoints() == 0, "failing for 5 s only"

    notify.clock.advance(10)
    receiver.answer(Reply(503))
    assert await notify.dispatcher.probe_failing_endpoints() == 1
    assert await notify.dispatcher.probe_failing_endpoints() == 0, "one probe per 10 s"
    (probed,) = [d for d in await notify.deliveries() if d.last_status_code == 503]
    assert probed.attempt_count == 2, "a failed probe counts toward no retry"
    assert probed.next_attempt_at == scheduled[probed.id], "and keeps its place"
    assert [a.status_code for a in await notify.attempts(probed.id)] == [500, 500, 503]

    notify.clock.advance(10)  # the endpoint is back; no new event is on its way to it
    assert await notify.dispatcher.probe_failing_endpoints() == 1
    notify.clock.advance(1)
    await notify.run_due()
    assert {d.status for d in await notify.deliveries()} == {"delivered"}
    assert len(receiver.received) == 3 * 2 + 1 + 3


async def test_restart_mid_retry_neither_forgets_nor_repeats_attempts(
    database_url: str, receiver: Receiver,
) -> None:
    clock = FakeClock()
    first = Notify(Database(database_url), clock=clock)
    await upgrade_to_head(first.database, MIGRATIONS, "notify")
    await first.subscribe(POLICE, url=receiver.url)
    receiver.answer(Reply(503))
    await first.publish(referral_event())
    await first.run_due()
    await first.dispatcher.stop()
    await first.database.dispose()  # notify stops while the delivery waits for its retry

    second = Notify(Database(database_url), clock=clock)
    try:
        assert await second.run_due() == 0  # the retry is not due yet: nothing repeats
        clock.advance(5)
        assert await second.run_due() == 1  # ...and it is not forgotten
        delivery = await second.only_delivery()
        assert delivery.status == "delivered"
        assert [a.status_code for a in await second.attempts(delivery.id)] == [503, 204]
        assert receiver.ids() == [delivery.id, delivery.id]
    finally:
        await second.database.dispose()


async def test_attempt_cut_short_by_a_crash_is_taken_up_when_its_lease_ends(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    await notify.publish(referral_event())
    claimed = await notify.dispatcher.claim_due()  # ...and the dispatcher dies here
    assert len(claimed) == 1

    assert await notify.dispatcher.claim_due() == []
    notify.clock.advance(59)
    assert await notify.run_due() == 0
    notify.clock.advance(2)
    assert await notify.run_due() == 1
    assert receiver.ids() == claimed


async def test_partner_never_hears_decided_before_received(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    receiver.answer(Reply(500))
    received_at = notify.clock()
    await notify.publish(referral_event(time=received_at))
    await notify.publish(referral_event(events.REFERRAL_DECIDED, status="decided",
                                        outcome="early_help",
                                        time=received_at + timedelta(minutes=30)))
    await notify.publish(referral_event(referral_id="r-other"))  # another referral: not held

    await notify.run_due()
    assert [r.json["type"] for r in receiver.received] == ["mash.referral.received"] * 2
    notify.clock.advance(3600)
    await notify.run_due()

    for_referral = [r.json for r in receiver.received if r.json["data"]["referral_id"] == "r-1"]
    assert [m["type"] for m in for_referral] == [
        "mash.referral.received", "mash.referral.received", "mash.referral.decided"]


@pytest.mark.postgres
async def test_two_dispatchers_share_due_deliveries_and_send_each_once(
    postgres_database: str, receiver: Receiver,
) -> None:
    clock = FakeClock()
    first = Notify(Database(postgres_database), clock=clock)
    await upgrade_to_head(first.database, MIGRATIONS, "notify")
    second = Notify(Database(postgres_database), clock=clock)
    for replica in (first, second):
        replica.dispatcher.batch_size = 5
    try:
        await first.subscribe(POLICE, url=receiver.url)
        for n in range(40):
            await first.publish(referral_event(referral_id=f"r-{n}"))

        sent = await asyncio.gather(first.run_due(), second.run_due())

        assert sum(sent) == 40 and min(sent) > 0, sent
        assert max(Counter(receiver.ids()).values()) == 1
        assert {d.status for d in await first.deliveries()} == {"delivered"}
    finally:
        await first.database.dispose()
        await second.database.dispose()


async def test_email_subscriber_gets_plain_text_with_the_reference_and_no_names(
    notify_db: Database,
) -> None:
    mailbox = Mailbox()
    mailbox.start()
    try:
        notify = Notify(notify_db, settings=NotifySettings(smtp_host="127.0.0.1",
                                                     smtp_port=mailbox.port,
                                                     smtp_from="mash@hub.example"))
        await notify.subscribe(POLICE, address="referrals@police.example")
        await notify.publish(referral_event(events.REFERRAL_DECIDED, status="decided",
                                            outcome="cin_assessment"))
        await notify.run_due()

        (message,) = mailbox.messages
        assert mailbox.recipients == [["referrals@police.example"]]
        assert message["From"] == "mash@hub.example"
        assert message["Subject"] == "[MASH] Referral MASH-2026-000001: decision made"
        assert message.get_content_type() == "text/plain"
        body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
        assert "Outcome: cin_assessment" in body
        assert "https://hub.example/api/v1/referrals/r-1" in body
        assert "Amy" not in body and "narrative" not in body
        assert (await notify.only_delivery()).status == "delivered"
    finally:
        mailbox.stop()


async def test_url_that_now_resolves_to_a_private_address_is_not_called(
    notify_db: Database, receiver: Receiver,
) -> None:
    async def rebound(host: str, port: int) -> list[str]:
        return ["10.0.0.8"]

    notify = Notify(notify_db, resolver=rebound)
    await notify.subscribe(POLICE, url=receiver.url)
    await notify.publish(referral_event())

    await notify.run_due()

    assert receiver.received == []
    assert (await notify.only_delivery()).last_error == "address not allowed"


async def test_partner_hears_received_first_even_when_decided_reaches_notify_first(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    received_at = notify.clock()
    decided = referral_event(events.REFERRAL_DECIDED, status="decided", outcome="early_help",
                             sequence=3, time=received_at + timedelta(minutes=30))
    received = referral_event(time=received_at)

    await notify.publish(decided)  # e.g. two relays, or `received` redelivered later
    assert await notify.run_due() == 0  # held: the referral's `received` has not come
    await notify.publish(received)
    await notify.run_due()

    assert [r.json["type"] for r in receiver.received] == [
        "mash.referral.received", "mash.referral.decided"]
    assert {d.status for d in await notify.deliveries()} == {"delivered"}


async def test_later_decision_waits_for_the_earlier_one_by_sequence_not_arrival(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    await notify.subscribe(POLICE, url=receiver.url)
    now = notify.clock()
    await notify.publish(referral_event(time=now))
    await notify.run_due()
    receiver.answer(Reply(500))  # the first decision fails once and waits for its retry
    # Reopened and decided again: the second decision reaches notify first.
    second = referral_event(events.REFERRAL_DECIDED, outcome="cin_assessment", sequence=6,
                            time=now)
    first = referral_event(events.REFERRAL_DECIDED, outcome="early_help", sequence=3,
                           time=now)
    await notify.publish(second)
    await notify.publish(first)

    await notify.run_due()
    notify.clock.advance(5)
    await notify.run_due()

    outcomes = [r.json["data"].get("outcome") for r in receiver.received]
    assert outcomes == [None, "early_help", "early_help", "cin_assessment"]


async def test_an_event_whose_received_never_comes_is_held_only_for_a_while(
    notify_db: Database, receiver: Receiver,
) -> None:
    notify = Notify(notify_db)
    notify.dispatcher.order_hold = timedelta(hours=1)
    await notify.subscribe(POLICE, url=receiver.url)
    await notify.publish(referral_event(events.REFERRAL_DECIDED, outcome="early_help",
                                        sequence=3))
    assert await notify.run_due() == 0
    notify.clock.advance(3601)
    assert await notify.run_due() == 1
    assert [r.json["type"] for r in receiver.received] == ["mash.referral.decided"]


async def test_name_rebound_to_loopback_after_the_check_is_never_connected_to(
    notify_db: Database, receiver: Receiver,
) -> None:
    lookups: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)  # public for the check, this machine for any later look-up
        return ["93.184.215.14"] if len(lookups) == 1 else ["127.0.0.1"]

    sent: list[httpx.Request] = []

    async def endpoint(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    notify = Notify(notify_db, resolver=rebinding, transport=httpx.MockTransport(endpoint))
    await notify.subscribe(POLICE, url=f"https://hooks.partner.example:{receiver.port}/mash")
    await notify.publish(referral_event())

    await notify.run_due()

    (request,) = sent
    assert lookups == ["hooks.partner.example"]  # resolved once, for the check
    assert request.url.host == "93.184.215.14"  # connected to the address checked
    assert request.url.port == receiver.port and request.url.path == "/mash"
    assert request.headers["host"] == f"hooks.partner.example:{receiver.port}"
    assert request.extensions["sni_hostname"] == "hooks.partner.example"
    assert receiver.received == []
    assert (await notify.only_delivery()).status == "delivered"


async def test_webhook_over_loopback_still_reaches_the_receiver_by_its_checked_address(
    notify_db: Database, receiver: Receiver,
) -> None:
    async def localhost(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    notify = Notify(notify_db, resolver=localhost)
    await notify.subscribe(POLICE, url=f"http://receiver.localtest:{receiver.port}/hooks")
    await notify.publish(referral_event())

    await notify.run_due()

    (request,) = receiver.received
    assert request.headers["host"] == f"receiver.localtest:{receiver.port}"


async def test_an_address_that_refuses_is_passed_over_for_the_next_one_checked(
    notify_db: Database, receiver: Receiver,
) -> None:
    async def two(host: str, port: int) -> list[str]:
        return ["127.0.0.2", "127.0.0.1"]  # nothing listens on the first

    notify = Notify(notify_db, resolver=two)
    await notify.subscribe(POLICE, url=f"http://receiver.localtest:{receiver.port}/hooks")
    await notify.publish(referral_event())

    await notify.run_due()

    assert len(receiver.received) == 1
    assert (await notify.only_delivery()).status == "delivered"


@pytest.mark.parametrize(("refusal", "status", "attempts"), [
    ("550 5.1.1 Mailbox unavailable", "dead", 1),
    ("451 4.3.0 Try again later", "delivered", 2),
])
async def test_permanent_smtp_refusal_is_dead_lettered_at_once_and_transient_is_retried(
    notify_db: Database, refusal: str, status: str, attempts: int,
) -> None:
    mailbox = Mailbox()
    mailbox.start()
    try:
        notify = Notify(notify_db, settings=NotifySettings(smtp_host="127.0.0.1",
                                                           smtp_port=mailbox.port))
        await notify.subscribe(POLICE, address="referrals@police.example")
        mailbox.refuse(refusal)
        await notify.publish(referral_event())

        await notify.run_due()
        notify.clock.advance(5)
        await notify.run_due()

        delivery = await notify.only_delivery()
        assert (delivery.status, delivery.attempt_count) == (status, attempts)
        first = (await notify.attempts(delivery.id))[0]
        code = int(refusal[:3])
        assert first.status_code == code and first.error == f"SMTP {refusal}"
        if status == "dead":
            assert delivery.dead_reason == "permanently_rejected"
            assert delivery.last_error == "SMTP 550 5.1.1 Mailbox unavailable"
            assert mailbox.messages == []
        else:
            assert len(mailbox.messages) == 1
    finally:
        mailbox.stop()
