"""ticket understanding: 诉求类型 (kind), emergency service, 待确认 flag, confidence

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="complaint", nullable=False)
        )
        batch_op.add_column(
            sa.Column("emergency", sa.String(length=8), server_default="none", nullable=False)
        )
        batch_op.add_column(
            sa.Column("needs_confirmation", sa.Boolean(), server_default=sa.false(),
                      nullable=False)
        )
        batch_op.add_column(sa.Column("classification_confidence", sa.Float(), nullable=True))
        batch_op.create_index("ix_tickets_needs_confirmation", ["needs_confirmation"])


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_needs_confirmation")
        batch_op.drop_column("classification_confidence")
        batch_op.drop_column("needs_confirmation")
        batch_op.drop_column("emergency")
        batch_op.drop_column("kind")
