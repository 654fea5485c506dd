"""Fixtures shared by the integration tests."""

from tests.integration.test_intake import intake

__all__ = ["intake"]
