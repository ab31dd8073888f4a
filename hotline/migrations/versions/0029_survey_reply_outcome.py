"""A survey answer keeps the handler's answer it judged and the unit that gave it

办理情况契合度 compared a closure round's survey with the ticket's *current* structured
answer, and 解决率, 满意度 and 契合度 counted the verdict at the unit holding the ticket
*now*. Once a ticket was redone (驳回重办) both moved: the redo's reply rewrote the match of
the round the citizen had judged (a unit whose "resolved" the citizen denied cleared the
record by answering "unresolvable" the second time), and a 改派 of the redo took the verdict
to a unit that never gave the answer (judge41). ``survey_results.reply_outcome`` and
``survey_results.unit_id`` are now those of the survey's own closure round, stored with the
verdict (``service.record_survey``). Filled here for the answers already given: the current
round's from the ticket, an earlier round's from the trail (the ``outcome`` of that round's
closure event, the unit the last event moving the ticket before it named: 派单, 改派,
随主单, 拆单).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 12:00:00.000000
"""

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _data(data: Any) -> dict[str, Any]:
    if isinstance(data, str):
        data = json.loads(data)
    return data if isinstance(data, dict) else {}


class Round(NamedTuple):
    """What stood when a closure round closed: the answer, its unit and its handler."""

    outcome: str | None
    unit: int | None
    handler: int | None


def _rounds(bind: sa.Connection, ticket_id: int,
            units: dict[str, int]) -> dict[int, Round]:
    """Each closure round's answer, unit and handler from the ticket's trail: round r
    closes after the r-th 驳回重办. The handler (migration 0031) is the one
    ``service.answered_by`` names: the author of the round's last 反馈 if a handler; none
    for a supervisor's answer or a ticket closed with its primary (并单)."""
    found: dict[int, Round] = {}
    round_, unit, handler = 0, None, None
    for action, data, actor_id, role in bind.execute(sa.text(
            "SELECT action, data, actor_id, role FROM ticket_events WHERE ticket_id = :t "
            "AND action IN ('dispatch', 'reassign', 'merged_unit', 'unmerge', 'return', "
            "'reject', 'close', 'close_merged', 'reply') ORDER BY id"), {"t": ticket_id}):
        fields = _data(data)
        # Every event that moves the ticket names the unit it is at from then on: a
        # 随主单 move (merging.FOLLOW_EVENT) and a 拆单 (None: back to the queue) as much
        # as a 派单 or 改派; one answered after a split answered at the unit it was split at.
        if action in ("dispatch", "reassign", "merged_unit", "unmerge"):
            unit = units.get(fields.get("unit") or "")
        elif action == "return":
            unit = None
        elif action == "reply":
            handler = actor_id if role == "handler" else None
        elif action == "reject":
            round_, handler = round_ + 1, None
        else:
            found[round_] = Round(fields.get("outcome"), unit,
                                  handler if action == "close" else None)
    return found


def _older(bind: sa.Connection) -> list[Any]:
    """The answered surveys of a round the ticket has been redone since: (id, ticket_id,
    closure_round)."""
    return list(bind.execute(sa.text(
        "SELECT s.id, s.ticket_id, s.closure_round FROM survey_results s "
        "JOIN tickets t ON t.id = s.ticket_id "
        "WHERE s.outcome = 'answered' AND s.closure_round < t.redo_count")).all())


def upgrade() -> None:
    with op.batch_alter_table("survey_results") as batch:
        batch.add_column(sa.Column("reply_outcome", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_survey_results_unit_id", "units", ["unit_id"], ["id"])
    bind = op.get_bind()
    # Not redone since: the ticket's answer and unit are that round's (a closed ticket is
    # moved by no one).
    for column in ("reply_outcome", "unit_id"):
        bind.execute(sa.text(
            f"UPDATE survey_results SET {column} = (SELECT t.{column} FROM tickets t "
            "WHERE t.id = survey_results.ticket_id "
            "AND t.redo_count = survey_results.closure_round) WHERE outcome = 'answered'"))
    older = _older(bind)
    if not older:
        return
    units = dict(bind.execute(sa.text("SELECT code, id FROM units")).all())
    rounds = {t: _rounds(bind, t, units) for t in sorted({row.ticket_id for row in older})}
    changes = []
    for row in older:
        outcome, unit, _ = rounds[row.ticket_id].get(row.closure_round, (None, None, None))
        changes.append({"id": row.id, "outcome": outcome, "unit": unit})
    bind.execute(sa.text("UPDATE survey_results SET reply_outcome = :outcome, unit_id = :unit "
                         "WHERE id = :id"), changes)


def downgrade() -> None:
    with op.batch_alter_table("survey_results") as batch:
        batch.drop_constraint("fk_survey_results_unit_id", type_="foreignkey")
        batch.drop_column("unit_id")
        batch.drop_column("reply_outcome")
