"""Street and community on tickets; 多诉督办 records and their tickets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("street", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("community", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_tickets_place", ["community", "category", "received_at"])
    op.create_table(
        "supervision_cases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=32), nullable=True),
        sa.Column("street", sa.String(length=64), nullable=True),
        sa.Column("community", sa.String(length=64), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True, unique=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_ticket_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
    )
    op.create_index("ix_supervision_cases_status", "supervision_cases", ["status"])
    op.create_index("ix_supervision_cases_opened_at", "supervision_cases", ["opened_at"])
    op.create_table(
        "supervision_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("supervision_cases.id"),
                  nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "ticket_id"),
    )
    op.create_index("ix_supervision_links_case_id", "supervision_links", ["case_id"])
    op.create_index("ix_supervision_links_ticket_id", "supervision_links", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("supervision_links")
    op.drop_table("supervision_cases")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_place")
        batch_op.drop_column("community")
        batch_op.drop_column("street")
