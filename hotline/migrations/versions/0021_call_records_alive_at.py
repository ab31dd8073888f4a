"""A call record's last sign of life: call_records.alive_at

A caller bridged to an operator for longer than LIVE_CALL_SECONDS counted as free (its
record aged from its arrival, ivr.callrecords.live_call) and a survey rang them mid-talk.
A call in progress now counts as live from its last sign of life, the answer or the
bridge's heartbeat (ivr.intake.CallIntake.alive), the same clock recovery reads from the
call's journal (review51).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records") as batch_op:
        batch_op.add_column(sa.Column("alive_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_records") as batch_op:
        batch_op.drop_column("alive_at")
