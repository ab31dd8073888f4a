"""细分类: a ticket's sub-category inside its category (config/categories.toml)

Existing tickets get NULL (none): nothing is guessed for them afterwards; an operator may
set one with the classification correction.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 05:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sub_category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("sub_category")
