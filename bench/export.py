"""CSV export: rows per second and the memory it holds, SQLite and/or PostgreSQL.

Migrates a throwaway database, bulk-inserts N dispatched-looking tickets, then drains
``ticketing.reports.export_csv`` (what GET /api/v1/export.csv and `hotline export` send)
and prints rows/s, the file size and the peak Python allocation while exporting (tracemalloc):
a streamed export holds about one batch, whatever N is.

    .venv/bin/python bench/export.py [--tickets 50000] [--database both]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import insert  # noqa: E402

from hotline import dbadmin  # noqa: E402
from tests.support.pgserver import running_pg_server  # noqa: E402
from ticketing.actors import Actor  # noqa: E402
from ticketing.db import make_engine, make_session_factory  # noqa: E402
from ticketing.models import Ticket  # noqa: E402
from ticketing.reports import export_csv  # noqa: E402

DEMAND = "朝阳区望京西园三区5号楼停水了，一直没来水，已经两天了，家里老人孩子都没法生活"


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as d:
            yield f"sqlite:///{d}/bench.db"
    else:
        with running_pg_server() as server:
            yield server.url("postgres")


def run(url: str, n: int) -> None:
    dbadmin.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with sessions() as s:
        for lo in range(0, n, 5000):
            s.execute(insert(Ticket), [
                {"number": f"B{i:09d}", "channel": "api", "caller_phone": "+8613811112222",
                 "caller_name": "李女士", "category": "water", "demand": DEMAND,
                 "address": "朝阳区望京西园三区5号楼", "district": "朝阳区",
                 "status": "dispatched", "received_at": start + timedelta(seconds=i),
                 "created_at": start, "updated_at": start, "version": 1}
                for i in range(lo, min(n, lo + 5000))])
        s.commit()
    tracemalloc.start()
    t0 = time.perf_counter()
    size = rows = 0
    for chunk in export_csv(sessions=sessions, actor=Actor.system("bench"), tz=UTC,
                            now=datetime.now(UTC)):
        size += len(chunk.encode("utf-8"))
        rows += chunk.count("\r\n")
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine.dispose()
    print(f"{url.split(':')[0]:<22} rows {rows - 1:>7}  {(rows - 1) / elapsed:8.0f} rows/s  "
          f"file {size / 1e6:6.1f} MB  peak Python memory while exporting {peak / 1e6:5.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=50000)
    ap.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        with database(kind) as url:
            run(url, args.tickets)


if __name__ == "__main__":
    main()
