"""Where the running service's CPU goes under load: py-spy over every API worker.

bench/intake_profile.py profiles one request in process (no uvicorn, thread hops inline);
the closed loop (bench/ticketing.py) costs the service more per ticket than that. This
starts the real `hotline serve --role api` as bench/ticketing.py does, files ``--warm``
tickets, then samples each worker with py-spy while ``--clients`` clients file ``--tickets``
more, and prints:

- each worker thread kind's CPU per ticket, user and system, and its context switches per
  ticket, read from ``/proc/<pid>/task`` before and after (the kernel's accounting: what
  holds on a shared machine; the samples below are shares of wall time);
- the samples' shares by step: the ticket's own (classification, the transaction,
  create/accept/dispatch, commit, the answer) and the event loop's (HTTP
  parsing, routing and middleware, FastAPI's dependencies, the thread hop, serialising and
  writing the answer, the access log), and by package of the innermost frame (SQLAlchemy,
  the driver);
- with ``--perf`` (Linux ``perf`` installed, run as root or with perf_event_paranoid <= 1):
  the kernel's and each library's share of the CPU, which py-spy does not see (context
  switches, socket writes, sqlite3 with the GIL released).

``--gil`` (the default) samples only the thread holding the GIL: Python running. A sample is
wall time, not CPU: a thread that holds the GIL while the kernel runs something else (on a
loaded machine, just after it woke another thread) still counts, so compare shares between
runs of one sitting and read the CPU from the /proc lines. ``--all-threads`` samples every
thread py-spy sees as running instead (threads waiting for a lock can count as running).

Needs py-spy, which is not a dependency of the project (``pip install py-spy`` into the venv,
found beside its python; or ``--py-spy PATH``).

    .venv/bin/python bench/service_profile.py [--database sqlite|postgresql] [--clients 50]
        [--tickets 2500] [--seconds 20] [--py-spy PATH] [--top 25] [--perf] [--all-threads]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ticketing import api_workers, load, report, start_service, tree_cpu  # noqa: E402
from tests.support.pgserver import free_port, running_pg_server  # noqa: E402

# Where a frame's file lives says whose code it is; the prefixes are dropped when shown.
_PREFIX = re.compile(r" \((?:.*?site-packages/|/usr/lib/python3\.\d+/|" + re.escape(str(REPO))
                     + r"/)")
_LINE = re.compile(r":\d+\)$")
# The ticket's steps, by the first frame that names them (in this order), anywhere in a
# stack that is inside the endpoint's work: classifying (views.understood_filing), then the
# transaction (a group's on SQLite, ticketing.group_commit; its own, views._file_alone).
TICKET_STEPS = (
    ("ticket: classification (understand_demand)", "understand_demand"),
    ("ticket: token gate (known_token)", "known_token"),
    ("ticket: commit", "Session.commit"),
    # The answer's values read in the transaction; its model built after the commit
    # (twenty-seventh round), outside the transaction's frames below.
    ("ticket: the answer's values (filed_values)", "filed_values"),
    ("ticket: the answer built after the commit (filed_response)", "filed_response"),
    ("ticket: create, accept, dispatch (create_once)", "create_once"),
    ("ticket: actor (authenticated)", "authenticated"),
    ("ticket: transaction begin, savepoints, close", "_file_alone"),
    ("ticket: transaction begin, savepoints, close", "group_commit.py"),
    ("ticket: other", "understood_filing"),
)
# The event loop's steps, by the first frame that names them (in this order).
LOOP_STEPS = (
    ("loop: HTTP parsing (uvicorn, httptools)", "HttpToolsProtocol.data_received"),
    ("loop: access log", "Logger.info"),
    ("loop: answer written (uvicorn send)", "RequestResponseCycle.send"),
    ("loop: hand-off to a worker thread (anyio)", "run_sync_in_worker_thread"),
    ("loop: dependencies and body (FastAPI)", "solve_dependencies"),
    ("loop: answer serialised (FastAPI, pydantic)", "serialize_response"),
    ("loop: routing and middleware", "RequestResponseCycle.run_asgi"),
)
# Packages whose own time is the database's client side.
SQL_PACKAGES = ("sqlalchemy", "psycopg", "sqlite3")


def _frame(raw: str) -> str:
    return _LINE.sub(")", _PREFIX.sub(" (", raw))


def _package(frame: str) -> str:
    """The top-level package (or standard-library module) of a shown frame."""
    where = frame.rpartition(" (")[2].rstrip(")")
    if where.startswith("<sqlalchemy"):  # SQLAlchemy's generated wrappers
        return "sqlalchemy"
    return where.split("/")[0].removesuffix(".py") or "?"


def _step(stack: str, main: bool) -> str:
    if any(marker in stack for _, marker in TICKET_STEPS[-3:]):
        return next(name for name, marker in TICKET_STEPS if marker in stack)
    if main:
        return next((name for name, marker in LOOP_STEPS if marker in stack),
                    "loop: other (uvloop, asyncio)")
    return "threads: outside the ticket (anyio's worker loop, the pool)"


def summarise(files: list[Path], top: int, ms_per_ticket: float | None = None) -> None:
    total = 0
    threads: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    sql_by_step: Counter[tuple[str, str]] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for path in files:
        broken = ""
        for piece in path.read_text(errors="replace").splitlines():
            # A stack broken over lines (py-spy 0.4 writes a name with a newline in it as
            # it is) is read whole: the sample's count ends its last piece.
            line, broken = broken + piece, ""
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                broken = line + " "
                continue
            n = int(count)
            total += n
            thread, *frames = stack.split(";")
            main = "MainThread" in thread
            threads["event loop (MainThread)" if main else "worker threads"] += n
            step = _step(stack, main)
            steps[step] += n
            names = [_frame(f) for f in frames]
            for name in set(names):
                inclusive[name] += n
            if names:
                own[names[-1]] += n
                package = _package(names[-1])
                packages[package] += n
                if package in SQL_PACKAGES:
                    sql_by_step[(step, package)] += n
    if not total:
        print("no samples")
        return

    def share(n: int) -> str:
        # The samples' shares applied to the CPU per ticket: a rough scale, not a measure.
        scaled = f" ~{n / total * ms_per_ticket:4.2f} ms" if ms_per_ticket else ""
        return f"{n / total:6.1%}{scaled}"

    print(f"\n{total} samples, all workers")
    for name, n in threads.most_common():
        print(f"  {share(n)}  {name}")
    print("by step:")
    for name, n in sorted(steps.items()):
        print(f"  {share(n)}  {name}")
    print("own samples by package (innermost frame):")
    for name, n in packages.most_common(12):
        print(f"  {share(n)}  {name}")
    print("SQLAlchemy and the driver, by step:")
    for (step, package), n in sql_by_step.most_common(8):
        print(f"  {share(n)}  {package} in {step}")
    print(f"top {top} functions, own samples:")
    for name, n in own.most_common(top):
        print(f"  {share(n)}  {name[:110]}")
    print(f"top {top} functions of this project, inclusive:")
    ours = [(k, v) for k, v in inclusive.most_common()
            if any(f"({p}/" in k for p in ("ticketing", "hotline", "knowledge"))]
    for name, n in ours[:top]:
        print(f"  {share(n)}  {name[:110]}")


@dataclass(frozen=True)
class ThreadTimes:
    """One thread's counters from /proc: CPU seconds (user, system), context switches."""

    name: str
    user: float
    system: float
    voluntary: int
    involuntary: int


