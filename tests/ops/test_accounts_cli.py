"""`hotline user disable|enable|rotate-token`: revoking a leaked token from the command line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from config import get_settings
from hotline.cli import app
from tests.support.city import City
from ticketing.directory import user_for_token
from ticketing.models import AccountEvent, User

runner = CliRunner()


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", db_url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def _user(city: City, token: str) -> str | None:
    with city.sessions() as s:
        user = user_for_token(session=s, token=token)
        return user.username if user else None


def test_disable_enable_and_rotate_from_the_cli(cli_db: str, city: City) -> None:
    old = city.tokens["water-handler"]
    r = runner.invoke(app, ["user", "disable", "water-handler"])
    assert r.exit_code == 0 and "disabled" in r.output
    assert _user(city, old) is None
    r = runner.invoke(app, ["user", "enable", "water-handler"])
    assert r.exit_code == 0 and _user(city, old) == "water-handler"

    r = runner.invoke(app, ["user", "rotate-token", "water-handler"])
    assert r.exit_code == 0, r.output
    new = re.search(r"token: (\S+)", r.output).group(1)  # type: ignore[union-attr]
    assert _user(city, old) is None and _user(city, new) == "water-handler"
    with city.sessions() as s:
        user = s.scalars(select(User).where(User.username == "water-handler")).one()
        assert new not in (user.token_sha256 or "")
        # Both ended the console sessions (rotation also by the new token's fingerprint).
        assert user.session_epoch == 2
        events = s.scalars(select(AccountEvent).where(AccountEvent.user_id == user.id)
                           .order_by(AccountEvent.id)).all()
    assert [(e.action, e.actor_id) for e in events] == [
        ("disable", None), ("enable", None), ("rotate_token", None)]
    assert all(e.actor_name.startswith("cli:") for e in events)

    r = runner.invoke(app, ["user", "disable", "nobody"])
    assert r.exit_code == 1 and "does not exist" in r.output
