"""One caller, one number: phones in E.164; a ticket may have no phone (withheld number)

Every stored phone is rewritten by ``ticketing.phones.normalise`` (the one rule), so that
+8613912345678, 008613912345678 and 13912345678 written by older releases are one caller
for the 多诉 link, the key-1 status lookup and the survey's daily cap. A ticket's "000"
(the placeholder for a caller who sent no number) becomes NULL; a ticket number that is no
number at all becomes NULL too, and what it was is kept in an audit event. Directory
phones that are no number (an extension, say) are left as they are: they are still dialled.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:30:00.000000
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from ticketing.phones import normalise

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The placeholder older releases stored for a caller without a number.
OLD_NO_NUMBER = "000"

events = sa.table("ticket_events", sa.column("ticket_id", sa.Integer),
                  sa.column("at", sa.DateTime), sa.column("actor_id", sa.Integer),
                  sa.column("actor_name", sa.String), sa.column("role", sa.String),
                  sa.column("action", sa.String), sa.column("note", sa.Text),
                  sa.column("data", sa.JSON))


def _rows(table: str, column: str) -> Iterable[tuple[int, str]]:
    bind = op.get_bind()
    return bind.execute(sa.text(f"SELECT id, {column} FROM {table} "
                                f"WHERE {column} IS NOT NULL ORDER BY id")).all()


def _set(table: str, column: str, changes: list[tuple[int, str | None]]) -> None:
    if not changes:
        return
    op.get_bind().execute(
        sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
        [{"id": row_id, "value": value} for row_id, value in changes])


def _normalise_directory(table: str, column: str) -> None:
    changes = []
    for row_id, raw in _rows(table, column):
        e164 = normalise(raw)
        if e164 is not None and e164 != raw:
            changes.append((row_id, e164))
    _set(table, column, changes)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.alter_column("caller_phone", existing_type=sa.String(length=32),
                              nullable=True)
        batch_op.add_column(sa.Column("caller_phone_keyed", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    changes: list[tuple[int, str | None]] = []
    lost: list[tuple[int, str]] = []
    for row_id, raw in _rows("tickets", "caller_phone"):
        e164 = normalise(raw)
        if e164 != raw:
            changes.append((row_id, e164))
        if e164 is None and raw.strip() and raw != OLD_NO_NUMBER:
            lost.append((row_id, raw))
    _set("tickets", "caller_phone", changes)
    if lost:
        now = datetime.now(UTC).replace(tzinfo=None)  # UTCDateTime stores naive UTC
        op.bulk_insert(events, [
            {"ticket_id": row_id, "at": now, "actor_id": None, "actor_name": "migration",
             "role": "system", "action": "phone_dropped", "note": "来电号码无法识别，已清除",
             "data": {"was": raw}}
            for row_id, raw in lost])
    _normalise_directory("users", "phone")
    _normalise_directory("units", "phone")
    _normalise_directory("outbound_attempts", "to_phone")


def downgrade() -> None:
    # Older releases need a phone on every ticket: the old placeholder comes back. The E.164
    # spellings stay (older releases accepted "+8613912345678" as typed).
    op.get_bind().execute(
        sa.text("UPDATE tickets SET caller_phone = :placeholder WHERE caller_phone IS NULL"),
        {"placeholder": OLD_NO_NUMBER})
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("caller_phone_keyed")
        batch_op.alter_column("caller_phone", existing_type=sa.String(length=32),
                              nullable=False)
