"""`hotline serve --role api|ivr|outbound|all`: what each role starts, that only the API
runs as several worker processes, and (real uvicorn, PostgreSQL) two API workers filing
tickets side by side with distinct numbers while no SIP port is bound."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from config import Settings, get_settings
from hotline.cli import app as cli
from hotline.cli import where_to_start
from hotline.roles import (
    HTTP_STOP_SECONDS,
    PARTS,
    DataDirInUse,
    Part,
    RoleError,
    ServeRole,
    check_workers,
    default_workers,
    hold_data_dir,
)
from hotline.wiring import start_background
from tests.support.city import City
from tests.support.harness import first_http_answer, free_port, spawn
from tests.support.run_once import seed_prompts
from ticketing.context import Domain

TICKET_JOBS = {"escalate-utilities", "archive-unsurveyable", "idempotency-keys", "monthly-report"}


def _role_settings(sqlite_url: str, tmp_path: Path) -> Settings:
    """Shipped defaults; only the ports and directories are this test's own."""
    base = Settings(database_url=sqlite_url, data_dir=tmp_path, recordings_dir=tmp_path / "rec")
    return base.model_copy(update={
        "sip": base.sip.model_copy(update={"port": free_port()}),
        "outbound": base.outbound.model_copy(update={"sip_port": free_port()}),
    })


# The roles with voice start the IVR, which renders its whole prompt catalogue with
# espeak-ng and sox (~100 processes, ~2 CPU-s): the whole suite only (marker "slow", not
# `scripts/test.sh --fast`); the fast tier starts the API and outbound roles.
@pytest.mark.parametrize(("role", "voice", "jobs"), [
    (ServeRole.API, False, set()),
    pytest.param(ServeRole.IVR, True, {"voice"}, marks=pytest.mark.slow),
    (ServeRole.OUTBOUND, False, TICKET_JOBS | {"outbound"}),
    pytest.param(ServeRole.ALL, True, TICKET_JOBS | {"outbound", "voice"},
                 marks=pytest.mark.slow),
])
def test_each_role_starts_only_its_parts(
    role: ServeRole, voice: bool, jobs: set[str], sqlite_url: str, tmp_path: Path,
    sessions_for_sqlite: sessionmaker[Session], request: pytest.FixtureRequest,
) -> None:
    settings = _role_settings(sqlite_url, tmp_path)
    if voice:  # the catalogue the IVR's start would render (tests/conftest.py)
        seed_prompts(request.getfixturevalue("shipped_prompts"), tmp_path)
    background = start_background(settings, sessions_for_sqlite, Domain.load(settings),
                                  PARTS[role] - {Part.HTTP})
    try:
        assert background.voice is voice
        if voice:  # the SIP IVR is up, on the configured port
            assert background.ivr is not None
        assert background.job_ids() == jobs
    finally:
        background.stop()


def test_only_the_api_role_runs_several_workers() -> None:
    check_workers(ServeRole.API, 4)
    for role in (ServeRole.IVR, ServeRole.OUTBOUND, ServeRole.ALL):
        check_workers(role, 1)
        with pytest.raises(RoleError, match="needs --role api"):
            check_workers(role, 2)
    with pytest.raises(RoleError):
        check_workers(ServeRole.API, 0)
    # The command refuses before it starts anything (no settings read, no port bound).
    result = CliRunner().invoke(cli, ["serve", "--role", "all", "--workers", "2"])
    assert result.exit_code == 2
    assert "needs --role api" in result.output


