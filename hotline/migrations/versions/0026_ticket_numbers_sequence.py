"""PostgreSQL's ticket numbers from a sequence, in the ticket's own transaction

On PostgreSQL the day's counter row was bumped on a connection and transaction of its own
(its row lock held for one statement, not through the ticket's transaction): a second
pooled connection and a second transaction a filing. Now a filing takes ``nextval`` of
one sequence, ``ticket_numbers``, in its own transaction (a sequence locks nothing until
the commit), and the day's number is that value less the day's ``base``, the sequence's
last value when the day's first ticket came (``ticketing.service``; pg29, twenty-seventh
round). SQLite keeps the counter row (its writers take turns anyway).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from ticketing import numbers

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ticket_sequences", sa.Column("base", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # CACHE 1 (the default): the sequence's last_value is then every value handed out,
        # which the day's base relies on.
        op.execute("CREATE SEQUENCE ticket_numbers AS bigint CACHE 1")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # 0025's code numbers a day by bumping its row's ``last``: set it to the day's
        # highest number in the tickets first, or the next filing of a day the sequence
        # numbered would take 1 again, a number already used (review69; mend68). A
        # number rolled back is above none of them and may be used again.
        # The sequence part's place in a number is the layout's (ticketing.numbers).
        seq = f"substr(t.number, {numbers.SEQUENCE_FROM})"
        op.execute(
            "UPDATE ticket_sequences AS s SET last = GREATEST(s.last, COALESCE(("
            f"SELECT max(CAST({seq} AS bigint)) FROM tickets AS t"
            f" WHERE t.number LIKE s.day || '%' AND {seq} ~ '^[0-9]+$'), 0))"
            " WHERE s.base IS NOT NULL")
        op.execute("DROP SEQUENCE ticket_numbers")
    with op.batch_alter_table("ticket_sequences") as batch:
        batch.drop_column("base")
