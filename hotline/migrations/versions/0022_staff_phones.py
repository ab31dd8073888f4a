"""Staff numbers looked up by number: users.phone and units.phone indexed

A survey answered on a staff member's number is no citizen's (ticketing.staff_phones): the
survey planner and every figure ask, ticket by ticket, whether the number is a user's or a
unit's. Without an index each ask walked the whole directory (forge26).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 10:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_users_phone", "users", ["phone"])
    op.create_index("ix_units_phone", "units", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_units_phone", table_name="units")
    op.drop_index("ix_users_phone", table_name="users")
