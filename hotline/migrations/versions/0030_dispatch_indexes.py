"""Indexes for auto-dispatch's read of a unit's on-duty handlers and their open tickets

Every filing that auto-dispatches reads its unit's on-duty handlers with the open tickets
each holds (``ticketing.service._ON_DUTY_LOADS``): on PostgreSQL once a filing, on SQLite
once a unit a filing group. users had no index on unit_id, so the read went through every
account of the city; each handler's open tickets were counted through the index on
handler_id alone, that is through every ticket the handler ever held, closed ones too, the
status filtered in the table. On a table grown to a year (300,000 tickets, a unit of 189
handlers, 3,052 accounts; EXPLAIN ANALYZE on PostgreSQL, docs/scaling.md, thirty-third
round) the read took 272 ms; with users(unit_id) and tickets(handler_id, status) 14 ms.
The new tickets index replaces the one on handler_id (it serves every look-up by handler
the old one did), so a ticket's INSERT and its status changes maintain no more indexes.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-10 06:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_tickets_handler_status", "tickets", ["handler_id", "status"])
    op.drop_index("ix_tickets_handler_id", table_name="tickets")
    op.create_index("ix_users_unit_id", "users", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_users_unit_id", table_name="users")
    op.create_index("ix_tickets_handler_id", "tickets", ["handler_id"])
    op.drop_index("ix_tickets_handler_status", table_name="tickets")
