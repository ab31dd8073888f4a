"""A survey answer keeps the handler who held the ticket when the answer it judged closed

0029 stored the answer a verdict judged and the unit that gave it, but a handler's points
(``ticketing.points``) still followed the ticket's *current* handler: a 改派 of a redo within
the unit moved the citizen's −1 from the handler who answered to the next one (a supervisor
could shelter a favoured handler; review106). ``survey_results.handler_id`` is now stored
with the verdict (``service.record_survey``). Filled here for the answers already given,
the way 0029 filled ``unit_id``: the current round's from the ticket, an earlier round's
from the trail as 0029 reads it (its ``_rounds``: the handler a 派单 or 改派 named, or a
handler who signed since, at that round's closure event).

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
    # Not redone since: the ticket's handler is that round's (a closed ticket is moved by
    # no one).
    bind.execute(sa.text(
        "UPDATE survey_results SET handler_id = (SELECT t.handler_id FROM tickets t "
        "WHERE t.id = survey_results.ticket_id "
        "AND t.redo_count = survey_results.closure_round) WHERE outcome = 'answered'"))
    earlier = _revision_0029()
    older = earlier._older(bind)
    if not older:
        return
    rounds_of = earlier._rounds
    units = dict(bind.execute(sa.text("SELECT code, id FROM units")).all())
    users = dict(bind.execute(sa.text("SELECT username, id FROM users")).all())
    rounds = {t: rounds_of(bind, t, units, users)
              for t in sorted({row.ticket_id for row in older})}
    changes = []
    for row in older:
        found = rounds[row.ticket_id].get(row.closure_round)
        changes.append({"id": row.id, "handler": found.handler if found else None})
    bind.execute(sa.text("UPDATE survey_results SET handler_id = :handler WHERE id = :id"),
                 changes)


def downgrade() -> None:
    with op.batch_alter_table("survey_results") as batch:
        batch.drop_constraint("fk_survey_results_handler_id", type_="foreignkey")
        batch.drop_column("handler_id")
