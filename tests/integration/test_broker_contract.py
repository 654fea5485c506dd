"""What every broker promises (shared.broker.base.Broker), checked against each implementation.

The in-process broker delivers inside ``publish``; RabbitMQ delivers asynchronously, so
every assertion about delivery waits (with a timeout) rather than assuming either.
To show that something was *not* delivered, a matching "marker" event is published after
it to the same queue: once the marker has arrived, anything routed before it has too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.exc import OperationalError

from shared.broker import Broker, BrokerUnavailable
from shared.broker.memory import InProcessBroker
from shared.broker.rabbitmq import RabbitMQBroker
from shared.events import CloudEvent, addressed_to, replay_target
from tests.helpers import eventually

DELIVERY_LIMIT = 3


def event(type_: str, **data: object) -> CloudEvent:
    return CloudEvent(source="/tests/broker", type=type_, data=dict(data))


@dataclass
class Received:
    """What a consumer has been handed, in order."""

    events: list[CloudEvent] = field(default_factory=list)

    async def handler(self, evt: CloudEvent) -> None:
        self.events.append(evt)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]

    async def has(self, *events: CloudEvent) -> bool:
        return {e.id for e in events} <= set(self.ids)


@dataclass
class BrokerUnderTest:
    """Makes brokers of one kind that share an exchange; cleans up after the test."""

    kind: str
    prefix: str
    rabbitmq_url: str | None
    brokers: list[Broker] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)

    def new(self) -> Broker:
        """A broker that is not connected yet."""
        broker: Broker
        if self.rabbitmq_url is None:
            broker = InProcessBroker(delivery_limit=DELIVERY_LIMIT, retry_delay=0.01,
                                     max_retry_delay=0.05)
        else:
            broker = RabbitMQBroker(
                self.rabbitmq_url, exchange=f"{self.prefix}.events",
                delivery_limit=DELIVERY_LIMIT, timeout=5.0, retry_delay=0.01,
                max_retry_delay=0.05,
            )
        self.brokers.append(broker)
        return broker

    async def connected(self) -> Broker:
        broker = self.new()
        await broker.connect()
        return broker

    def queue(self, role: str) -> str:
        """A queue name unique to this test (deleted at teardown)."""
        name = f"{self.prefix}.{role}"
        self.queues.append(name)
        return name

    async def cleanup(self) -> None:
        for broker in self.brokers:
            await broker.close()
        if self.rabbitmq_url is None:
            return
        import aio_pika

        connection = await aio_pika.connect(self.rabbitmq_url, timeout=5)
        try:
            channel = await connection.channel()
            naming = RabbitMQBroker(self.rabbitmq_url, exchange=f"{self.prefix}.events")
            for queue in self.queues:
                await channel.queue_delete(naming.queue_name(queue))
                await channel.queue_delete(f"{naming.queue_name(queue)}.dead")
            await channel.exchange_delete(f"{self.prefix}.events")
            await channel.exchange_delete(f"{self.prefix}.events.dlx")
        finally:
            await connection.close()


@pytest.fixture(
    params=[
        pytest.param("in-process", id="in-process"),
        pytest.param("rabbitmq", id="rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def broker_kind(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """Which broker; for RabbitMQ its URL (skips locally / fails in CI if it is down)."""
    if request.param == "rabbitmq":
        return request.param, request.getfixturevalue("rabbitmq_server")
    return request.param, None


@pytest.fixture
async def brokers(
    broker_kind: tuple[str, str | None], unique_name: str
) -> AsyncIterator[BrokerUnderTest]:
    kind, url = broker_kind
    under_test = BrokerUnderTest(kind, unique_name, url)
    try:
        yield under_test
    finally:
        await under_test.cleanup()


@pytest.fixture
async def broker(brokers: BrokerUnderTest) -> Broker:
    return await brokers.connected()


async def delivered(received: Received, *events: CloudEvent) -> None:
    await eventually(lambda: received.has(*events))


# --- routing --------------------------------------------------------------------------


async def test_event_reaches_a_queue_bound_to_its_exact_type(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    received = Received()
    await broker.subscribe(brokers.queue("exact"), ["mash.referral.received"], received.handler)

    sent = event("mash.referral.received", referral_id="r1")
    await broker.publish([sent])

    await delivered(received, sent)
    assert received.events == [sent]


@pytest.mark.parametrize(
    ("binding", "matching", "not_matching"),
    [
        ("mash.referral.*", "mash.referral.received", "mash.referral.decision.recorded"),
        ("mash.#", "mash.referral.decision.recorded", "other.referral.received"),
        ("#.received", "mash.referral.received", "mash.referral.closed"),
    ],
)
async def test_event_reaches_a_queue_bound_by_wildcard_and_others_do_not(
    brokers: BrokerUnderTest, broker: Broker, binding: str, matching: str, not_matching: str
) -> None:
    received = Received()
    await broker.subscribe(brokers.queue("wild"), [binding], received.handler)

    unwanted, wanted = event(not_matching), event(matching)
    await broker.publish([unwanted, wanted])

    await delivered(received, wanted)
    assert received.ids == [wanted.id]


async def test_event_not_matching_any_binding_is_not_delivered(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    received = Received()
    await broker.subscribe(
        brokers.queue("narrow"), ["mash.referral.received", "mash.marker"], received.handler
    )

    unwanted = [event("mash.referral.closed"), event("mash.referral"),
                event("mash.referral.received.extra"), event("identity.user.created")]
    marker = event("mash.marker")
    await broker.publish([*unwanted, marker])

    await delivered(received, marker)
    assert received.ids == [marker.id]


async def test_a_replayed_event_addressed_to_one_queue_reaches_that_queue_alone(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    first, second = brokers.queue("first"), brokers.queue("second")
    at_first, at_second = Received(), Received()
    await broker.subscribe(first, ["mash.referral.received", "mash.marker"], at_first.handler)
    await broker.subscribe(second, ["mash.referral.received", "mash.marker"], at_second.handler)

    replayed = addressed_to(event("mash.referral.received"), first)
    marker = event("mash.marker")
    await broker.publish([replayed, marker])

    await delivered(at_first, replayed, marker)
    await delivered(at_second, marker)
    assert at_first.ids == [replayed.id, marker.id]
    assert at_second.ids == [marker.id]
    assert replay_target(at_first.events[0]) == first


async def test_event_reaches_every_bound_queue(brokers: BrokerUnderTest, broker: Broker) -> None:
    notify, audit = Received(), Received()
    await broker.subscribe(brokers.queue("notify"), ["mash.referral.received"], notify.handler)
    await broker.subscribe(brokers.queue("audit"), ["mash.#"], audit.handler)

    sent = event("mash.referral.received")
    await broker.publish([sent])

    await delivered(notify, sent)
    await delivered(audit, sent)
    assert notify.ids == [sent.id]
    assert audit.ids == [sent.id]


# --- competing consumers and retries --------------------------------------------------


async def test_consumers_of_one_queue_compete_so_each_event_is_handled_once(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    queue = brokers.queue("work")
    first, second = Received(), Received()
    await broker.subscribe(queue, ["mash.work"], first.handler)
    await broker.subscribe(queue, ["mash.work"], second.handler)

    sent = [event("mash.work", n=n) for n in range(40)]
    await broker.publish(sent)

    async def all_handled() -> bool:
        return len(first.events) + len(second.events) >= len(sent)

    await eventually(all_handled)
    handled = Counter(first.ids + second.ids)
    assert set(handled) == {e.id for e in sent}
    assert set(handled.values()) == {1}, "an event was handled by more than one consumer"


async def test_a_handler_that_fails_once_gets_the_event_again_and_then_succeeds(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    queue = brokers.queue("flaky")
    attempts: Counter[str] = Counter()
    handled = Received()

    async def flaky(evt: CloudEvent) -> None:
        attempts[evt.id] += 1
        if attempts[evt.id] == 1:
            raise RuntimeError("transient failure")
        await handled.handler(evt)

    await broker.subscribe(queue, ["mash.flaky"], flaky)
    sent = event("mash.flaky")
    await broker.publish([sent])

    await delivered(handled, sent)
    assert attempts[sent.id] == 2
    assert handled.ids == [sent.id]
    assert await broker.dead_letters(queue) == []


async def test_a_handler_that_always_fails_has_the_event_dead_lettered_after_the_limit(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    queue = brokers.queue("poison")
    attempts: Counter[str] = Counter()

    async def always_fails(evt: CloudEvent) -> None:
        attempts[evt.id] += 1
        raise RuntimeError("permanent failure")

    await broker.subscribe(queue, ["mash.poison"], always_fails)
    poison = event("mash.poison", n=1)
    await broker.publish([poison])

    dead: list[CloudEvent] = []

    async def dead_lettered() -> bool:
        dead.extend(await broker.dead_letters(queue))
        return bool(dead)

    await eventually(dead_lettered)
    assert dead == [poison]
    # Once dead-lettered it has left the queue: the count is final.
    assert attempts[poison.id] == broker.delivery_limit
    # Taking the dead letters empties them.
    assert await broker.dead_letters(queue) == []


def storage_away() -> OperationalError:
    """What SQLAlchemy raises when the database refuses connections."""
    return OperationalError("INSERT INTO inbox_messages ...", {},
                            ConnectionRefusedError("connection refused"))


async def test_a_handler_whose_storage_fails_for_a_while_gets_every_event_once_and_none_dead(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    """Far more failures than the delivery limit, all of them the storage's: none counts."""
    queue = brokers.queue("storage-away")
    failures_left = DELIVERY_LIMIT * 4
    handled = Received()

    async def storage_comes_back(evt: CloudEvent) -> None:
        nonlocal failures_left
        if failures_left > 0:
            failures_left -= 1
            raise storage_away()
        await handled.handler(evt)

    await broker.subscribe(queue, ["mash.stored"], storage_comes_back)
    sent = [event("mash.stored", n=n) for n in range(5)]
    await broker.publish(sent)

    await delivered(handled, *sent)
    assert failures_left == 0
    assert Counter(handled.ids) == Counter(e.id for e in sent)
    assert await broker.dead_letter_count(queue) == 0
    assert await broker.dead_letters(queue) == []


