"""Indexes for the scans that walked every call and job ever recorded

EXPLAIN (SQLite and PostgreSQL) showed full scans of call_records for the calls not ended
(``ivr.callrecords.calls_up``: the dashboard's calls in progress and /metrics';
``ivr.intake.settle_lost_records``: each node's lost-call scan at start) and for the
dashboard's count of lost calls (by outcome), and the pending transcription jobs walked
for their oldest. The calls not ended are few at any time: their index holds them alone
(partial, ``WHERE ended_at IS NULL``, on both backends). transcription_jobs' index on
status becomes (status, created_at), which serves every look-up the old one did.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    op.create_index("ix_call_records_open", "call_records", ["node", "arrived_at"],
                    sqlite_where=_OPEN, postgresql_where=_OPEN)
    op.create_index("ix_call_records_outcome", "call_records", ["outcome"])
    op.create_index("ix_transcription_jobs_status_created", "transcription_jobs",
                    ["status", "created_at"])
    op.drop_index("ix_transcription_jobs_status", table_name="transcription_jobs")


def downgrade() -> None:
    op.create_index("ix_transcription_jobs_status", "transcription_jobs", ["status"])
    op.drop_index("ix_transcription_jobs_status_created", table_name="transcription_jobs")
    op.drop_index("ix_call_records_outcome", table_name="call_records")
    op.drop_index("ix_call_records_open", table_name="call_records")
