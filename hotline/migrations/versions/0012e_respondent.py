"""反映主体: whom a ticket's complaint is about, when known

Existing tickets get NULL (unknown): nothing is guessed for them afterwards.

Revision ID: 0012e
Revises: 0013
Create Date: 2026-12-03 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012e"
# The task named 0011; 0012 and 0013 were chained after it on this branch already, and a
# second head would stop `hotline db upgrade`. The lead re-chains it when merging.
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respondent", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("respondent")
