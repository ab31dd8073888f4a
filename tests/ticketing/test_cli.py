"""The `hotline` command line against a real SQLite database."""

from __future__ import annotations

import csv
import re
import resource
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from config import get_settings
from hotline.cli import app
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory, transaction
from ticketing.models import Ticket, Unit, User

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
    # The shipped settings: the curl and the console on the API's shipped address.
    assert "http://127.0.0.1:8000/api/v1/tickets" in r.output
    assert "http://127.0.0.1:8000/console" in r.output
    number = next(line.split()[-1] for line in r.output.splitlines()
                  if line.startswith("sample ticket"))
    r = runner.invoke(app, ["ticket", "show", number])
    assert r.exit_code == 0 and "dispatch" in r.output
    assert "+08:00" in r.output and "+00:00" not in r.output  # the shipped Asia/Shanghai
    assert runner.invoke(app, ["ticket", "show", "0000000000"]).exit_code == 1
    r = runner.invoke(app, ["stats"])
    assert r.exit_code == 0 and '"tickets": 3' in r.output
    out = env / "t.csv"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 3 and {r["工单编号"] for r in rows} >= {number}
    assert runner.invoke(app, ["export", "-o", str(out), "--category", "water",
                               "--status", "dispatched"]).exit_code == 0
    water = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert water and all(r["分类"] == "供水" and r["状态"] == "已派单" for r in water)
    assert len(water) < len(rows)
    assert runner.invoke(app, ["export", "-o", str(out), "--since", "2000-01-01",
                               "--until", "2000-01-02"]).exit_code == 0
    assert list(csv.DictReader(out.open(encoding="utf-8-sig"))) == []
    # A second demo run keeps the city and issues fresh tokens.
    r = runner.invoke(app, ["demo"])
    assert r.exit_code == 0 and "already there" in r.output


@pytest.mark.parametrize(("host", "port", "base"), [
    ("127.0.0.1", "9123", "http://127.0.0.1:9123"),
    ("0.0.0.0", "8080", "http://127.0.0.1:8080"),  # a wildcard bind is reached on loopback
    ("::", "8443", "http://[::1]:8443"),
    ("::1", "9000", "http://[::1]:9000"),
])
def test_demo_prints_the_urls_of_the_settings(env: Path, monkeypatch: pytest.MonkeyPatch,
                                              host: str, port: str, base: str) -> None:
    monkeypatch.setenv("HOTLINE_HOST", host)
    monkeypatch.setenv("HOTLINE_PORT", port)
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["demo"])
    assert r.exit_code == 0, r.output
    urls = re.findall(r"https?://\S+", r.output)
    assert urls and all(u.startswith(base + "/") for u in urls), urls
    assert f"{base}/console" in urls and ":8000" not in r.output
    # The curl is one line, runnable as pasted, with the operator's token.
    (curl,) = [line for line in r.output.splitlines() if "curl" in line]
    assert curl.endswith(f"{base}/api/v1/tickets") and "Authorization: Bearer " in curl
    assert f"{base}/api/v1/tickets" in urls

def test_user_add(env: Path) -> None:
    runner.invoke(app, ["db", "upgrade"])
    runner.invoke(app, ["demo"])
    r = runner.invoke(app, ["user", "add", "li", "--role", "handler", "--unit", "cy"])
    assert r.exit_code == 0 and "token" in r.output
    r = runner.invoke(app, ["user", "add", "li", "--role", "handler", "--unit", "cy"])
    assert r.exit_code == 1 and "already exists" in r.output
    r = runner.invoke(app, ["user", "add", "zz", "--role", "handler", "--unit", "nope"])
    assert r.exit_code == 1 and "does not exist" in r.output


