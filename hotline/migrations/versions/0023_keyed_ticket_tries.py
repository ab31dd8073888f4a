"""Ticket numbers keyed at key 1 are counted in the database, shared by every node

``ivr.ticket_lookup.KeyedLookups`` counted the numbers keyed by callers nobody vouched for
in memory, per IVR process: two nodes behind Kamailio each allowed the hour's 30 to one
address. One row per number keyed, by address, pruned once past the hour (loose27).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "keyed_ticket_tries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("tried_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_keyed_ticket_tries_address_at", "keyed_ticket_tries",
                    ["address", "tried_at"])
    op.create_index("ix_keyed_ticket_tries_tried_at", "keyed_ticket_tries", ["tried_at"])


def downgrade() -> None:
    op.drop_index("ix_keyed_ticket_tries_tried_at", table_name="keyed_ticket_tries")
    op.drop_index("ix_keyed_ticket_tries_address_at", table_name="keyed_ticket_tries")
    op.drop_table("keyed_ticket_tries")
