"""Names the command line needs before it loads the settings (shared/settings.py), which
it loads only for the commands that use them."""

from __future__ import annotations

DEFAULT_SECRET = "changethis"  # noqa: S105 - the placeholder we refuse outside development

# The services, each with a database of its own (mash/topology.py builds them).
SERVICE_NAMES: tuple[str, ...] = ("identity", "referral", "notify")
