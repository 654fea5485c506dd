"""Fixtures shared by the integration tests."""

from tests.integration.notify_hub import notify_db, receiver
from tests.integration.partners import intake

__all__ = ["intake", "notify_db", "receiver"]