def thread_times(pids: list[int]) -> dict[tuple[int, int], ThreadTimes]:
    """(pid, tid) -> the thread's counters so far, for every thread of ``pids``."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
                status = (task / "status").read_text()
            except OSError:  # the thread ended in between
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            switches = {k: int(v) for k, _, v in
                        (line.partition(":") for line in status.splitlines()
                         if "ctxt_switches" in line)}
            found[(pid, int(task.name))] = ThreadTimes(
                stat[stat.index("(") + 1:stat.rindex(")")], int(fields[11]) / tick,
                int(fields[12]) / tick, switches["voluntary_ctxt_switches"],
                switches["nonvoluntary_ctxt_switches"])
    return found


def print_thread_times(before: dict[tuple[int, int], ThreadTimes],
                       after: dict[tuple[int, int], ThreadTimes], tickets: int) -> None:
    """Per ticket, the event loop's thread (a worker process's main thread) and the rest."""
    sums: dict[str, list[float]] = {}
    for key, now in after.items():
        then = before.get(key, ThreadTimes(now.name, 0.0, 0.0, 0, 0))
        kind = "event loop" if key[0] == key[1] else "other threads"
        acc = sums.setdefault(kind, [0.0, 0.0, 0.0, 0.0])
        acc[0] += now.user - then.user
        acc[1] += now.system - then.system
        acc[2] += now.voluntary - then.voluntary
        acc[3] += now.involuntary - then.involuntary
    n = max(1, tickets)
    print("CPU per ticket by thread (/proc), and context switches per ticket:")
    for kind, (user, system, vol, invol) in sorted(sums.items()):
        print(f"  {kind:13s} user {user / n * 1000:5.2f} ms  system {system / n * 1000:5.2f} ms"
              f"  switches {vol / n:5.1f} voluntary, {invol / n:5.1f} involuntary")


def print_perf(data: Path) -> None:
    for sort in ("dso", "dso,sym"):
        out = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", sort,
                              "--stdio", "-g", "none"], capture_output=True, text=True)
        lines = [line for line in out.stdout.splitlines() if "%" in line and
                 not line.startswith("#")]
        print(f"perf, CPU samples by {sort}:")
        for line in lines[:15 if sort == "dso" else 25]:
            print(f"  {line.strip()[:110]}")


def run(url: str, args: argparse.Namespace, work: Path) -> None:
    port = free_port()
    proc = start_service(url, port, work, args.workers)
    token = proc.token  # type: ignore[attr-defined]
    try:
        asyncio.run(load(port, token, args.clients, args.warm))
        workers = api_workers(proc.pid)
        outputs = []
        spies = []
        mode = [] if args.all_threads else ["--gil"]
        for pid in workers:
            out = work / f"py-spy-{pid}.txt"
            outputs.append(out)
            spies.append(subprocess.Popen(
                [args.py_spy, "record", "--format", "raw", *mode, "--threads", "--nonblocking",
                 "-r", str(args.rate), "-d", str(args.seconds), "-o", str(out),
                 "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        perf = None
        if args.perf:
            perf = subprocess.Popen(
                ["perf", "record", "-F", "199", "-o", str(work / "perf.data"),
                 "-p", ",".join(map(str, workers))],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # the samplers attached
        times0, cpu0 = thread_times(workers), tree_cpu(proc.pid)
        result = asyncio.run(load(port, token, args.clients, args.tickets, first=args.warm))
        tickets = len(result[0])
        times1, cpu = thread_times(workers), tree_cpu(proc.pid) - cpu0
        if perf is not None:
            perf.send_signal(2)
            perf.wait(60)
        ms = cpu / max(1, tickets) * 1000
        report(f"{args.database} x{len(spies)}", *result,
               cpu=f" cpu/ticket: service={ms:.2f}ms (sampled)")
        print_thread_times(times0, times1, tickets)
        for spy in spies:
            spy.wait(args.seconds + 30)
        summarise([o for o in outputs if o.exists()], args.top, ms)
        if perf is not None:
            print_perf(work / "perf.data")
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="postgresql")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--warm", type=int, default=200, help="tickets filed before sampling")
    ap.add_argument("--tickets", type=int, default=2500,
                    help="tickets filed while sampling (more than --seconds take)")
    ap.add_argument("--seconds", type=int, default=20, help="how long py-spy samples")
    ap.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    ap.add_argument("--workers", type=int, default=None)
    beside = Path(sys.executable).parent / "py-spy"
    ap.add_argument("--py-spy", default=str(beside) if beside.exists()
                    else shutil.which("py-spy") or "py-spy")
    ap.add_argument("--all-threads", action="store_true",
                    help="sample every running thread, not only the GIL's holder")
    ap.add_argument("--perf", action="store_true", help="also the kernel's share (Linux perf)")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if shutil.which(args.py_spy) is None:  # a path or a name on PATH, executable
        sys.exit("py-spy not found: pip install py-spy (into this venv), or --py-spy PATH")
    if args.perf and shutil.which("perf") is None:
        sys.exit("--perf: perf not found")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.database == "sqlite":
            run(f"sqlite:///{work / 'bench.db'}", args, work)
            return
        with running_pg_server() as pg:
            import psycopg

            with psycopg.connect(host=pg.host, port=pg.port, user=pg.user,
                                 dbname="postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            run(pg.url("bench"), args, work)


if __name__ == "__main__":
    main()
