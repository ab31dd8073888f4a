"""A ticket's steps of one kind found by an index: (ticket_id, action, at)

The figures' first dispatch of each utility (reports.utility_dispatch) and the dispatch
queue's last 退单 (queries.queued_since) ask ``min/max(at) where ticket_id = ? and action
= ?`` per ticket. SQLite answered it through ix_ticket_events_action_at, walking every
step of that kind until one of the ticket's came up: per ticket, work that grows with the
whole table (one month's utilities of a 30,000-ticket database: 7.5 s of CPU; 17 ms with
this index). The new index's prefix serves every lookup by ticket alone, so it replaces
ix_ticket_events_ticket_id: as many indexes to write per step as before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 12:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_events_ticket_action_at", "ticket_events",
                    ["ticket_id", "action", "at"])
    op.drop_index("ix_ticket_events_ticket_id", table_name="ticket_events")


def downgrade() -> None:
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])
    op.drop_index("ix_ticket_events_ticket_action_at", table_name="ticket_events")
