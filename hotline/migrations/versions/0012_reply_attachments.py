"""Photos and documents attached to the handler's reply, with their SHA-256

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["ticket_events.id"]),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reply_attachments_ticket_id", "reply_attachments", ["ticket_id"])
    op.create_index("ix_reply_attachments_event_id", "reply_attachments", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_reply_attachments_event_id", table_name="reply_attachments")
    op.drop_index("ix_reply_attachments_ticket_id", table_name="reply_attachments")
    op.drop_table("reply_attachments")