def test_the_cli_creates_only_what_the_api_would(env: Path) -> None:
    """judge36: `hotline user add` offered and took the role "system" (the service's own:
    that account then keyed in survey answers as the machine does), and user names and
    unit codes the API refuses ("admin" with a Cyrillic a, "x y<b>", "a b/../c"), and any
    unit kind. ticketing.directory refuses them for both; nothing is created."""
    runner.invoke(app, ["db", "upgrade"])
    assert runner.invoke(app, ["demo"]).exit_code == 0
    refused = [
        ["user", "add", "robot", "--role", "system"],
        ["user", "add", "\u0430dmin", "--role", "admin"],
        ["user", "add", "x y<b>", "--role", "operator"],
        ["user", "add", "a" * 65, "--role", "operator"],
        ["unit", "add", "a b/../c", "某单位", "--parent", "bj"],
        ["unit", "add", "ok-code", "某单位", "--parent", "bj", "--kind", "foo"],
    ]
    for args in refused:
        r = runner.invoke(app, args)
        assert r.exit_code != 0, (args, r.output)
    engine = make_engine(get_settings().database_url)
    with make_session_factory(engine)() as s:
        names = set(s.scalars(select(User.username)))
        assert {"robot", "\u0430dmin", "x y<b>", "a" * 65}.isdisjoint(names)
        assert set(s.scalars(select(Unit.code))).isdisjoint({"a b/../c", "ok-code"})
        assert "system" not in set(s.scalars(select(User.role)))
    assert "system" not in runner.invoke(app, ["user", "add", "--help"]).output
    # What the API takes, the CLI takes.
    assert runner.invoke(app, ["user", "add", "kb.li_2", "--role", "kb_editor"]).exit_code == 0
    assert runner.invoke(app, ["unit", "add", "cy-street.1", "某街道", "--parent", "cy",
                               "--kind", "street"]).exit_code == 0


def test_list_and_stats_use_the_one_overdue(env: Path) -> None:
    """`ticket list --overdue` and `stats` count what the API and /metrics count."""
    runner.invoke(app, ["db", "upgrade"])
    assert runner.invoke(app, ["demo"]).exit_code == 0
    settings = get_settings()
    domain = Domain.load(settings)
    engine = make_engine(settings.database_url)
    long_ago = domain.now() - timedelta(days=3)
    with transaction(make_session_factory(engine)) as s:
        def user(name: str) -> Actor:
            return Actor.of(s.scalars(select(User).where(User.username == name)).one())

        made = []
        for phone, demand in (("13700000001", "朝阳区望京西园三区7号楼水管爆了"),
                              ("13700000002", "海淀区中关村大街停水了")):
            t = service.create_ticket(session=s, domain=domain, actor=user("operator"),
                                      channel="api", caller_phone=phone, demand=demand,
                                      urgency="livelihood", received_at=long_ago)
            service.accept(session=s, domain=domain, ticket=t, actor=user("operator"))
            made.append(t)
        late, set_aside = made
        service.exclude(session=s, domain=domain, ticket=set_aside, actor=user("supervisor"),
                        reason="重复恶意来电")
        late_number, set_aside_number = late.number, set_aside.number
    engine.dispose()
    r = runner.invoke(app, ["ticket", "list", "--overdue"])
    assert r.exit_code == 0, r.output
    assert late_number in r.output and set_aside_number not in r.output
    r = runner.invoke(app, ["ticket", "list"])
    assert late_number in r.output and set_aside_number in r.output
    r = runner.invoke(app, ["stats"])
    assert r.exit_code == 0 and '"overdue": 1' in r.output


def test_report_monthly(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(env))
    get_settings.cache_clear()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0  # three sample tickets, this month
    r = runner.invoke(app, ["report", "monthly", "--month", "2026-11"])
    assert r.exit_code == 0, r.output
    path = env / "reports" / "monthly-2026-11.html"
    assert str(path) in r.output.replace("\n", "")
    html = path.read_text(encoding="utf-8")
    assert "月度通报" in html and "本月没有已派单的工单。" in html  # nothing received in Nov
    this_month = Domain.load(get_settings()).now().astimezone(
        Domain.load(get_settings()).tz).strftime("%Y-%m")
    r = runner.invoke(app, ["report", "monthly", "--month", this_month])
    assert r.exit_code == 0, r.output
    html = (env / "reports" / f"monthly-{this_month}.html").read_text(encoding="utf-8")
    assert "<td>北京市自来水集团</td>" in html and "<td>朝阳区望京街道</td>" in html
    for bad in ("2026-13", "2026", "11-2026"):
        assert runner.invoke(app, ["report", "monthly", "--month", bad]).exit_code == 2