def test_the_api_role_runs_one_worker_per_core_by_default_two_at_most_on_sqlite(tmp_path: Path) -> None:
    pg = Settings(database_url="postgresql+psycopg://hotline@db/hotline", data_dir=tmp_path)
    lite = Settings(database_url=f"sqlite:///{tmp_path / 'h.db'}", data_dir=tmp_path)
    assert default_workers(ServeRole.API, pg, cores=2) == 2
    assert default_workers(ServeRole.API, pg, cores=8) == 8
    assert default_workers(ServeRole.API, pg) == (os.cpu_count() or 1)
    # SQLite's writers of every process take turns on a file lock beside the database: one
    # per core there too (twenty-fifth round), but no more than the two measured: a 16-core
    # node started 16 (~0.5 GB each, one lock; review57). A database in memory (or a
    # file: URI, which may be memory) is each process's own.
    assert default_workers(ServeRole.API, lite, cores=1) == 1
    assert default_workers(ServeRole.API, lite, cores=2) == 2
    assert default_workers(ServeRole.API, lite, cores=16) == 2
    assert default_workers(ServeRole.API, lite) == min(2, os.cpu_count() or 1)
    for alone in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:h?mode=memory&uri=true"):
        assert default_workers(ServeRole.API, lite.model_copy(
            update={"database_url": alone}), cores=2) == 1
    # The other roles must run once per node.
    for role in (ServeRole.IVR, ServeRole.OUTBOUND, ServeRole.ALL):
        assert default_workers(role, pg, cores=2) == 1
    for role in ServeRole:
        check_workers(role, default_workers(role, pg))
    # Twilio's webhooks of one call are serialised by a lock in the process.
    twilio = pg.model_copy(update={"twilio": pg.twilio.model_copy(
        update={"account_sid": "AC0", "auth_token": "secret"})})
    assert default_workers(ServeRole.API, twilio, cores=2) == 1


