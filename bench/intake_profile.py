"""Where one ticket's milliseconds go: the bench's POST /api/v1/tickets in process.

Builds the API app (no server, no sockets) on a fresh SQLite file and/or a throwaway
PostgreSQL with the demo city, files ``--tickets`` tickets one after another through
httpx's ASGI transport, and prints SQL statements per ticket (an engine listener counts
them, by kind), wall and CPU milliseconds per ticket, and with ``--profile`` the top
functions of a cProfile (CPU time) of the measured tickets, with ``--breakdown`` the CPU per
ticket of each step of the request (bench/intake_breakdown.py). Thread-pool hops are run inline
here so that one profiler sees the whole request (framework, endpoint, ORM, driver); what
uvicorn adds (HTTP parsing, the thread pool) is the difference to bench/ticketing.py.

    .venv/bin/python bench/intake_profile.py [--tickets 300] [--database both] [--profile]
                                             [--breakdown] [--texts data/intake/train.tsv]

With ``--texts``, the demands are not the bench's six short complaints (~20 characters) but
texts of the given TSV files (first column) joined one after another up to a length drawn
between 20 and 300 characters (a seeded draw: the same demands every run), as callers'
complaints run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import anyio.to_thread  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bench.intake_breakdown import Breakdown  # noqa: E402
from bench.intake_identity import texts  # noqa: E402
from bench.ticketing import COMPLAINTS  # noqa: E402
from config import Settings  # noqa: E402
from hotline import dbadmin  # noqa: E402
from hotline.app import create_app  # noqa: E402
from hotline.demo import seed  # noqa: E402
from tests.support.pgserver import running_pg_server  # noqa: E402


async def _inline(func: Callable[..., Any], *args: Any, **_options: Any) -> Any:
    return func(*args)


def demands_of(paths: list[Path], count: int, shortest: int = 20, longest: int = 300,
               seed: int = 43) -> list[str]:
    """``count`` demands of ``shortest``-``longest`` characters made of the texts of ``paths``
    (consecutive texts joined, in a seeded random order), the length of each drawn evenly."""
    pool = [t for t in texts(paths) if t.strip()]
    rng = random.Random(seed)
    rng.shuffle(pool)
    out: list[str] = []
    i = 0
    while len(out) < count:
        want = rng.randint(shortest, longest)
        demand = ""
        while len(demand) < want:
            demand += pool[i % len(pool)]
            i += 1
        out.append(demand[:longest])
    return out


def run(name: str, url: str, work: Path, tickets: int, profile: bool,
        save: Path | None = None, breakdown: bool = False,
        demands: list[str] = COMPLAINTS) -> None:
    dbadmin.upgrade(url)
    app = create_app(Settings(database_url=url, data_dir=work))
    with app.state.sessions() as s:
        token = seed(session=s, domain=app.state.domain, samples=False).tokens["operator"]
        s.commit()
    kinds: Counter[str] = Counter()

    @event.listens_for(app.state.engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        kinds[statement.split(None, 1)[0].upper()] += 1

    # How long each transaction is open (on SQLite a writer's holds the write lock).
    held = [0.0]
    opened: dict[int, float] = {}

    @event.listens_for(app.state.engine, "begin")
    def _opened(conn: Any) -> None:
        opened[id(conn)] = time.perf_counter()

    @event.listens_for(app.state.engine, "commit")
    @event.listens_for(app.state.engine, "rollback")
    def _closed(conn: Any) -> None:
        if (t0 := opened.pop(id(conn), None)) is not None:
            held[0] += time.perf_counter() - t0

    headers = {"Authorization": f"Bearer {token}"}
    # Timed in CPU seconds: on a machine shared with other work, wall time would charge each
    # function for the moments the process waited for a core.
    prof = cProfile.Profile(time.process_time) if profile else None
    steps = Breakdown() if breakdown else None
    wall = cpu = in_tx = 0.0

    async def drive() -> None:
        nonlocal wall, cpu, in_tx
        transport = httpx.ASGITransport(app=steps.app_middleware(app) if steps else app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            async def post(i: int) -> None:
                r = await client.post("/api/v1/tickets", headers=headers, json={
                    "caller_phone": f"139{i:08d}", "demand": demands[i % len(demands)]})
                assert r.status_code == 201 and r.json()["status"] != "draft", r.text

            for i in range(50):  # warm: caches, pool, the day's counter row
                await post(i)
            kinds.clear()
            held[0] = 0.0
            if steps:
                steps.install()
            w0, c0 = time.perf_counter(), time.process_time()
            if prof:
                prof.enable()
            for i in range(50, 50 + tickets):
                await post(i)
            if prof:
                prof.disable()
            wall = (time.perf_counter() - w0) / tickets * 1000
            in_tx = held[0] / tickets * 1000
            cpu = (time.process_time() - c0) / tickets * 1000
            if steps:
                steps.uninstall()
                steps.total = cpu * tickets / 1000

    asyncio.run(drive())
    per = {k: round(v / tickets, 2) for k, v in sorted(kinds.items())}
    print(f"{name:10s} tickets={tickets} statements/ticket={sum(kinds.values()) / tickets:.2f} "
          f"{per} wall={wall:.2f}ms cpu={cpu:.2f}ms in_transaction={in_tx:.2f}ms "
          "(in process, client included)", flush=True)
    if steps:
        print(steps.report(tickets), flush=True)
    if prof:
        if save:
            save.mkdir(parents=True, exist_ok=True)
            prof.dump_stats(save / f"{name}.prof")
        stats = pstats.Stats(prof)
        # A count, not a time: it does not move with the machine's load.
        print(f"{name:10s} python function calls/ticket={stats.total_calls / tickets:.0f}",  # type: ignore[attr-defined]
              flush=True)
        print(f"{name:10s} own CPU by package (profiled): {by_package(stats)}", flush=True)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


def by_package(stats: pstats.Stats, top: int = 12) -> str:
    """Shares of the profiled CPU by where the code lives (each function's own time): an
    installed package by name, this checkout's modules by file, the rest as builtins."""
    own: Counter[str] = Counter()
    for (path, _line, _func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in path:
            where = path.split("site-packages/")[1].split("/")[0]
        elif path.startswith(str(REPO)):
            where = str(Path(path).relative_to(REPO))
        else:
            where = "builtins/stdlib"
        own[where] += tottime
    total = sum(own.values()) or 1.0
    return ", ".join(f"{where} {t / total:.0%}" for where, t in own.most_common(top))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=300)
    ap.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--save", type=Path, help="with --profile: write the stats here "
                    "(NAME.prof per database) for pstats/snakeviz")
    ap.add_argument("--breakdown", action="store_true",
                    help="CPU per ticket of each step of the request (own time of each)")
    ap.add_argument("--texts", type=Path, nargs="+",
                    help="TSV files whose texts, joined to 20-300 characters, are the demands")
    args = ap.parse_args()
    demands = demands_of(args.texts, 50 + args.tickets) if args.texts else COMPLAINTS
    # One thread: the profiler sees the endpoint, and no pool hop adds to the figures. Every
    # hop (FastAPI's for plain functions, the intake's own turns) goes through this call.
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.database in ("sqlite", "both"):
            run("sqlite", f"sqlite:///{work / 'p.db'}", work, args.tickets, args.profile,
                args.save, args.breakdown, demands)
        if args.database in ("postgresql", "both"):
            with running_pg_server() as pg:
                import psycopg

                with psycopg.connect(host=pg.host, port=pg.port, user=pg.user,
                                     dbname="postgres", autocommit=True) as conn:
                    conn.execute("CREATE DATABASE prof")
                run("postgresql", pg.url("prof"), work, args.tickets, args.profile,
                    args.save, args.breakdown, demands)


if __name__ == "__main__":
    main()