@pytest.mark.parametrize("command", [["serve"], ["ticket", "list"]])
def test_a_database_that_cannot_be_opened_is_one_line_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    # A path SQLite cannot open (here a folder; on a server a read-only directory, whose
    # WAL files cannot be made): serve refuses before binding anything.
    (tmp_path / "db").mkdir()
    monkeypatch.setenv("HOTLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'db'}")
    get_settings.cache_clear()
    try:
        r = runner.invoke(app, command)
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2, r.output
    assert "cannot open the database sqlite:///" in r.output
    assert "unable to open database file" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_a_database_error_with_no_message_is_still_one_line(
        env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A driver's error with an empty message raised IndexError while being reported.
    def down(*_: object) -> None:
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError())

    monkeypatch.setattr("hotline.cli.require_migrated", down)
    r = runner.invoke(app, ["ticket", "list"])
    assert r.exit_code == 2, r.output
    assert "cannot open the database sqlite:///" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_a_unit_or_category_that_does_not_exist_is_said_not_exported_empty(
        env: Path, tmp_path: Path) -> None:
    """judge29's trial: `hotline export --unit bj-watr` wrote a CSV of its header alone
    ("wrote tickets.csv"), as if the unit had no tickets, and `hotline stats --unit bj-watr`
    ended in a traceback (LookupError)."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0
    out = tmp_path / "x.csv"
    for args in (["export", "-o", str(out), "--unit", "bj-watr"], ["stats", "--unit", "bj-watr"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "bj-watr" in r.output, (args, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), args
    r = runner.invoke(app, ["export", "-o", str(out), "--category", "watr"])
    assert r.exit_code == 2 and "watr" in r.output, r.output
    assert not out.exists()
    assert runner.invoke(app, ["export", "-o", str(out), "--unit", "bj-water"]).exit_code == 0


def test_a_file_the_command_cannot_read_or_write_is_one_line(env: Path, tmp_path: Path) -> None:
    """judge29's trial: `hotline kb import` of a missing file or of a folder, `kb export` and
    `export -o` into a folder that does not exist each ended in a 40-line traceback."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    nowhere = tmp_path / "no-such-folder" / "out.csv"
    for args in (["kb", "import", str(tmp_path / "missing.tsv")], ["kb", "import", str(tmp_path)],
                 ["kb", "export", str(nowhere)], ["export", "-o", str(nowhere)]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output, r.exception)
        named = args[-1] if "no-such-folder" not in args[-1] else str(nowhere.parent)
        assert "Traceback" not in r.output and named in r.output, (args, r.output)


def test_a_full_disk_is_one_line_and_leaves_no_partial_export(env: Path) -> None:
    """review65: `hotline export -o /dev/full` ended in a traceback (ENOSPC has no file
    name, so the one-line rule let it through), and a write failing partway left a partial
    CSV where the export was asked for. Now written beside it and renamed when whole;
    `--traceback` gives the traceback back."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0
    r = runner.invoke(app, ["export", "-o", "/dev/full"])
    assert r.exit_code == 2 and "/dev/full: No space left on device" in r.output, r.output
    assert "Traceback" not in r.output and "--traceback" in r.output, r.output
    assert Path("/dev/full").is_char_device()
    r = runner.invoke(app, ["--traceback", "export", "-o", "/dev/full"])
    assert r.exit_code != 2 and isinstance(r.exception, OSError), r.output
    # A regular file the write cannot finish (a size limit: EFBIG, as real as ENOSPC):
    # the earlier export stays whole and nothing half-written is left beside it.
    out = env / "t.csv"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    whole = out.read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    sigxfsz = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(whole) // 2, hard))
    try:
        r = runner.invoke(app, ["export", "-o", str(out)])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, sigxfsz)
    assert r.exit_code == 2 and f"{out}: File too large" in r.output, r.output
    assert out.read_bytes() == whole
    assert sorted(p.name for p in env.iterdir() if p.name.startswith(".t.csv")) == []


def test_a_retired_category_exports_and_the_option_is_named(env: Path) -> None:
    """review65: a category retired from categories.toml that tickets still hold could not
    be exported ("unknown category"); the refusal of a code naming nothing names the
    option (`check_filters`' field, unused before)."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["demo"]).exit_code == 0
    engine = make_engine(get_settings().database_url)
    with transaction(make_session_factory(engine)) as s:
        s.scalars(select(Ticket)).first().category = "retired"
    engine.dispose()
    out = env / "r.csv"
    assert runner.invoke(app, ["export", "-o", str(out), "--category", "retired"]).exit_code == 0
    assert len(list(csv.DictReader(out.open(encoding="utf-8-sig")))) == 1
    r = runner.invoke(app, ["export", "-o", str(out), "--category", "watr"])
    assert r.exit_code == 2 and "--category: unknown category 'watr'" in r.output, r.output
    r = runner.invoke(app, ["export", "-o", str(out), "--unit", "bj-watr"])
    assert r.exit_code == 2 and "--unit: unit bj-watr not found" in r.output, r.output
