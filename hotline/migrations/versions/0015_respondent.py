"""反映主体: whom a ticket's complaint is about, when known

Existing tickets get NULL (unknown): nothing is guessed for them afterwards.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respondent", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("respondent")