@pytest.fixture
def sessions_for_sqlite(sqlite_url: str):
    from ticketing.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    yield make_session_factory(engine)
    engine.dispose()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _udp_ports_bound_by(pids: list[int]) -> set[int]:
    """The UDP ports the sockets of these processes are bound to (from /proc). Asked of the
    processes themselves: whether a port is free says nothing when another test running in
    parallel may have taken it."""
    inodes: set[str] = set()
    for pid in pids:
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir() if fds.exists() else ():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    ports: set[int] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def api_workers(pid: int) -> list[int]:
    """The uvicorn worker processes of the `serve --role api` whose pid is given."""
    return [p for p in _children(pid)
            if b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


def assert_api_workers_file_side_by_side(pid: int, base: str, city: City, expected: int,
                                         *sip_ports: int) -> None:
    """The `serve --role api` of ``pid`` runs ``expected`` processes (one serves by itself;
    more are uvicorn's worker children), 24 tickets filed at once get 24 numbers, and it
    leaves SIP (``sip_ports``) to the ivr and outbound roles."""
    workers = api_workers(pid)
    assert len(workers) == (expected if expected > 1 else 0), workers

    async def file_all() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {city.tokens['operator']}"}
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            return await asyncio.gather(*(
                c.post("/api/v1/tickets", headers=headers,
                       json={"caller_phone": f"1350000{i:04d}",
                             "demand": f"海淀区中关村大街{i}号门前井盖丢了"})
                for i in range(24)))

    answers = asyncio.run(file_all())
    assert [r.status_code for r in answers] == [201] * 24
    assert len({r.json()["number"] for r in answers}) == 24
    assert all(r.json()["status"] == "dispatched" for r in answers)
    bound = _udp_ports_bound_by([pid, *_children(pid)])
    assert not bound & set(sip_ports), bound


# The default (one per core; on SQLite the processes' writers take turns on the file lock
# beside the database, two at most: review57), on both databases, real processes: SQLite's
# in test_serve_access.py, whose second node is that API role (suite53: one `serve` start
# fewer). That a given count overrides it is the CLI's choice, proved without processes
# (test_the_given_worker_count_overrides_the_default): a third case here started a real
# `serve --workers 1` on PostgreSQL for it (~7 CPU-s; docs/suite.md, thirty-first round).
@pytest.mark.parametrize(("db_url", "expected"), [
    pytest.param("postgresql", os.cpu_count() or 1, marks=pytest.mark.postgres,
                 id="default-postgresql"),
], indirect=["db_url"])
def test_api_role_workers(db_url: str, city: City, tmp_path: Path, expected: int) -> None:
    port, sip_port, outbound_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_URL": db_url, "HOTLINE_PORT": str(port),
                "HOTLINE_DATA_DIR": str(tmp_path), "HOTLINE_RECORDINGS_DIR": str(tmp_path / "r"),
                "HOTLINE_SIP__PORT": str(sip_port),
                "HOTLINE_OUTBOUND__SIP_PORT": str(outbound_port)})
    log = tmp_path / "serve.log"
    proc = spawn(
        [str(Path(sys.executable).with_name("hotline")), "serve", "--role", "api"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert first_http_answer(f"{base}/healthz", proc, log).status_code == 200
        assert_api_workers_file_side_by_side(proc.pid, base, city, expected, sip_port,
                                             outbound_port)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_the_given_worker_count_overrides_the_default(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve --role api --workers N` starts N whatever the default: one serves in the
    process itself, more are uvicorn's workers (from the import string each builds its app
    from), each on a socket of its own (hotline.listeners); no flag, the default (here SQLite's: one per core, two at most). What uvicorn
    and the one process then do is test_api_role_workers' and test_serve_access' (real
    processes)."""
    ran: list[tuple[str, int]] = []
    monkeypatch.setattr("hotline.listeners.serve_workers",
                        lambda app, workers, **k: ran.append((app, workers)))
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: ran.append(("self", 1)))
    monkeypatch.setattr("hotline.app.create_app", lambda *a, **k: None)
    for name, value in (("DATABASE_URL", sqlite_url), ("DATA_DIR", str(tmp_path / "data")),
                        ("RECORDINGS_DIR", str(tmp_path / "rec")), ("PORT", str(free_port()))):
        monkeypatch.setenv(f"HOTLINE_{name}", value)
    get_settings.cache_clear()
    try:
        for given in (["--workers", "1"], ["--workers", "3"], []):
            result = CliRunner().invoke(cli, ["serve", "--role", "api", *given])
            assert result.exit_code == 0, result.output
    finally:
        get_settings.cache_clear()
    default = min(2, os.cpu_count() or 1)
    assert ran == [("self", 1), ("hotline.app:api_worker_app", 3),
                   ("hotline.app:api_worker_app", default) if default > 1 else ("self", 1)]


def test_the_shipped_settings_run_one_api_process_per_core() -> None:
    """The shipped settings, unchanged (SQLite in the data dir): `hotline serve` starts one
    process for every role but the API's, which runs one per core, two at most (SQLite)."""
    assert default_workers(ServeRole.API, Settings(), cores=16) == 2
    shipped = Settings()
    assert {role: default_workers(role, shipped, cores=2) for role in ServeRole} == {
        role: 2 if role is ServeRole.API else 1 for role in ServeRole}


@pytest.mark.parametrize("shipped", [True, False], ids=["shipped-port", "given-port"])
def test_serve_refuses_at_once_when_the_outbound_sip_port_is_taken(
        shipped: bool, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run.sh` started a second time beside the running service: the IVR's port is retried
    (a restart), but the outbound dialer's failed the whole start-up with a 40-line
    traceback, after the prompts, the IVR and the warm-up had started. It is refused first,
    in one line naming the port and what to do (doctor's check of a port). On the shipped
    settings (port and address unchanged; only storage points at the test's), and on a
    port given by HOTLINE_OUTBOUND__SIP_PORT."""
    started: list[object] = []
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: started.append(a))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(tmp_path / "rec"))
    get_settings.cache_clear()
    address = get_settings().sip.bind_ip
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        if shipped:
            taken = get_settings().outbound.sip_port
            # Held by something else on this machine already: taken all the same.
            with contextlib.suppress(OSError):
                held.bind((address, taken))
        else:
            held.bind((address, 0))
            taken = held.getsockname()[1]
            monkeypatch.setenv("HOTLINE_OUTBOUND__SIP_PORT", str(taken))
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["serve"])
        finally:
            get_settings.cache_clear()
    assert result.exit_code == 2 and started == []
    assert f"{address}:{taken}/udp" in result.output
    assert "HOTLINE_OUTBOUND__SIP_PORT" in result.output


def test_serve_refuses_a_sip_node_with_no_address_but_the_wildcard(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bound to 0.0.0.0 and told to advertise it, every call would be silent (c=0.0.0.0 is
    "on hold") and the IVR's start retried for ever: refused before anything starts."""
    started: list[object] = []
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: started.append(a))
    for name, value in (("DATABASE_URL", sqlite_url), ("DATA_DIR", str(tmp_path / "data")),
                        ("RECORDINGS_DIR", str(tmp_path / "rec")),
                        ("SIP__BIND_IP", "0.0.0.0"), ("SIP__ADVERTISED_IP", "0.0.0.0")):
        monkeypatch.setenv(f"HOTLINE_{name}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--role", "ivr"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and started == [], result.output
    assert "SIP address" in result.output and "HOTLINE_SIP__ADVERTISED_IP" in result.output


def _holder(data_dir: Path, role: ServeRole) -> subprocess.Popen[str]:
    """Another process holding ``role``'s data-dir locks, as its `hotline serve` does."""
    code = ("import sys, pathlib; from hotline.roles import PARTS, ServeRole, hold_data_dir; "
            f"hold_data_dir(pathlib.Path({str(data_dir)!r}), PARTS[ServeRole({role.value!r})]); "
            "print('held', flush=True); sys.stdin.read()")
    proc = spawn([sys.executable, "-c", code], cwd=Path(__file__).parents[2],
                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def _serve_beside_a_holder(data_dir: Path) -> tuple[Result, int]:
    """`hotline serve` run while another process holds ``data_dir`` as a whole node does;
    the holder is killed afterwards. The result and the holder's pid."""
    first = _holder(data_dir, ServeRole.ALL)
    try:
        return CliRunner().invoke(cli, ["serve"]), first.pid
    finally:
        first.kill()
        first.wait()
        get_settings.cache_clear()


def test_a_second_serve_on_one_data_dir_is_refused_naming_the_running_pid(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fault trial's second `hotline serve` on the same data dir with other ports ran
    beside the first (one spool, one SQLite file, every job twice) with only a warning. It
    is refused before anything starts, in one line naming the data dir and the pid; the
    lock dies with its holder, a kill -9 too."""
    data_dir = tmp_path / "data"
    started: list[object] = []
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: started.append(a))
    monkeypatch.setattr("hotline.app.create_app", lambda *a, **k: None)
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HOTLINE_RECORDINGS_DIR", str(tmp_path / "rec"))
    monkeypatch.setenv("HOTLINE_OUTBOUND__ENABLED", "false")
    get_settings.cache_clear()
    result, pid = _serve_beside_a_holder(data_dir)
    assert result.exit_code == 2 and started == []
    [line] = result.output.splitlines()
    assert f"data dir {data_dir} is in use by hotline serve pid {pid}" in line
    # Killed: the kernel dropped its locks, none is left stale.
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0 and len(started) == 1, result.output


# Three holders, three interpreters (~0.5 CPU-s each): the whole suite only (marker
# "slow"), as the same refusal on the shipped settings below; the fast tier keeps one
# holder's (test_a_second_serve_on_one_data_dir_is_refused_naming_the_running_pid).
@pytest.mark.slow
def test_the_roles_of_one_node_share_its_data_dir(tmp_path: Path) -> None:
    """A node split on purpose (`--role ivr`, `--role outbound`, `--role api` with its
    workers, all on the same settings) still starts; a second IVR on it does not."""
    ivr = _holder(tmp_path, ServeRole.IVR)
    others = [_holder(tmp_path, ServeRole.OUTBOUND), _holder(tmp_path, ServeRole.API)]
    try:
        with pytest.raises(DataDirInUse, match=f"pid {others[0].pid}, which runs jobs"):
            hold_data_dir(tmp_path, PARTS[ServeRole.OUTBOUND])
        for proc in others:
            proc.kill()
            proc.wait()
        with pytest.raises(DataDirInUse, match=f"pid {ivr.pid}, which runs voice"):
            hold_data_dir(tmp_path, PARTS[ServeRole.ALL])
    finally:
        for proc in (ivr, *others):
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_a_second_serve_on_the_shipped_settings_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`run.sh` beside a running service, every setting as shipped (no HOTLINE_* at all):
    refused before anything starts, naming the shipped data dir and the running pid."""
    for name in [k for k in os.environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(name)
    started: list[object] = []
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: started.append(a))
    get_settings.cache_clear()
    data_dir = get_settings().data_dir
    result, pid = _serve_beside_a_holder(data_dir)
    assert result.exit_code == 2 and started == []
    assert f"data dir {data_dir} is in use by hotline serve pid {pid}" in result.output


def test_serve_says_where_the_console_is_what_callers_dial_and_how_to_log_in(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new user's first start (ports moved, as on a machine where others hold the
    shipped ones): serve named neither the console, nor the address callers dial (only
    "IVR answering on 127.0.0.1:PORT" in the log), nor that no account can log in until
    `hotline demo` or `hotline user add` makes one."""
    started: list[object] = []
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: started.append(a))
    http, sip, outbound = free_port(), free_port(), free_port()
    for name, value in (("DATABASE_URL", sqlite_url), ("DATA_DIR", str(tmp_path / "data")),
                        ("RECORDINGS_DIR", str(tmp_path / "rec")), ("HOST", "0.0.0.0"),
                        ("PORT", str(http)), ("SIP__PORT", str(sip)),
                        ("OUTBOUND__SIP_PORT", str(outbound))):
        monkeypatch.setenv(f"HOTLINE_{name}", value)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli, ["serve"])
        assert CliRunner().invoke(cli, ["user", "add", "li", "--role", "admin"]).exit_code == 0
        second = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0 and len(started) == 2
    assert f"http://127.0.0.1:{http}/console" in first.output
    assert f"sip:12345@127.0.0.1:{sip}" in first.output
    assert "hotline demo" in first.output and "hotline user add" in first.output
    assert f"http://127.0.0.1:{http}/console" in second.output
    assert "hotline demo" not in second.output  # someone can log in now


def test_serve_bounds_how_long_open_requests_hold_up_the_stop(
        sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """review70: uvicorn waited for open requests without end on SIGTERM, and the IVR's
    drain begins only after: one slow export or download held it until Docker's SIGKILL.
    serve gives uvicorn a bound, and the stop's worst case (that bound, then the drain and
    the IVR front end's stop) fits in the compose file's stop_grace_period."""
    import yaml

    given: list[dict[str, object]] = []
    monkeypatch.setattr("hotline.serving.serve_app", lambda *a, **k: given.append(k))
    for name, value in (("DATABASE_URL", sqlite_url), ("DATA_DIR", str(tmp_path / "data")),
                        ("RECORDINGS_DIR", str(tmp_path / "rec")), ("PORT", str(free_port())),
                        ("SIP__PORT", str(free_port())),
                        ("OUTBOUND__SIP_PORT", str(free_port()))):
        monkeypatch.setenv(f"HOTLINE_{name}", value)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert given[0]["timeout_graceful_shutdown"] == HTTP_STOP_SECONDS
    compose = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml")
                             .read_text(encoding="utf-8"))
    grace = int(str(compose["x-hotline"]["stop_grace_period"]).removesuffix("s"))
    front_end_stop = 10  # unregistering, a stuck handler, stop_grace_seconds, the timer
    assert HTTP_STOP_SECONDS + Settings().sip.stop_drain_seconds + front_end_stop <= grace

def test_the_commands_help_gives_the_first_steps_and_where_settings_live() -> None:
    """`hotline --help` said "12345 hotline voice service" and listed commands: nothing of
    the order to run them in, how to get a first login, or where the settings live."""
    result = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert result.exit_code == 0
    for words in ("hotline db upgrade", "hotline demo", "hotline user add NAME --role admin",
                  "hotline serve", "HOTLINE_", "config/hotline.toml", "hotline doctor"):
        assert words in text, words


def test_serve_names_the_username_to_dial_when_no_number_is_set() -> None:
    """review25: a direct-mode IVR with no numbers (the username answers, ``is_our_number``)
    is a working setting; the start-up line read ``numbers[0]`` and serve died of an
    IndexError before answering anything."""
    settings = Settings(sip={"numbers": [], "username": "hotline"})
    lines = where_to_start(settings, PARTS[ServeRole.ALL], users=1)
    assert any(f"sip:hotline@127.0.0.1:{settings.sip.port}" in line for line in lines)


def test_serve_names_the_advertised_address_callers_dial() -> None:
    """A node bound to every address, or behind NAT with sip.advertised_ip set, said
    "callers dial: sip:12345@127.0.0.1" (its bind read as loopback), an address no phone
    elsewhere reaches; the line names what our Contact and SDP name."""
    settings = Settings(sip={"bind_ip": "0.0.0.0", "advertised_ip": "192.0.2.10"})
    lines = where_to_start(settings, PARTS[ServeRole.ALL], users=1)
    assert any(f"sip:12345@192.0.2.10:{settings.sip.port}" in line for line in lines), lines
