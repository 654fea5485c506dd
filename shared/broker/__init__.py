"""The broker interface and its two implementations (in-process and RabbitMQ)."""

from shared.broker.base import Broker, BrokerUnavailable, Handler, topic_matches
from shared.settings import Settings


def broker_from_settings(settings: Settings) -> Broker:
    """The broker the settings name: in-process for ``memory://``, else RabbitMQ."""
    if settings.uses_memory_broker:
        from shared.broker.memory import InProcessBroker

        return InProcessBroker(delivery_limit=settings.broker_delivery_limit)
    from shared.broker.rabbitmq import RabbitMQBroker

    return RabbitMQBroker(
        settings.broker_url,
        exchange=settings.broker_exchange,
        delivery_limit=settings.broker_delivery_limit,
    )


__all__ = ["Broker", "BrokerUnavailable", "Handler", "broker_from_settings", "topic_matches"]
