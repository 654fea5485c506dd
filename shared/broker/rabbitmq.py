"""RabbitMQ broker (aio-pika): durable topic exchange, quorum queues, publisher confirms,
a dead-letter exchange and a delivery limit.

A handler failing because its storage is away keeps its message (unacknowledged) and is
run again after a pause growing up to ``max_retry_delay``: a nack would have RabbitMQ
redeliver at once and count it, and a few milliseconds of retries would use up the
delivery limit. With every prefetched message waiting so, the consumer takes no more
until storage is back. Only other failures are nacked, counted and, past the limit,
dead-lettered to ``<queue>.dead``, whence `mash events replay` puts them back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq.exceptions
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)

from shared import otel
from shared.broker.base import Broker, BrokerUnavailable, Handler, retry_delays
from shared.events import CONTENT_TYPE, CloudEvent, replay_target
from shared.outages import is_infrastructure_failure

log = logging.getLogger(__name__)

# What a lost connection or channel looks like from aio-pika: the caller keeps its
# messages and tries again (a closed channel raises a RuntimeError subclass).
_UNAVAILABLE = (
    TimeoutError,
    aio_pika.exceptions.AMQPError,
    OSError,
    aiormq.exceptions.ChannelInvalidStateError,
)


class RabbitMQBroker(Broker):
    """Events go to one durable topic exchange, routed by event type."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str = "mash.events",
        delivery_limit: int = 5,
        prefetch: int = 32,
        timeout: float = 10.0,
        reconnect_interval: float = 0.5,
        retry_delay: float = 0.1,
        max_retry_delay: float = 5.0,
    ) -> None:
        super().__init__()
        self.url = url
        self.exchange_name = exchange
        self.dead_letter_exchange_name = f"{exchange}.dlx"
        self.delivery_limit = delivery_limit
        self.prefetch = prefetch
        self.timeout = timeout
        # aio-pika waits this long between attempts to reconnect (its default is 5 s, and
        # that was most of the time a hub took to recover after RabbitMQ came back).
        self.reconnect_interval = reconnect_interval
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consumer_channels: list[AbstractChannel] = []

    async def connect(self) -> None:
        try:
            self._connection = await aio_pika.connect_robust(
                self.url, timeout=self.timeout, reconnect_interval=self.reconnect_interval)
            self._connection.reconnect_callbacks.add(self._on_reconnect)
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._declare_exchanges(self._channel)
        except _UNAVAILABLE as exc:
            raise BrokerUnavailable(f"cannot connect to RabbitMQ: {type(exc).__name__}") from exc

    async def _declare_exchanges(self, channel: AbstractChannel) -> AbstractExchange:
        await channel.declare_exchange(
            self.dead_letter_exchange_name, aio_pika.ExchangeType.DIRECT, durable=True
        )
        return await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._channel = self._exchange = None
        self._consumer_channels.clear()

    def _on_reconnect(self, *_: Any) -> None:
        log.info("reconnected to RabbitMQ")
        self.reconnected()

    async def ping(self) -> None:
        # The connection's own state, not a round trip: a round trip to a broker that has
        # gone quiet waits for a timeout, and /readyz must answer at once.
        connection, channels = self._connection, [self._channel, *self._consumer_channels]
        if connection is None or connection.is_closed:
            raise BrokerUnavailable("not connected to RabbitMQ")
        if not connection.connected.is_set():
            raise BrokerUnavailable("connection to RabbitMQ lost; reconnecting")
        if any(channel is None or channel.is_closed for channel in channels):
            raise BrokerUnavailable("a channel to RabbitMQ is closed; reopening")

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        if self._exchange is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        exchange = self._exchange

        async def publish_one(event: CloudEvent) -> None:
            message = aio_pika.Message(
                body=event.to_json(),
                content_type=CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=event.id,
                type=event.type,
                headers={"traceparent": event.traceparent} if event.traceparent else {},
            )
            # The event's trace continues here (the relay runs outside any request), and
            # the AMQP instrumentation's span and headers follow from this span.
            with otel.span(f"{event.type} publish", event.traceparent, "producer",
                           {"messaging.message.id": event.id}):
                await exchange.publish(message, routing_key=event.type, timeout=self.timeout)

        try:
            # All in flight at once: the confirms come back as a window, not one by one.
            await asyncio.gather(*(publish_one(e) for e in events))
        except _UNAVAILABLE as exc:
            raise BrokerUnavailable(f"publish not confirmed: {type(exc).__name__}") from exc

    def queue_name(self, queue: str) -> str:
        """The AMQP name of ``queue``: under the exchange's name, so that hubs (or test runs)
        sharing one RabbitMQ with different exchanges never consume each other's events."""
        return f"{self.exchange_name}.{queue}"

    def _queue_arguments(self, queue: str) -> dict[str, Any]:
        return {
            "x-queue-type": "quorum",
            # RabbitMQ counts *returns*: it dead-letters once a message has come back more
            # than x-delivery-limit times, i.e. after limit + 1 deliveries. Our
            # delivery_limit is the number of deliveries (as the in-process broker).
            "x-delivery-limit": max(self.delivery_limit - 1, 0),
            "x-dead-letter-exchange": self.dead_letter_exchange_name,
            "x-dead-letter-routing-key": queue,
        }

    async def subscribe(self, queue: str, topics: Sequence[str], handler: Handler) -> None:
        if self._connection is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=self.prefetch)
        self._consumer_channels.append(channel)
        amqp_queue = await self._declare_queue(channel, queue, topics)

        async def on_message(message: AbstractIncomingMessage) -> None:
            try:
                event = CloudEvent.from_json(message.body)
            except ValueError:
                log.error("unreadable message dead-lettered", extra={"queue": queue})
                await message.reject(requeue=False)
                return
            if replay_target(event) not in (None, queue):
                await message.ack()  # a replayed dead letter of another queue
                return
            try:
                handled = await self._handle_patiently(queue, handler, event)
            except Exception as exc:
                log.warning(
                    "consumer failed",
                    extra={"queue": queue, "event_id": event.id,
                           "error_type": type(exc).__name__},
                )
                await message.nack(requeue=True)
                return
            if handled:
                await message.ack()

        await amqp_queue.consume(on_message)

    async def _handle_patiently(self, queue: str, handler: Handler, event: CloudEvent) -> bool:
        """Run ``handler`` until it succeeds or fails for a reason of the message's own;
        False if the connection closed meanwhile (the message comes back uncounted)."""
        pauses = retry_delays(self.retry_delay, self.max_retry_delay)
        while True:
            try:
                await handler(event)
                return True
            except Exception as exc:
                if not is_infrastructure_failure(exc):
                    raise
                log.warning("consumer's storage unavailable; retrying",
                            extra={"queue": queue, "event_id": event.id,
                                   "error_type": type(exc).__name__})
            await asyncio.sleep(next(pauses))
            if self._connection is None or self._connection.is_closed:
                return False

    async def _declare_queue(self, channel: AbstractChannel, queue: str,
                             topics: Sequence[str]) -> AbstractQueue:
        exchange = await self._declare_exchanges(channel)
        dead = await channel.declare_queue(
            f"{self.queue_name(queue)}.dead", durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead.bind(self.dead_letter_exchange_name, routing_key=queue)
        amqp_queue = await channel.declare_queue(
            self.queue_name(queue), durable=True, arguments=self._queue_arguments(queue)
        )
        for topic in topics:
            await amqp_queue.bind(exchange, routing_key=topic)
        return amqp_queue

    async def declare(self, queue: str, topics: Sequence[str]) -> None:
        if self._channel is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        try:
            await self._declare_queue(self._channel, queue, topics)
        except _UNAVAILABLE as exc:
            raise BrokerUnavailable(f"cannot declare {queue}: {type(exc).__name__}") from exc

    async def _dead_queue(self, queue: str) -> AbstractQueue:
        if self._channel is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        return await self._channel.declare_queue(
            f"{self.queue_name(queue)}.dead", durable=True, arguments={"x-queue-type": "quorum"}
        )

    async def dead_letter_count(self, queue: str) -> int:
        dead = await self._dead_queue(queue)
        return int(dead.declaration_result.message_count or 0)

    async def replay_dead_letters(self, queue: str, *, dry_run: bool = False) -> list[str]:
        if self._connection is None or self._channel is None:
            raise BrokerUnavailable("not connected to RabbitMQ")
        # A channel of its own: closing it hands back what a dry run has looked at.
        channel = await self._connection.channel()
        try:
            dead = await channel.declare_queue(
                f"{self.queue_name(queue)}.dead", durable=True,
                arguments={"x-queue-type": "quorum"})
            ids: list[str] = []
            while (message := await dead.get(fail=False, no_ack=False)) is not None:
                ids.append(message.message_id or "")
                if dry_run:
                    continue
                # Straight to the queue (the default exchange routes by queue name), so
                # the other queues bound to its type do not get it again.
                await self._channel.default_exchange.publish(
                    aio_pika.Message(
                        body=message.body, content_type=message.content_type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        message_id=message.message_id, type=message.type,
                        headers={k: v for k, v in (message.headers or {}).items()
                                 if not k.startswith("x-")}),
                    routing_key=self.queue_name(queue), timeout=self.timeout)
                await message.ack()
            return ids
        finally:
            await channel.close()

    async def dead_letters(self, queue: str) -> list[CloudEvent]:
        dead = await self._dead_queue(queue)
        taken: list[CloudEvent] = []
        while (message := await dead.get(fail=False, no_ack=False)) is not None:
            taken.append(CloudEvent.from_json(message.body))
            await message.ack()
        return taken
