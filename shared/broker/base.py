"""What every broker does: publish events with confirmation, deliver them to named queues."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import lru_cache

from shared.events import CloudEvent

Handler = Callable[[CloudEvent], Awaitable[None]]


class BrokerUnavailable(RuntimeError):
    """The broker could not take or confirm a message; the caller keeps it and retries."""


def _match_words(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match_words(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head in ("*", words[0])) and _match_words(rest, words[1:])


@lru_cache(maxsize=1024)
def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic matching: words split by '.', '*' is one word, '#' is zero or more."""
    return _match_words(tuple(pattern.split(".")), tuple(routing_key.split(".")))


class Broker(ABC):
    """Events are routed by type to durable queues; each queue has competing consumers.

    ``publish`` returns only once the broker has taken responsibility for every event
    (a publisher confirm); it raises ``BrokerUnavailable`` otherwise. A handler that
    raises gets its message again, up to the delivery limit; after that the message
    goes to the queue's dead letters. A handler failing because a dependency is away
    (``shared.outages.is_infrastructure_failure``) gets it again after a pause growing up
    to ``max_retry_delay``, for as long as that lasts: such failures never count.
    """

    delivery_limit: int

    def __init__(self) -> None:
        self._reconnect_hooks: list[Callable[[], None]] = []

    def on_reconnected(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` whenever the connection is back after being lost (e.g. to wake a
        relay waiting out its backoff)."""
        self._reconnect_hooks.append(hook)

    def reconnected(self) -> None:
        """Tell the hooks the connection is back."""
        for hook in self._reconnect_hooks:
            hook()

    @abstractmethod
    async def connect(self) -> None:
        """Open connections and declare the exchanges."""

    @abstractmethod
    async def close(self) -> None:
        """Stop consumers and close connections."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``BrokerUnavailable`` unless connected now (known without a round trip)."""

    @abstractmethod
    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Publish events (routing key: the event type) and wait for every confirm."""

    @abstractmethod
    async def subscribe(self, queue: str, topics: Sequence[str], handler: Handler) -> None:
        """Declare ``queue`` bound to ``topics`` and consume it with ``handler``."""

    @abstractmethod
    async def declare(self, queue: str, topics: Sequence[str]) -> None:
        """Make ``queue`` exist, bound to ``topics``, before anything consumes it, so events
        published meanwhile wait there (``mash migrate`` does this for RabbitMQ)."""

    @abstractmethod
    async def dead_letters(self, queue: str) -> list[CloudEvent]:
        """Take the messages dead-lettered from ``queue`` (for inspection and replay)."""

    @abstractmethod
    async def dead_letter_count(self, queue: str) -> int:
        """How many messages the broker keeps dead-lettered from ``queue``."""

    @abstractmethod
    async def replay_dead_letters(self, queue: str, *, dry_run: bool = False) -> list[str]:
        """Put ``queue``'s dead letters back on ``queue`` (only), oldest first; return their
        ids. With ``dry_run``, only list them: nothing is moved."""


def retry_delays(first: float, cap: float) -> Iterator[float]:
    """Pauses between retries after infrastructure failures: doubling, up to ``cap``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, cap)
