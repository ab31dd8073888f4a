"""A phone's latest calls found by an index: (caller, arrived_at)

Every outbound call's claim asks whether the phone it is about to ring is in one of our
inbound calls now (ivr.callrecords.live_call: the caller's records still in progress that
arrived within the last 15 minutes); without the index that was a walk of every call ever
recorded, per claim.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 06:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_call_records_caller_arrived", "call_records", ["caller", "arrived_at"])


def downgrade() -> None:
    op.drop_index("ix_call_records_caller_arrived", table_name="call_records")
