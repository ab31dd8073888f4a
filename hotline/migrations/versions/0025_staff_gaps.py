"""A disabled account's number keeps its standing when the account is enabled again

Enabling cleared ``users.staff_until``, and an active account's number is staff for every
ticket: the tickets filed after the cut-off, citizens' until then, became staff tickets
and their answers left the figures. The span from the cut-off to the enabling is kept,
one row a span, and a ticket filed in it stays a citizen's (mend55).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_gaps_user_id", "staff_gaps", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_gaps_user_id", table_name="staff_gaps")
    op.drop_table("staff_gaps")
