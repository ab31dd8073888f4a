"""核实 before 办结: the handler's structured answer; the handler's 剔除 request

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 15:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_outcome", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("reply_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("exclusion_reason", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("exclusion_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("exclusion_text")
        batch_op.drop_column("exclusion_reason")
        batch_op.drop_column("reply_reason")
        batch_op.drop_column("reply_outcome")