async def test_a_poison_message_is_dead_lettered_counted_and_replayed_to_its_queue_alone(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    failing, healthy = brokers.queue("poisoned"), brokers.queue("unharmed")
    fixed = False
    handled, ok = Received(), Received()

    async def buggy_until_fixed(evt: CloudEvent) -> None:
        if not fixed:
            raise ValueError("a bug this message meets every time")
        await handled.handler(evt)

    await broker.subscribe(failing, ["mash.poison"], buggy_until_fixed)
    await broker.subscribe(healthy, ["mash.poison"], ok.handler)
    poison = event("mash.poison")
    await broker.publish([poison])

    async def counted() -> bool:
        return await broker.dead_letter_count(failing) == 1

    await eventually(counted)
    assert await broker.replay_dead_letters(failing, dry_run=True) == [poison.id]
    await eventually(counted)  # a dry run leaves it where it was
    assert handled.ids == []

    fixed = True
    assert await broker.replay_dead_letters(failing) == [poison.id]
    await delivered(handled, poison)
    assert await broker.dead_letter_count(failing) == 0
    # Replayed to its own queue: the healthy one had it once, and has it once.
    marker = event("mash.poison", marker=True)
    await broker.publish([marker])
    await delivered(ok, marker)
    assert ok.ids == [poison.id, marker.id]
    assert handled.ids == [poison.id, marker.id]


async def test_dead_letters_are_kept_per_queue(brokers: BrokerUnderTest, broker: Broker) -> None:
    failing, healthy = brokers.queue("failing"), brokers.queue("healthy")
    ok = Received()

    async def always_fails(evt: CloudEvent) -> None:
        raise RuntimeError("permanent failure")

    await broker.subscribe(failing, ["mash.thing"], always_fails)
    await broker.subscribe(healthy, ["mash.thing"], ok.handler)
    sent = event("mash.thing")
    await broker.publish([sent])

    dead: list[CloudEvent] = []

    async def dead_lettered() -> bool:
        dead.extend(await broker.dead_letters(failing))
        return bool(dead)

    await eventually(dead_lettered)
    await delivered(ok, sent)
    assert dead == [sent]
    assert await broker.dead_letters(healthy) == []


# --- availability and confirms --------------------------------------------------------


async def test_ping_raises_broker_unavailable_before_connect(brokers: BrokerUnderTest) -> None:
    broker = brokers.new()
    with pytest.raises(BrokerUnavailable):
        await broker.ping()


async def test_ping_succeeds_while_connected_and_raises_after_close(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    await broker.ping()
    await broker.close()
    with pytest.raises(BrokerUnavailable):
        await broker.ping()


async def test_publish_raises_broker_unavailable_when_not_connected(
    brokers: BrokerUnderTest,
) -> None:
    broker = brokers.new()
    with pytest.raises(BrokerUnavailable):
        await broker.publish([event("mash.referral.received")])
    await broker.connect()
    await broker.close()
    with pytest.raises(BrokerUnavailable):
        await broker.publish([event("mash.referral.received")])


async def test_publish_of_a_window_confirms_every_event_and_each_arrives_once(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    received = Received()
    await broker.subscribe(brokers.queue("bulk"), ["mash.bulk"], received.handler)

    sent = [event("mash.bulk", n=n) for n in range(200)]
    await broker.publish(sent)  # returns only once every event is confirmed

    async def all_arrived() -> bool:
        return len(received.events) >= len(sent)

    await eventually(all_arrived)
    assert sorted(received.ids) == sorted(e.id for e in sent)


async def test_publish_with_no_bound_queue_is_still_confirmed(broker: Broker) -> None:
    await broker.publish([event("mash.nobody.listens") for _ in range(5)])


async def test_events_keep_their_attributes_across_the_broker(
    brokers: BrokerUnderTest, broker: Broker
) -> None:
    received = Received()
    await broker.subscribe(brokers.queue("envelope"), ["mash.referral.received"], received.handler)
    sent = CloudEvent(
        source="/services/referral", type="mash.referral.received", subject="r-42",
        data={"referral_id": "r-42", "links": {"self": "/referrals/r-42"}},
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    await broker.publish([sent])

    await delivered(received, sent)
    assert received.events == [sent]



@pytest.mark.rabbitmq
async def test_events_published_to_a_declared_queue_wait_for_its_first_consumer(
    rabbitmq_server: str, unique_name: str,
) -> None:
    under_test = BrokerUnderTest("rabbitmq", unique_name, rabbitmq_server)
    try:
        queue = under_test.queue("declared-early")
        migrating = await under_test.connected()  # as `mash migrate`
        await migrating.declare(queue, ["mash.agency.updated"])
        publisher = await under_test.connected()
        early = event("mash.agency.updated", agency_id="a-1")
        await publisher.publish([early])  # no consumer yet

        consumer = await under_test.connected()
        received = Received()
        await consumer.subscribe(queue, ["mash.agency.updated"], received.handler)

        await delivered(received, early)
    finally:
        await under_test.cleanup()
