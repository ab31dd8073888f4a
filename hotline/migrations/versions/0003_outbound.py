"""outbound tasks, attempts and review queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 05:50:32.963320
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbound_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("closure_round", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("keys", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "closure_round", name="uq_outbound_review"),
    )
    with op.batch_alter_table("outbound_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbound_reviews_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "outbound_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id", "kind", "round", "step", name="uq_outbound_task"),
    )
    with op.batch_alter_table("outbound_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_outbound_tasks_due", ["status", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbound_tasks_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "outbound_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("to_phone", sa.String(length=32), nullable=False),
        sa.Column("to_user_id", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("keys", sa.String(length=32), nullable=True),
        sa.Column("call_ref", sa.String(length=128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["outbound_tasks.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "attempt", name="uq_outbound_attempt"),
    )
    with op.batch_alter_table("outbound_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbound_attempts_phone", ["to_phone", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbound_attempts_task_id"), ["task_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbound_attempts_ticket_id"), ["ticket_id"], unique=False
        )




def downgrade() -> None:
    with op.batch_alter_table("outbound_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_attempts_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_outbound_attempts_task_id"))
        batch_op.drop_index("ix_outbound_attempts_phone")

    op.drop_table("outbound_attempts")
    with op.batch_alter_table("outbound_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_tasks_ticket_id"))
        batch_op.drop_index("ix_outbound_tasks_due")

    op.drop_table("outbound_tasks")
    with op.batch_alter_table("outbound_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbound_reviews_ticket_id"))

    op.drop_table("outbound_reviews")

