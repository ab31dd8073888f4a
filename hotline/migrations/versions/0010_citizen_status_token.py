"""The citizen hears back: a status-page token per ticket; recent audit steps by kind

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_token", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tickets_status_token", ["status_token"], unique=True)
    op.create_index("ix_ticket_events_action_at", "ticket_events", ["action", "at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_events_action_at", table_name="ticket_events")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status_token")
        batch_op.drop_column("status_token")
