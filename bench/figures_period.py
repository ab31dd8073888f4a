"""CPU per figures() call for one month of a large SQLite database (reports.loop_counts'
'missed' subquery reads the events of the tickets the figures are about, not every
ticket's dispatch event).

    .venv/bin/python bench/figures_period.py --db /tmp/figs.db --build     # once, ~1-2 min
    .venv/bin/python bench/figures_period.py --db /tmp/figs.db --runs 5

The database: ``--units`` units under two districts, ``--tickets`` tickets spread evenly
over ten months (2026-02..11), each with its filing, dispatch, sign, reply and close events
(five per ticket); one in fifty 改派'd within its unit with its sign window missed, one in
a hundred 驳回重办'd late, one in a hundred dispatched back to a unit it left late. No
utilities (水电气暖): before migration 0019, reports.utility_dispatch's first-dispatch
subquery walked the (action, at) index for each utility ticket on SQLite (~150 ms each
here), which drowned the figure this bench is about (tests/ticketing/test_figures_scale.py
now keeps that look-up per ticket).

Prints, for the city (system) and for one district's supervisor, the figures of
2026-11 (a digest, to compare code before and after a change), the median and best CPU
milliseconds per figures() call over ``--runs`` calls, the median of loop_counts' query
alone, and ``uptime``. ``BENCH_REPO=DIR`` runs the
code of another checkout (before/after, back to back) on the same database.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run as a script: the repository, not bench/ (bench/ticketing.py would shadow the package).
sys.path[0] = os.environ.get("BENCH_REPO") or str(Path(__file__).resolve().parents[1])

from sqlalchemy import insert, select  # noqa: E402

from ticketing.actors import Actor  # noqa: E402
from ticketing.db import make_engine, make_session_factory  # noqa: E402
from ticketing.models import Base, Ticket, TicketEvent, Unit  # noqa: E402
from ticketing.queries import scope_filter  # noqa: E402
from ticketing.reports import figures, loop_counts  # noqa: E402
from ticketing.states import Action, Role, Status  # noqa: E402

START = datetime(2026, 2, 1, tzinfo=UTC)
MONTH = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
NOW = datetime(2026, 12, 1, 2, tzinfo=UTC)


def build(db: str, n_units: int, n_tickets: int) -> None:
    engine = make_engine(f"sqlite:///{db}")
    Base.metadata.create_all(engine)
    rnd = random.Random(20)
    span = (MONTH[1] - START).total_seconds()
    with make_session_factory(engine)() as s:
        s.execute(insert(Unit), [
            {"id": 1, "code": "d1", "name": "一区", "kind": "district", "path": "/1/"},
            {"id": 2, "code": "d2", "name": "二区", "kind": "district", "path": "/2/"},
            *({"id": i, "code": f"u{i}", "name": f"单位{i}", "parent_id": 1 + i % 2,
               "path": f"/{1 + i % 2}/{i}/"} for i in range(3, n_units + 3))])
        batch = 20_000
        for first in range(1, n_tickets + 1, batch):
            tickets, events = [], []
            for tid in range(first, min(first + batch, n_tickets + 1)):
                received = START + timedelta(seconds=span * (tid - 1) / n_tickets)
                unit = 3 + rnd.randrange(n_units)
                dispatched = received + timedelta(minutes=rnd.randint(2, 30))
                sign_due = dispatched + timedelta(hours=2)
                signed = dispatched + timedelta(minutes=rnd.choice([10, 30, 90, 180]))
                due = received + timedelta(days=5)
                replied = received + timedelta(days=rnd.choice([1, 3, 4, 6]))
                closed = replied + timedelta(hours=5)
                open_ = closed > NOW or rnd.random() < 0.1
                tickets.append({
                    "id": tid, "number": f"B{tid:09d}", "channel": "phone",
                    "category": rnd.choice(["road", "noise", "other"]),
                    "status": Status.SIGNED.value if open_ else Status.CLOSED.value,
                    "unit_id": unit, "received_at": received, "accepted_at": received,
                    "dispatched_at": dispatched, "sign_due_at": sign_due, "signed_at": signed,
                    "replied_at": None if open_ else replied, "due_at": due,
                    "closed_at": None if open_ else closed, "reply_outcome":
                    None if open_ else "resolved", "created_at": received,
                    "updated_at": received})

                def ev(action: Action, at: datetime, data: dict | None = None,
                       tid: int = tid, events: list[dict] = events) -> None:
                    events.append({"ticket_id": tid, "at": at, "actor_name": "bench",
                                   "role": "operator", "action": action.value, "data": data})

                ev(Action.ACCEPT, received)
                ev(Action.DISPATCH, dispatched,
                   {"unit": f"u{unit}", "rule": "r1",
                    **({"late_sign": True} if tid % 100 == 7 else {})})
                if tid % 50 == 3:
                    ev(Action.REASSIGN, dispatched + timedelta(hours=3),
                       {"unit": f"u{unit}", "late_sign": True})
                if tid % 100 == 11:
                    ev(Action.REJECT, replied, {"late_reply": True, "late_close": True})
                ev(Action.SIGN, signed)
                if not open_:
                    ev(Action.REPLY, replied)
                    ev(Action.CLOSE, closed)
            s.execute(insert(Ticket), tickets)
            s.execute(insert(TicketEvent), events)
        s.commit()


def cpu_ms(call: object, runs: int) -> tuple[float, float]:
    spent = []
    for _ in range(runs):
        started = time.process_time()
        call()  # type: ignore[operator]
        spent.append((time.process_time() - started) * 1000)
    return round(statistics.median(spent), 1), round(min(spent), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="SQLite file")
    ap.add_argument("--build", action="store_true", help="make the database first")
    ap.add_argument("--units", type=int, default=60)
    ap.add_argument("--tickets", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if args.build:
        if Path(args.db).exists():
            raise SystemExit(f"{args.db} exists")
        build(args.db, args.units, args.tickets)
    sessions = make_session_factory(make_engine(f"sqlite:///{args.db}"))
    out: dict[str, object] = {"code": sys.path[0]}
    with sessions() as s:
        district = s.scalars(select(Unit).where(Unit.code == "d1")).one()
        for name, actor in (("city", Actor.system("bench")),
                            ("district", Actor(id=None, name="sup", role=Role.SUPERVISOR,
                                               unit_id=district.id,
                                               unit_path=district.path))):
            def call(actor: Actor = actor) -> object:
                return figures(session=s, actor=actor, now=NOW, since=MONTH[0],
                               until=MONTH[1], utility_window=timedelta(minutes=10))

            def loop(actor: Actor = actor) -> object:  # figures' grouped query alone
                return loop_counts(session=s, now=NOW, conds=[
                    scope_filter(actor), Ticket.received_at >= MONTH[0],
                    Ticket.received_at < MONTH[1]])

            f = call().as_dict()  # type: ignore[attr-defined]
            digest = hashlib.sha256(json.dumps(f, sort_keys=True).encode()).hexdigest()[:12]
            median, best = cpu_ms(call, args.runs)
            out[name] = {"tickets": f["tickets"], "signed_in_time": f["signed_in_time"],
                         "closed_on_time": f["closed_on_time"], "digest": digest,
                         "cpu_ms_median": median, "cpu_ms_best": best,
                         "loop_counts_cpu_ms_median": cpu_ms(loop, args.runs)[0]}
    out["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
