"""The `hotline` command line against a real SQLite database."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config import get_settings
from hotline.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_unmigrated_database_is_refused_with_the_fix(env: Path) -> None:
    r = runner.invoke(app, ["ticket", "list"])
    assert r.exit_code == 2
    assert "hotline db upgrade" in r.output


def test_demo_show_stats_export(env: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["demo"])
    assert r.exit_code == 0, r.output
    assert "operator" in r.output and "sample ticket" in r.output
    number = next(line.split()[-1] for line in r.output.splitlines()
                  if line.startswith("sample ticket"))
    r = runner.invoke(app, ["ticket", "show", number])
    assert r.exit_code == 0 and "dispatch" in r.output
    assert runner.invoke(app, ["ticket", "show", "0000000000"]).exit_code == 1
    r = runner.invoke(app, ["stats"])
    assert r.exit_code == 0 and '"tickets": 3' in r.output
    out = env / "t.csv"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 3 and {r["工单编号"] for r in rows} >= {number}
    # A second demo run keeps the city and issues fresh tokens.
    r = runner.invoke(app, ["demo"])
    assert r.exit_code == 0 and "already there" in r.output


def test_user_add(env: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    runner.invoke(app, ["demo"])
    r = runner.invoke(app, ["user", "add", "li", "--role", "handler", "--unit", "cy"])
    assert r.exit_code == 0 and "token" in r.output
    r = runner.invoke(app, ["user", "add", "li", "--role", "handler", "--unit", "cy"])
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(app, ["user", "add", "zz", "--role", "handler", "--unit", "nope"])
    assert r.exit_code == 1 and "does not exist" in r.output
