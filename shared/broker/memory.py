"""The in-process broker for `mash up`.

It keeps nothing itself: ``publish`` hands each event to every bound queue's consumer
(a whole window at once to a consumer that takes windows, in one transaction) and
returns (the "confirm") only when each consumer has finished with it, retried up to the
delivery limit or dead-lettered. The durable queue is therefore the outbox: a crash
before the confirm leaves the outbox row unsent, and it is published again on restart.
Consumers dedupe by event id, so a second delivery is harmless.

A consumer whose storage is away (a database refusing connections, a full disk) is
retried after a pause growing up to ``max_retry_delay`` until it is back: the confirm
waits, so the outbox row stays unsent however long that takes, and nothing is counted
toward the delivery limit. A consumer that keeps its own dead letters (``dead_letter``,
as ``shared.outbox.IdempotentConsumer`` in its database) is given those; the others'
are kept here, in memory.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.broker.base import Broker, BrokerUnavailable, Handler, retry_delays, topic_matches
from shared.events import CloudEvent, replay_target
from shared.outages import is_infrastructure_failure

log = logging.getLogger(__name__)


@dataclass
class _Queue:
    name: str
    topics: set[str] = field(default_factory=set)
    handlers: list[Handler] = field(default_factory=list)
    turn: itertools.count[int] = field(default_factory=itertools.count)

    def next_handler(self) -> Handler | None:
        if not self.handlers:
            return None
        return self.handlers[next(self.turn) % len(self.handlers)]


class InProcessBroker(Broker):
    """Topic routing and competing consumers inside one process."""

    def __init__(self, *, delivery_limit: int = 5, retry_delay: float = 0.05,
                 max_retry_delay: float = 5.0) -> None:
        super().__init__()
        self.delivery_limit = delivery_limit
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._queues: dict[str, _Queue] = {}
        self._dead: defaultdict[str, list[CloudEvent]] = defaultdict(list)
        self._connected = False

    async def connect(self) -> None:
        was_closed, self._connected = not self._connected, True
        if was_closed:
            self.reconnected()

    async def close(self) -> None:
        self._connected = False

    async def ping(self) -> None:
        if not self._connected:
            raise BrokerUnavailable("in-process broker is not running")

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        await self.ping()
        routed = [(q, [e for e in events if self._routes(q, e)])
                  for q in self._queues.values()]
        # Every queue's delivery runs to its end, even if another's fails, so that none is
        # still running when the relay tries the window again.
        outcomes = await asyncio.gather(*(self._deliver_window(q, window)
                                          for q, window in routed if window),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _deliver_window(self, queue: _Queue, window: list[CloudEvent]) -> None:
        """In order; to a consumer taking windows (``handle_batch``) all at once, else
        (or after the window failed: that was every event's first attempt) one by one."""
        handler = queue.next_handler()
        batch = getattr(handler, "handle_batch", None)
        failures = 0
        if batch is not None and len(window) > 1:
            try:
                await batch(window)
                return
            except Exception as exc:
                log.warning("consumer failed a window; delivering one by one",
                            extra={"queue": queue.name, "events": len(window),
                                   "error_type": type(exc).__name__})
                # An outage is not the events' fault: it counts for none of them.
                failures = 0 if is_infrastructure_failure(exc) else 1
        for event in window:
            await self._deliver(queue, event, failures)

    @staticmethod
    def _routes(queue: _Queue, event: CloudEvent) -> bool:
        # A replayed dead letter names the one queue it is for (shared.outbox).
        target = replay_target(event)
        if target is not None and target != queue.name:
            return False
        return any(topic_matches(topic, event.type) for topic in queue.topics)

    async def _deliver(self, queue: _Queue, event: CloudEvent, failures: int = 0) -> None:
        """Until handled; dead-lettered after ``delivery_limit`` failures of its own."""
        pauses = retry_delays(self.retry_delay, self.max_retry_delay)
        while True:
            handler = queue.next_handler()
            if handler is None:
                return
            try:
                await handler(event)
                return
            except Exception as exc:
                error = exc
            if is_infrastructure_failure(error):
                log.warning("consumer's storage unavailable; retrying",
                            extra={"queue": queue.name, "event_id": event.id,
                                   "error_type": type(error).__name__})
                await asyncio.sleep(next(pauses))
                continue
            failures += 1
            log.warning("consumer failed", extra={"queue": queue.name, "event_id": event.id,
                                                  "attempt": failures,
                                                  "error_type": type(error).__name__})
            if failures >= self.delivery_limit:
                await self._dead_letter(queue, handler, event, error)
                return
            await asyncio.sleep(self.retry_delay * failures)

    async def _dead_letter(self, queue: _Queue, handler: Handler, event: CloudEvent,
                           error: Exception) -> None:
        log.error("message dead-lettered", extra={"queue": queue.name, "event_id": event.id,
                                                  "error_type": type(error).__name__})
        keep = getattr(handler, "dead_letter", None)
        if keep is None:
            self._dead[queue.name].append(event)
            return
        try:
            await keep(queue.name, event, type(error).__name__)
        except Exception as exc:
            # Not kept: the confirm fails, the outbox row stays unsent and comes back.
            raise BrokerUnavailable(f"dead letter not stored: {type(exc).__name__}") from exc

    async def subscribe(self, queue: str, topics: Sequence[str], handler: Handler) -> None:
        q = self._queues.setdefault(queue, _Queue(queue))
        q.topics.update(topics)
        q.handlers.append(handler)

    async def declare(self, queue: str, topics: Sequence[str]) -> None:
        # In one process the consumers subscribe before anything is published (see
        # mash.gateway.Hub.running): the queue is made, nothing is kept for it.
        self._queues.setdefault(queue, _Queue(queue)).topics.update(topics)

    async def dead_letters(self, queue: str) -> list[CloudEvent]:
        taken, self._dead[queue] = self._dead[queue], []
        return taken

    async def dead_letter_count(self, queue: str) -> int:
        return len(self._dead[queue])

    async def replay_dead_letters(self, queue: str, *, dry_run: bool = False) -> list[str]:
        ids = [event.id for event in self._dead[queue]]
        if not dry_run and queue in self._queues:
            for event in await self.dead_letters(queue):
                await self._deliver(self._queues[queue], event)
        return ids
