"""Fixtures shared by the integration tests."""

from tests.integration.test_intake import intake
from tests.integration.test_notify_delivery import notify_db, receiver

__all__ = ["intake", "notify_db", "receiver"]
