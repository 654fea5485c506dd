"""Every agency announced again, now with its name, so the other services' directories
learn the names of agencies registered before events carried them (the board report
names agencies and schools).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.agencies import agency_updated_event
from shared.db import UTCDateTime
from shared.events import utcnow

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    agencies = bind.execute(sa.text(
        "SELECT id, name, kind, active, school_urn, safeguarding_lead_email FROM agencies"))
    outbox = sa.table("outbox_messages", sa.column("event_id"), sa.column("event_type"),
                      sa.column("payload"), sa.column("created_at", UTCDateTime()),
                      sa.column("attempts"))
    rows = []
    for agency_id, name, kind, active, urn, mailbox in agencies:
        event = agency_updated_event(agency_id, kind=kind, active=bool(active), school_urn=urn,
                                     safeguarding_lead_email=mailbox, name=name)
        rows.append({"event_id": event.id, "event_type": event.type,
                     "payload": event.to_json().decode(), "created_at": utcnow(),
                     "attempts": 0})
    if rows:
        op.bulk_insert(outbox, rows)


def downgrade() -> None:
    """Nothing to undo: the events were announcements of what was already true."""
