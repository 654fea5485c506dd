"""Alembic environment: see shared.migrations."""

from shared.migrations import run_migrations_in_env

run_migrations_in_env()
