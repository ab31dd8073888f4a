"""What one PostgreSQL test's own database costs, the server's CPU and ours.

    PYTHONPATH=. python bench/pg_clone.py [--clones 50] [--dir /tmp] [--setting name=value]...

Starts a throwaway cluster as the suite does (tests/support/pgserver.py) in ``--dir`` (by
default where the suite puts it), migrates a template and seeds the demo city into a copy
of it, then clones and drops databases of the city template over and over, the ways
compared taking turns: DatabaseJanitor's (a new connection to clone, another to drop; 15's
default WAL_LOG), one kept connection with WAL_LOG, and one with FILE_COPY (what
``PgServer.create_database`` does), each once with a test's share of work on its clone
(an engine, two connections, a few ORM queries) and once without. The server's CPU is its
whole process tree read from /proc (live processes and the reaped ones); ours, rusage.
Both are per clone, in ms; the /proc scan is in ours (~5 ms a clone), the same for every
way. docs/suite.md, seventeenth round.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_postgresql.janitor import DatabaseJanitor
from sqlalchemy import select, text

from config import Settings
from hotline import dbadmin
from tests.support import pgserver
from tests.support.city import seed_city
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket, User

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_cpu(postmaster: int) -> float:
    ticks = sum(int(x) for x in _stat(postmaster)[11:15])  # own, and reaped children's
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = _stat(int(d))
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICK


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def a_tests_share(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        with make_session_factory(engine)() as s:
            s.scalars(select(User)).all()
            s.scalars(select(Ticket).limit(5)).all()
        with engine.connect() as second:
            second.execute(select(User.id)).all()
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clones", type=int, default=50, help="per way (default 50)")
    ap.add_argument("--dir", help="where the cluster lives (default: the suite's choice)")
    ap.add_argument("--setting", action="append", default=[],
                    help="a server setting for the cluster, name=value (repeatable)")
    args = ap.parse_args()

    if args.dir:
        pgserver._scratch_dir = lambda: args.dir  # type: ignore[assignment]
    if args.setting:
        run = pgserver.subprocess.run

        def with_settings(cmd: list[str], **kw: object) -> object:
            if "-o" in cmd:
                cmd = list(cmd)
                cmd[cmd.index("-o") + 1] += "".join(f" -c {s}" for s in args.setting)
            return run(cmd, **kw)

        pgserver.subprocess.run = with_settings  # type: ignore[assignment]

    with pgserver.running_pg_server() as srv, tempfile.TemporaryDirectory() as tmp:
        postmaster = int((srv.data / "postmaster.pid").read_text().split()[0])
        srv.create_database("tpl", is_template=True)
        dbadmin.upgrade(srv.url("tpl"))
        srv.create_database("city", "tpl", is_template=True)
        engine = make_engine(srv.url("city"))
        seed_city(make_session_factory(engine),
                  Domain.load(Settings(database_url=srv.url("city"), data_dir=Path(tmp))))
        engine.dispose()
        admin = srv._maintenance()
        version = admin.execute("SHOW server_version").fetchone()
        size = admin.execute("SELECT pg_size_pretty(pg_database_size('city'))").fetchone()
        print(f"cluster in {srv.data.parent.parent}, PostgreSQL {version and version[0]}, "
              f"city template {size and size[0]}, "
              f"settings {args.setting or 'as the suite sets them'}")

        def janitor(share: bool) -> None:
            name = f"t_{uuid.uuid4().hex[:12]}"
            j = DatabaseJanitor(user=srv.user, host=srv.host, port=srv.port, dbname=name,
                                template_dbname="city")
            j.init()
            if share:
                a_tests_share(srv.url(name))
            j.drop()

        def kept(strategy: str) -> Callable[[bool], None]:
            def clone(share: bool) -> None:
                name = f"t_{uuid.uuid4().hex[:12]}"
                admin.execute(f'CREATE DATABASE "{name}" TEMPLATE city STRATEGY {strategy}')
                if share:
                    a_tests_share(srv.url(name))
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            return clone

        ways: dict[str, Callable[[bool], None]] = {
            "janitor, WAL_LOG": janitor, "kept connection, WAL_LOG": kept("WAL_LOG"),
            "kept connection, FILE_COPY": kept("FILE_COPY")}
        spent = {(w, share): [0.0, 0.0, 0.0] for w in ways for share in (True, False)}
        for way in ways.values():  # warm-up
            way(True)
        for _ in range(args.clones):
            for (name, share), acc in spent.items():
                before = (server_cpu(postmaster), own_cpu(), time.monotonic())
                ways[name](share)
                after = (server_cpu(postmaster), own_cpu(), time.monotonic())
                for i in range(3):
                    acc[i] += after[i] - before[i]
        n = args.clones
        print(f"{'ms per clone':42s} {'server':>7s} {'ours':>6s} {'wall':>6s}")
        for (name, share), (server, ours, wall) in spent.items():
            what = f"{name}{', a test’s share' if share else ', clone and drop'}"
            print(f"{what:42s} {1000 * server / n:7.1f} {1000 * ours / n:6.1f} "
                  f"{1000 * wall / n:6.1f}")


if __name__ == "__main__":
    main()
