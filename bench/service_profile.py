"""Where the running service's CPU goes under load: py-spy over every API worker.

bench/intake_profile.py profiles one request in process (no uvicorn, thread hops inline);
the closed loop (bench/ticketing.py) costs the service several milliseconds more per ticket
than that. This starts the real `hotline serve --role api` as bench/ticketing.py does, files
``--warm`` tickets, then samples each worker with py-spy (``--gil``: only the thread that holds
the GIL, i.e. Python running, not threads waiting for the database or a lock) while
``--clients`` clients file ``--tickets`` more, and prints each thread kind's share of the
samples, the event loop's steps and the heaviest functions (self and inclusive).

Needs py-spy, which is not a dependency of the project:
``pip install --target /tmp/pyspy py-spy`` and ``--py-spy /tmp/pyspy/bin/py-spy``.

    .venv/bin/python bench/service_profile.py [--database postgresql] [--clients 50]
        [--tickets 2500] [--seconds 20] [--py-spy PATH] [--top 25]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.ticketing import api_workers, load, report, start_service  # noqa: E402
from tests.support.pgserver import free_port, running_pg_server  # noqa: E402

# Where a frame's file lives says whose code it is; the prefixes are dropped when shown.
_PREFIX = re.compile(r" \((?:.*?site-packages/|/usr/lib/python3\.\d+/|" + re.escape(str(REPO))
                     + r"/)")
_LINE = re.compile(r":\d+\)$")
# The event loop's steps, by the first frame that names them (in this order).
LOOP_STEPS = (
    ("HTTP parsing (uvicorn, httptools)", "HttpToolsProtocol.data_received"),
    ("access log", "Logger.info"),
    ("answer written (uvicorn send)", "RequestResponseCycle.send"),
    ("hand-off to a worker thread (anyio)", "run_sync_in_worker_thread"),
    ("dependencies (FastAPI)", "solve_dependencies"),
    ("answer serialised (FastAPI, pydantic)", "serialize_response"),
    ("routing and middleware", "RequestResponseCycle.run_asgi"),
)


def _frame(raw: str) -> str:
    return _LINE.sub(")", _PREFIX.sub(" (", raw))


def summarise(files: list[Path], top: int) -> None:
    total = 0
    threads: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for path in files:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            n = int(count)
            total += n
            thread, *frames = stack.split(";")
            main = "MainThread" in thread
            threads["event loop (MainThread)" if main else "worker threads"] += n
            if main:
                step = next((name for name, marker in LOOP_STEPS if marker in stack),
                            "event loop, other")
                steps[step] += n
            names = [_frame(f) for f in frames]
            for name in set(names):
                inclusive[name] += n
            if names:
                own[names[-1]] += n
    if not total:
        print("no samples")
        return
    print(f"\n{total} samples with the GIL held, all workers")
    for name, n in threads.most_common():
        print(f"  {n / total:6.1%}  {name}")
    print("the event loop's steps (share of all samples):")
    for name, n in steps.most_common():
        print(f"  {n / total:6.1%}  {name}")
    print(f"top {top} functions, own samples:")
    for name, n in own.most_common(top):
        print(f"  {n / total:6.1%}  {name[:110]}")
    print(f"top {top} functions of this project, inclusive:")
    ours = [(k, v) for k, v in inclusive.most_common()
            if any(f"({p}/" in k for p in ("ticketing", "hotline", "knowledge"))]
    for name, n in ours[:top]:
        print(f"  {n / total:6.1%}  {name[:110]}")


def run(url: str, args: argparse.Namespace, work: Path) -> None:
    port = free_port()
    proc = start_service(url, port, work, args.workers)
    token = proc.token  # type: ignore[attr-defined]
    try:
        asyncio.run(load(port, token, args.clients, args.warm))
        outputs = []
        spies = []
        for pid in api_workers(proc.pid):
            out = work / f"py-spy-{pid}.txt"
            outputs.append(out)
            spies.append(subprocess.Popen(
                [args.py_spy, "record", "--format", "raw", "--gil", "--threads",
                 "-r", str(args.rate), "-d", str(args.seconds), "-o", str(out),
                 "-p", str(pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        result = asyncio.run(load(port, token, args.clients, args.tickets, first=args.warm))
        report(f"{args.database} x{len(spies)}", *result)
        for spy in spies:
            spy.wait(args.seconds + 30)
        summarise([o for o in outputs if o.exists()], args.top)
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
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    if shutil.which(args.py_spy) is None:  # a path or a name on PATH, executable
        sys.exit("py-spy not found: pip install --target /tmp/pyspy py-spy, then "
                 "--py-spy /tmp/pyspy/bin/py-spy")
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
