"""A survey answer keeps the handler who held the ticket when the answer it judged closed

0029 stored the answer a verdict judged and the unit that gave it, but a handler's points
(``ticketing.points``) still followed the ticket's *current* handler: a 改派 of a redo within
the unit moved the citizen's −1 from the handler who answered to the next one (a supervisor
could shelter a favoured handler; review106). ``survey_results.handler_id`` is now stored
with the verdict (``service.record_survey``: ``service.answered_by``, the author of the
answer if a handler). Filled here for the answers already given from the trail as 0029
reads it (its ``_rounds``: the author of each round's last 反馈).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-10 12:00:00.000000
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_0029() -> ModuleType:
    """0029's module, for its reading of a ticket's rounds (one reading, not two)."""
    path = Path(__file__).with_name("0029_survey_reply_outcome.py")
    spec = importlib.util.spec_from_file_location("hotline_migration_0029", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    with op.batch_alter_table("survey_results") as batch:
        batch.add_column(sa.Column("handler_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_survey_results_handler_id", "users", ["handler_id"],
                                 ["id"])
    bind = op.get_bind()
    # Every answered survey, the current round's too: the ticket's handler now is whoever
    # holds it, not necessarily who gave the answer (a handler of the unit answering a
    # ticket another signed, a supervisor's answer; review110).
    answered = bind.execute(sa.text(
        "SELECT id, ticket_id, closure_round FROM survey_results "
        "WHERE outcome = 'answered'")).all()
    if not answered:
        return
    rounds_of = _revision_0029()._rounds
    units = dict(bind.execute(sa.text("SELECT code, id FROM units")).all())
    rounds = {t: rounds_of(bind, t, units) for t in sorted({row.ticket_id for row in answered})}
    changes = []
    for row in answered:
        found = rounds[row.ticket_id].get(row.closure_round)
        changes.append({"id": row.id, "handler": found.handler if found else None})
    bind.execute(sa.text("UPDATE survey_results SET handler_id = :handler WHERE id = :id"),
                 changes)


def downgrade() -> None:
    with op.batch_alter_table("survey_results") as batch:
        batch.drop_constraint("fk_survey_results_handler_id", type_="foreignkey")
        batch.drop_column("handler_id")
