"""The CPU the API's filing writer spends inside SQLite's writers' turn, a ticket, in process.

Issue 16's closed loop on SQLite waits for the writers' turn (``ticketing.db._WriterQueue``:
BEGIN IMMEDIATE to the commit; docs/scaling.md, twenty-sixth round), so the work inside it
is the figure to cut. This files the bench's complaints (bench/ticketing.py's, a new caller
each) in groups of ``--size`` through the API's group writer (``views.filing_group``), each
classified beforehand as the writer's thread does before its BEGIN, on a fresh SQLite file
with the demo city, and prints per ticket: the thread CPU while the turn was held
(``turn_cpu``), its wall time (``turn_wall``: on a shared machine, waits for a core too) and
the writer's whole CPU (``write_cpu``: the turn and what is built after the commit), and the
SQL statements a ticket (``statements``, BEGIN and COMMIT included: BEGIN is a statement,
COMMIT the DBAPI's ``commit()``, counted by its own event; before review66 it was not, and
the twenty-seventh round's figures are without it). CPU
time, not wall, yet on a host whose cores other work keeps busy it still varied by a third
from run to run (twenty-seventh round, load 20-29): alternate commits several times, and
trust the statement count, which does not vary. No HTTP, no event loop: bench/ticketing.py
measures those.

    .venv/bin/python bench/writer_turn.py [--groups 60] [--size 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ticketing import COMPLAINTS  # noqa: E402
from config import Settings  # noqa: E402
from hotline import dbadmin  # noqa: E402
from hotline.demo import seed  # noqa: E402
from ticketing import db, service, views  # noqa: E402
from ticketing.context import Domain  # noqa: E402
from ticketing.db import make_engine, make_session_factory  # noqa: E402
from ticketing.schemas import TicketCreate  # noqa: E402
from ticketing.views import Filing  # noqa: E402


class TurnClock:
    """Wraps ``_WriterQueue`` so that each turn's wall and holding thread's CPU add up."""

    def __init__(self) -> None:
        self.cpu = self.wall = 0.0
        self.turns = 0
        enter, leave = db._WriterQueue.enter, db._WriterQueue.leave
        started: dict[int, tuple[float, float]] = {}
        clock = self

        def timed_enter(queue: Any, conn: Any) -> None:
            enter(queue, conn)
            started[id(queue)] = (time.perf_counter(), time.thread_time())

        def timed_leave(queue: Any, conn: Any) -> None:
            holding = queue._holder is not None and queue._holder == queue._key(conn)
            leave(queue, conn)
            if holding and (t0 := started.pop(id(queue), None)) is not None:
                clock.turns += 1
                clock.wall += time.perf_counter() - t0[0]
                clock.cpu += time.thread_time() - t0[1]

        db._WriterQueue.enter = timed_enter  # type: ignore[method-assign]
        db._WriterQueue.leave = timed_leave  # type: ignore[method-assign]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--groups", type=int, default=60, help="groups measured (after 5 warm)")
    ap.add_argument("--size", type=int, default=10,
                    help="filings a group (the closed loop's: ~10, twenty-sixth round)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="writer-turn-"))
    url = f"sqlite:///{work}/hotline.db"
    dbadmin.upgrade(url)
    domain = Domain.load(Settings(database_url=url, data_dir=work))
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as s:
        token = seed(session=s, domain=domain, samples=False).tokens["operator"]
        s.commit()
    understood = {d: service.understand_demand(domain=domain, demand=d) for d in COMPLAINTS}

    def filing(i: int) -> Filing:
        demand = COMPLAINTS[i % len(COMPLAINTS)]
        return Filing(body=TicketCreate(caller_phone=f"139{i:08d}", demand=demand),
                      token=token, domain=domain, key=None, classified=True,
                      understood=understood[demand])

    writer = views.filing_group(sessions)
    clock = TurnClock()
    statements = [0]

    @event.listens_for(engine, "before_cursor_execute")
    @event.listens_for(engine, "commit")  # the DBAPI's commit: no cursor statement (review66)
    def _count(*_: Any) -> None:
        statements[0] += 1

    n = 0

    def group() -> None:
        nonlocal n
        outcomes = writer.write([filing(n + k) for k in range(args.size)])
        n += args.size
        failed = [o for o in outcomes if isinstance(o, Exception)]
        assert not failed, failed

    for _ in range(5):  # warm: caches, the day's counter row
        group()
    clock.cpu = clock.wall = 0.0
    clock.turns = statements[0] = 0
    t0 = time.thread_time()
    for _ in range(args.groups):
        group()
    tickets = args.groups * args.size
    print(f"writer: {tickets} tickets in {clock.turns} turns: "
          f"turn_cpu={clock.cpu / tickets * 1e3:.3f} ms/ticket "
          f"turn_wall={clock.wall / tickets * 1e3:.3f} ms/ticket "
          f"write_cpu={(time.thread_time() - t0) / tickets * 1e3:.3f} ms/ticket "
          f"statements={statements[0] / tickets:.2f}/ticket")


if __name__ == "__main__":
    main()
