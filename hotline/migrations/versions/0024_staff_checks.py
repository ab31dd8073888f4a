"""Staff numbers: the survey planner checks a closed ticket once per directory version

``outbound.planner.plan_surveys`` asked every closed, unanswered ticket of all history on
every tick whether its number is a staff one (ticketing.staff_phones). Now a ticket keeps
the directory version and the closure it was checked at, and the directory's one version
is bumped whenever a number enters or leaves the staff numbers. A disabled account's
number stays staff for the tickets filed before ``users.staff_until`` (loose27).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 12:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    version = op.create_table(
        "directory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(version, [{"id": 1, "version": 0}])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("staff_checked_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("staff_checked_round", sa.Integer(), nullable=True))
        batch.create_index("ix_tickets_staff_check", ["status", "staff_checked_version"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("staff_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("staff_until")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_staff_check")
        batch.drop_column("staff_checked_round")
        batch.drop_column("staff_checked_version")
    op.drop_table("directory_version")
