"""Migration 0028 retires the accounts of role "system" made before the role was refused
(judge36 closed `hotline user add --role system`, the accounts it had made kept acting as
the service): on SQLite and PostgreSQL, such an account made the old way (a raw insert, as
that command wrote it) is disabled by the migration, its token refused by the API, the
audit trail names what was done and by whom, and it cannot be let in again. Another
account made the same way is left as it was."""

from __future__ import annotations

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from config import get_settings
from hotline import dbadmin
from hotline.cli import app
from tests.support.city import City
from ticketing.directory import AccountAction, actor_for_token, hash_token
from ticketing.models import AccountEvent, User

_INSERT = text("INSERT INTO users (username, display_name, role, active, on_duty, "
               "token_sha256, session_epoch) VALUES (:name, :name, :role, :active, :active, "
               ":sha, 0)")


def _made_the_old_way(sessions: sessionmaker[Session], name: str, role: str) -> str:
    token = f"{name}-token-made-before-0028"
    with sessions() as s:
        s.execute(_INSERT, {"name": name, "role": role, "active": True,
                            "sha": hash_token(token)})
        s.commit()
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_system_account_made_before_the_rule_is_retired_by_the_migration(
        db_url: str, city: City, client: TestClient, sessions: sessionmaker[Session],
        monkeypatch: pytest.MonkeyPatch) -> None:
    command.downgrade(dbadmin.alembic_config(db_url), "0027")
    robot = _made_the_old_way(sessions, "robot", "system")
    clerk = _made_the_old_way(sessions, "clerk", "operator")
    # What the role gave it before: the API took it as the service.
    assert client.get("/api/v1/tickets", headers=_bearer(robot)).status_code == 200

    command.upgrade(dbadmin.alembic_config(db_url), "head")
    # Run again (its downgrade undoes nothing): an account it retired is left as it is,
    # no second disable, revoke_token or session end on the trail (review92).
    command.downgrade(dbadmin.alembic_config(db_url), "0027")
    command.upgrade(dbadmin.alembic_config(db_url), "head")

    assert client.get("/api/v1/tickets", headers=_bearer(robot)).status_code == 401
    assert client.get("/api/v1/tickets", headers=_bearer(clerk)).status_code == 200
    with sessions() as s:
        assert actor_for_token(session=s, token=robot) is None
        user = s.scalars(select(User).where(User.username == "robot")).one()
        assert not user.active and user.token_sha256 is None and user.session_epoch == 1
        assert user.staff_until is not None  # as disable_user leaves it
        events = s.scalars(select(AccountEvent).where(AccountEvent.user_id == user.id)
                           .order_by(AccountEvent.id)).all()
        assert [(e.action, e.actor_id, e.actor_name) for e in events] == [
            (AccountAction.DISABLE.value, None, "migration 0028"),
            (AccountAction.REVOKE_TOKEN.value, None, "migration 0028")]
        assert s.scalars(select(User.active).where(User.username == "clerk")).one()
        robot_id = user.id

    # Nor can an admin let it in again or give it a token: it would act as the service.
    admin = _bearer(city.tokens["admin"])
    for action in ("enable", "rotate-token"):
        r = client.post(f"/api/v1/users/{robot_id}/{action}", headers=admin)
        assert r.status_code == 409, (action, r.text)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        for args in (["user", "enable", "robot"], ["user", "rotate-token", "robot"]):
            r = CliRunner().invoke(app, args)
            assert r.exit_code == 1 and "the service's own" in r.output, (args, r.output)
    finally:
        get_settings.cache_clear()
    with sessions() as s:
        user = s.get_one(User, robot_id)
        assert not user.active and user.token_sha256 is None
