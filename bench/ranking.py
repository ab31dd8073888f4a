"""红黑榜 timing: the per-unit computation it replaced (figures() once per unit) against
the grouped query (analytics.ranking), on a database bench/simulate_month.py filled.

    .venv/bin/python bench/simulate_month.py --data-dir /tmp/month
    .venv/bin/python bench/ranking.py --db sqlite:////tmp/month/hotline.db --month 2026-11

Checks that both give the same order, scores and rates, then prints the best of
``--repeat`` runs of each, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

# Run as a script: the repository, not bench/ (bench/ticketing.py would shadow the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from config import Settings
from ticketing import analytics
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket, Unit
from ticketing.points import period_bounds
from ticketing.reports import figures
from ticketing.states import Role


def per_unit(session, actor: Actor, month: str, domain: Domain, now) -> list[tuple]:  # type: ignore[no-untyped-def]
    """The ranking as it was computed before: figures() for each unit in turn."""
    since, until = period_bounds(month, domain.tz)
    unit_ids = list(session.scalars(
        select(Ticket.unit_id).where(Ticket.unit_id.is_not(None), Ticket.received_at >= since,
                                     Ticket.received_at < until).group_by(Ticket.unit_id)))
    rows = []
    for unit in session.scalars(select(Unit).where(Unit.id.in_(unit_ids))):
        exact = Actor(id=None, name=unit.code, role=Role.HANDLER, unit_id=unit.id)
        f = figures(session=session, actor=exact, now=now, since=since, until=until,
                    utility_window=domain.utility_window)
        rows.append((unit.code, f.tickets, analytics.composite(f),
                     tuple(getattr(f, k) for k in analytics.RANKED_RATES)))
    return sorted(rows)


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(min(times) * 1000, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--month", default="2026-11")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    domain = Domain.load(Settings(database_url=args.db))
    now = period_bounds(args.month, domain.tz)[1] + timedelta(hours=1, minutes=30)
    sessions = make_session_factory(make_engine(args.db))
    city = Actor.system("bench")
    with sessions() as s:
        def grouped() -> analytics.Ranking:
            return analytics.ranking(session=s, actor=city, period=args.month, tz=domain.tz,
                                     now=now)

        r = grouped()
        after = sorted((u.code, u.figures.tickets, u.score,
                        tuple(getattr(u.figures, k) for k in analytics.RANKED_RATES))
                       for u in r.units)
        before = per_unit(s, city, args.month, domain, now)
        if before != after:
            raise SystemExit(f"results differ:\n{before}\n{after}")
        print(json.dumps({
            "database": args.db.split("@")[-1], "month": args.month, "units": len(r.units),
            "tickets": sum(u.figures.tickets for u in r.units), "same_results": True,
            "per_unit_figures_ms": best_ms(
                lambda: per_unit(s, city, args.month, domain, now), args.repeat),
            "grouped_ranking_ms": best_ms(grouped, args.repeat),
        }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
