"""Where a filing's time goes in the closed loop on SQLite: each request's timeline in the API
processes' filing writer, and what the slowest 5 % waited on.

Runs bench/ticketing.py (``--database sqlite``, its other options as given) with a
``sitecustomize`` that wraps, in every API process, ``GroupCommit.submit`` and ``write`` and
SQLite's writers' turn (``ticketing.db._WriterQueue``), and writes one line a request:

- ``wait_writer``: handed over until its group started (the process's writer busy with the
  group before: one group at a time a process);
- ``prepare``: the group's filings classified in the writer's thread, before BEGIN;
- ``first_try``: a group written again a savepoint each (a filing of it failed): its first,
  plain attempt, from asking for the turn to asking again (0 for the others);
- ``turn_wait``: waiting for the writers' turn (the other process holding it);
- ``turn_held``: BEGIN IMMEDIATE to the commit, the group written;
- ``after``: the answers built after the commit; ``to_loop``: back to the request's task;

then prints their means over all requests, the middle tenth and the slowest 5 %, and per
process (keep-alive pins the bench's connections to the process that accepted them). No
effect on the service without this bench: measurement only.

    .venv/bin/python bench/filing_timeline.py [--clients 50] [--tickets 1500] [--workers N]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = "HOTLINE_BENCH_TIMELINE_DIR"  # where each API process writes its lines
STEPS = ("total", "wait_writer", "prepare", "first_try", "turn_wait", "turn_held", "after",
         "to_loop")


def install(out: Path) -> None:
    """In an API process (from the generated ``sitecustomize``): the wrappers above."""
    from ticketing import db
    from ticketing.group_commit import GroupCommit

    local = threading.local()
    groups: dict[int, dict[str, Any]] = {}
    rows: list[tuple[Any, ...]] = []

    def flush() -> None:
        if rows:
            with (out / f"{os.getpid()}.tsv").open("a") as f:
                f.writelines("\t".join(map(str, row)) + "\n" for row in rows)
            rows.clear()

    atexit.register(flush)
    enter, leave = db._WriterQueue.enter, db._WriterQueue.leave
    write, submit = GroupCommit.write, GroupCommit.submit

    def timed_enter(queue: Any, conn: Any) -> None:
        rec = getattr(local, "rec", None)
        if rec is not None:
            rec["ask"] = time.perf_counter()
            rec.setdefault("first_ask", rec["ask"])  # a group written again asks twice
        enter(queue, conn)
        if rec is not None:
            rec["got"] = time.perf_counter()

    def timed_leave(queue: Any, conn: Any) -> None:
        held = queue._holder is not None and queue._holder == queue._key(conn)
        leave(queue, conn)
        rec = getattr(local, "rec", None)
        if held and rec is not None:
            rec["left"] = time.perf_counter()

    def timed_write(self: Any, items: list[Any]) -> Any:
        rec: dict[str, Any] = {"start": time.perf_counter(), "n": len(items)}
        local.rec = rec
        try:
            return write(self, items)
        finally:
            rec["end"] = time.perf_counter()
            local.rec = None
            for item in items:
                groups[id(item)] = rec

    async def timed_submit(self: Any, item: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await submit(self, item)
        finally:
            t1 = time.perf_counter()
            r = groups.pop(id(item), None)
            if r is not None and "got" in r and "left" in r:
                rows.append((t1 - t0, r["start"] - t0, r["first_ask"] - r["start"],
                             r["ask"] - r["first_ask"], r["got"] - r["ask"],
                             r["left"] - r["got"], r["end"] - r["left"],
                             t1 - r["end"], r["n"]))
                if len(rows) >= 50:
                    flush()

    db._WriterQueue.enter = timed_enter  # type: ignore[method-assign]
    db._WriterQueue.leave = timed_leave  # type: ignore[method-assign]
    GroupCommit.write = timed_write  # type: ignore[method-assign]
    GroupCommit.submit = timed_submit  # type: ignore[method-assign]


def summary(out: Path) -> None:
    rows: list[tuple[list[float], int, str]] = []
    for path in sorted(out.glob("*.tsv")):
        for line in path.read_text().splitlines():
            *times, n = line.split("\t")
            rows.append(([float(t) for t in times], int(n), path.stem))
    if not rows:
        print("timeline: no request recorded")
        return
    rows.sort(key=lambda r: r[0][0])

    def show(label: str, part: list[tuple[list[float], int, str]]) -> None:
        means = " ".join(f"{step}={statistics.mean(r[0][i] for r in part) * 1e3:.1f}"
                         for i, step in enumerate(STEPS))
        print(f"timeline {label} ({len(part)} requests, ms): {means} "
              f"group={statistics.mean(r[1] for r in part):.1f}")

    n = len(rows)
    show("all", rows)
    show("middle tenth", rows[n * 45 // 100:n * 55 // 100])
    show("slowest 5 %", rows[-max(1, n // 20):])
    for pid in sorted({r[2] for r in rows}):
        show(f"process {pid}", [r for r in rows if r[2] == pid])


def run_bounded(cmd: list[str], env: dict[str, str], timeout: float) -> None:
    """``cmd`` run to its end, stopped after ``timeout`` seconds: with the service it
    started, which a kill of ``cmd`` alone would leave serving (its own session, so its
    process group is the run's: bench/ticketing.py and every process it started)."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except BaseException:
        # SIGTERM first (uvicorn stops its workers), then whatever is left of the group.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            time.sleep(2)
        raise
    if rc:
        raise subprocess.CalledProcessError(rc, cmd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--tickets", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=1800,
                    help="seconds before the run is stopped (bench/ticketing.py and its service)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="filing-timeline-") as tmp:
        site, out = Path(tmp) / "site", Path(tmp) / "out"
        site.mkdir()
        out.mkdir()
        (site / "sitecustomize.py").write_text(
            "import os\n"
            f"if os.environ.get({OUT!r}):\n"
            "    try:\n"
            "        import ticketing  # noqa: F401  (the service's checkout only)\n"
            "    except ImportError:\n"
            "        pass\n"
            "    else:\n"
            "        from pathlib import Path\n"
            "        from bench.filing_timeline import install\n"
            f"        install(Path(os.environ[{OUT!r}]))\n")
        env = {**os.environ, OUT: str(out), "PYTHONPATH": os.pathsep.join(
            filter(None, (str(site), str(REPO), os.environ.get("PYTHONPATH"))))}
        cmd = [sys.executable, str(REPO / "bench" / "ticketing.py"), "--database", "sqlite",
               "--clients", str(args.clients), "--tickets", str(args.tickets)]
        if args.workers is not None:
            cmd += ["--workers", str(args.workers)]
        run_bounded(cmd, env, args.timeout)
        summary(out)


if __name__ == "__main__":
    main()
