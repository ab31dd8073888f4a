"""Accounts of role "system" made before the role was refused are retired

`hotline user add --role system` made an account that acted as the service itself (a
survey answer, the closing of a merged ticket: judge36). The creation rules refuse the
role now (``ticketing.directory.ACCOUNT_ROLES``), but the accounts made before kept their
tokens. Each one is disabled as ``directory.disable_user`` disables (its console sessions
ended, its number staff for ``STAFF_NUMBER_DAYS`` more) and its token taken, none issued;
the audit trail has a ``disable`` and a ``revoke_token`` event for it, by this migration.
Enabling such an account or giving it a token is refused since (``check_account_role``).
Nothing is undone on the way down: a downgrade must not hand the service's role back to
an account (mend89).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-09 06:00:00.000000
"""

import logging
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

from ticketing.directory import STAFF_NUMBER_DAYS, AccountAction
from ticketing.models import UTCDateTime, utcnow
from ticketing.states import Role

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit trail's actor: none of the accounts (actor_id NULL, as for the command line).
ACTOR_NAME = "migration 0028"

log = logging.getLogger("alembic.runtime.migration")

_users = sa.table(
    "users", sa.column("id", sa.Integer()), sa.column("username", sa.String()),
    sa.column("role", sa.String()), sa.column("active", sa.Boolean()),
    sa.column("token_sha256", sa.String()), sa.column("session_epoch", sa.Integer()),
    sa.column("staff_until", UTCDateTime()))
_events = sa.table(
    "account_events", sa.column("user_id", sa.Integer()), sa.column("at", UTCDateTime()),
    sa.column("actor_id", sa.Integer()), sa.column("actor_name", sa.String()),
    sa.column("action", sa.String()))


def upgrade() -> None:
    bind = op.get_bind()
    # Only what is still to retire: active, or holding a token. Run again (its downgrade
    # undoes nothing), or on an account disabled with no token already, it changes and
    # audits nothing; before (review92) each run wrote another disable and revoke_token.
    system = sa.and_(_users.c.role == Role.SYSTEM.value,
                     sa.or_(_users.c.active.is_(True), _users.c.token_sha256.is_not(None)))
    found = bind.execute(sa.select(_users.c.id, _users.c.username, _users.c.active,
                                   _users.c.token_sha256).where(system)).all()
    if not found:
        return
    now = utcnow()
    # An account still active gets the cut-off its disabling would give it; one disabled
    # already keeps its own (``disable_user``: a re-disable keeps the first cut-off).
    bind.execute(_users.update().where(system, _users.c.active.is_(True))
                 .values(staff_until=now + timedelta(days=STAFF_NUMBER_DAYS)))
    bind.execute(_users.update().where(system).values(
        active=False, token_sha256=None,
        session_epoch=sa.func.coalesce(_users.c.session_epoch, 0) + 1))
    # What was done to each: a disable for one that was active, a revoke for a token.
    bind.execute(_events.insert(), [
        {"user_id": row.id, "at": now, "actor_id": None, "actor_name": ACTOR_NAME,
         "action": action.value}
        for row in found
        for action, done in ((AccountAction.DISABLE, row.active),
                             (AccountAction.REVOKE_TOKEN, row.token_sha256 is not None))
        if done])
    log.warning("retired %d account(s) of role system (disabled, token revoked): %s",
                len(found), ", ".join(row.username for row in found))


def downgrade() -> None:
    pass
