"""并单: a ticket merged into another's group (ticketing.merging)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 02:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("merged_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("merged_from_status", sa.String(length=16),
                                      nullable=True))
        batch_op.create_foreign_key("fk_tickets_merged_into_id", "tickets",
                                    ["merged_into_id"], ["id"])
        batch_op.create_index("ix_tickets_merged_into_id", ["merged_into_id"])


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_merged_into_id")
        batch_op.drop_constraint("fk_tickets_merged_into_id", type_="foreignkey")
        batch_op.drop_column("merged_from_status")
        batch_op.drop_column("merged_at")
        batch_op.drop_column("merged_into_id")
