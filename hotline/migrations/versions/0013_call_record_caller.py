"""Call records name their caller in E.164 like tickets; what was no number is kept apart

``call_records.caller`` was the caller ID as it came (13912345678, +8613912345678,
"anonymous"): a call could not be compared with its caller's tickets. It is rewritten by
``ticketing.phones.normalise`` (the one rule) through ``ivr.callrecords.caller_fields``, NULL
when it was no number, and that caller ID moves to the new ``caller_raw`` for diagnostics.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 02:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ivr.callrecords import caller_fields

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.alter_column("caller", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("caller_raw", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    changes = []
    for row_id, raw in bind.execute(sa.text("SELECT id, caller FROM call_records ORDER BY id")):
        fields = caller_fields(raw)
        if fields["caller"] != raw:
            changes.append({"id": row_id, **fields})
    if changes:
        bind.execute(sa.text("UPDATE call_records SET caller = :caller, caller_raw = :caller_raw "
                             "WHERE id = :id"), changes)


def downgrade() -> None:
    op.get_bind().execute(sa.text(
        "UPDATE call_records SET caller = COALESCE(caller, caller_raw, '')"))
    with op.batch_alter_table("call_records", schema=None) as batch_op:
        batch_op.drop_column("caller_raw")
        batch_op.alter_column("caller", existing_type=sa.String(length=64), nullable=False)
