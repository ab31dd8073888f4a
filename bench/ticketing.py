"""Tickets created and dispatched per second over HTTP, closed-loop or open-loop.

Starts the real service (`hotline serve --role api`, uvicorn) on loopback against SQLite
and/or a throwaway PostgreSQL, seeds the demo city, then POSTs complaints (each is
classified, accepted and dispatched in the same request) and prints throughput and
create→dispatched latency percentiles per backend. On PostgreSQL it also prints what the
database saw meanwhile: connections opened, and sessions waiting for a row lock. CPU per
ticket is printed for the service, PostgreSQL and this client (all on the same cores), and
for the rest of the machine meanwhile (``others``: other work on a shared machine), with
the machine's cores busy on average over the run (``machine_busy``: near all of them, the
run was bound by CPU; well below, by a serial part such as SQLite's writers' turn).

Closed loop (default): N clients, each sends its next ticket when the last one answered,
for a bounded count. Open loop (--rate): tickets are offered at a fixed rate for a bounded
time whatever the service answers, so a slow service shows as latency, not as less load.

    .venv/bin/python bench/ticketing.py [--clients 50] [--tickets 2000] [--database both]
    .venv/bin/python bench/ticketing.py --rate 100 --seconds 20 --database postgresql
    .venv/bin/python bench/ticketing.py --workers 1 --database postgresql   # one process
    .venv/bin/python bench/ticketing.py --via console --database sqlite   # the intake form
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.pgserver import free_port, running_pg_server  # noqa: E402

COMPLAINTS = [
    "朝阳区望京西园三区5号楼停水了，一直没来水",
    "海淀区中关村大街人行道井盖丢了，很危险",
    "丰台区某小区暖气不热，室温只有十五度",
    "东城区某饭馆油烟扰民，晚上十点还在营业",
    "通州区某路口红绿灯坏了，车辆乱行",
    "公司拖欠我三个月工资不发",
]


def start_service(db_url: str, port: int, workdir: Path,
                  workers: int | None) -> subprocess.Popen[bytes]:
    # PYTHONPATH: the service runs this checkout's code; the venv's `hotline` would import
    # the checkout it was installed from (another worktree's, not the one measured).
    env = {**os.environ, "HOTLINE_DATABASE_URL": db_url, "HOTLINE_PORT": str(port),
           "HOTLINE_DATA_DIR": str(workdir),
           "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
    # The venv running this script (a worktree has none of its own).
    hotline = str(Path(sys.executable).parent / "hotline")
    subprocess.run([hotline, "db", "upgrade"], env=env, check=True, capture_output=True)
    out = subprocess.run([hotline, "demo"], env=env, check=True, capture_output=True, text=True)
    token = next(line.split()[-2] for line in out.stdout.splitlines() if "operator" in line
                 and "│" in line)
    # Only the API: the IVR and the schedulers are not what this measures.
    # No --workers: the shipped default (one per core; one with Twilio or SQLite in memory).
    # Loopback whatever HOTLINE_HOST says (an operator's shell may export 0.0.0.0): a bench
    # serves nobody but its own clients, which reach it at 127.0.0.1.
    cmd = [hotline, "serve", "--host", "127.0.0.1", "--port", str(port), "--role", "api"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    log = workdir / f"serve-{port}.log"
    proc = subprocess.Popen(cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    proc.token = token  # type: ignore[attr-defined]
    t0 = time.monotonic()
    deadline = t0 + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    # Every worker up, not the first: a node takes a surge once it is up, and a worker's
    # start-up ends when its classifier is warm (hotline.app.api_worker_app). Measured from
    # the first answer alone, the open loop's first seconds were one warm worker's.
    while time.monotonic() < deadline and proc.poll() is None:
        workers_up = log.read_text(errors="replace").count("Application startup complete")
        if workers_up >= len(api_workers(proc.pid)):
            print(f"service up in {time.monotonic() - t0:.1f} s", flush=True)
            return proc
        time.sleep(0.2)
    kill_with_children(proc)
    tail = log.read_text(errors="replace").splitlines()[-20:]
    raise RuntimeError("service did not start:\n" + "\n".join(tail))


def kill_with_children(proc: subprocess.Popen[bytes]) -> None:
    """``proc`` and its children killed: killed alone, uvicorn's parent left its workers (a
    classifier each, ~0.5 GB) and its resource tracker running, orphaned, on a machine
    other work shares (speed40, a service that did not start in time)."""
    children = [pid for pid, (ppid, _, _) in _processes().items() if ppid == proc.pid]
    proc.kill()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def _processes() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds so far, command line) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, cmd)
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by ``root`` and its live descendants (a process that ended
    in between is not counted: keep the measured processes alive across the measure)."""
    procs = _processes()
    pids, total = {root}, 0.0
    for _ in range(4):  # uvicorn parent -> workers; postmaster -> backends
        pids |= {pid for pid, (ppid, _, _) in procs.items() if ppid in pids}
    for pid in pids:
        if pid in procs:
            total += procs[pid][1]
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every core (``/proc/stat``):
    what the run's own processes used less what the machine used says what the others
    took meanwhile (on a shared machine, the figure's noise; near the cores' count in all,
    a run was bound by CPU, well below, by a serial part)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal (guest time is inside user already)
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches so far of every live thread of ``pid``.
    ``/proc/PID/status`` counts the main thread's alone: in an API worker that is the event
    loop, not the filing threads that wait on the database (a thread that ended is not
    counted: keep the measured threads alive across the measure, as the pools do)."""
    voluntary = involuntary = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0, 0
    for tid in tids:
        try:
            status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                voluntary += int(line.split()[1])
            elif line.startswith("nonvoluntary_ctxt_switches:"):
                involuntary += int(line.split()[1])
    return voluntary, involuntary


class ServiceSplit:
    """The service's CPU a ticket by process (the supervisor against its API workers: a
    supervisor that proxied or polled would show here) and the workers' context switches a
    ticket, every thread counted (a wait on the database's socket or for the GIL is a
    voluntary one)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.workers = api_workers(root)
        self._start = self._read()

    def _read(self) -> tuple[float, float, int, int]:
        procs = _processes()
        own = procs[self.root][1] if self.root in procs else 0.0
        workers = sum(procs[pid][1] for pid in self.workers if pid in procs and pid != self.root)
        counts = [switches(pid) for pid in self.workers]
        return own, workers, sum(c[0] for c in counts), sum(c[1] for c in counts)

    def summary(self, tickets: int) -> str:
        now = self._read()
        own, workers, voluntary, involuntary = (
            (b - a) / max(1, tickets) for a, b in zip(self._start, now, strict=True))
        where = (f"supervisor={own * 1000:.2f}ms workers={workers * 1000:.1f}ms"
                 if self.workers != [self.root] else f"one process={own * 1000:.1f}ms")
        return (f"   service by process a ticket: {where}; the workers' context switches a "
                f"ticket: voluntary={voluntary:.1f} involuntary={involuntary:.1f}")


def api_workers(root: int) -> list[int]:
    """The processes that serve the API: uvicorn's worker children, else the one process."""
    children = [pid for pid, (ppid, _, cmd) in _processes().items()
                if ppid == root and "multiprocessing" in cmd and "resource_tracker" not in cmd]
    return children or [root]


def postmaster_pid(port: int) -> int | None:
    for pid, (_, _, cmd) in _processes().items():
        if "postgres" in cmd and f"-p {port}" in cmd and "pg_ctl" not in cmd:
            return pid
    return None


class DatabaseWatch:
    """What PostgreSQL saw during the measured run: connections opened (a pool that closes and
    reopens them pays a backend start each time), and, sampled every 50 ms, how many
    sessions were waiting for a lock and on which statement (a hot row queues creators)."""

    def __init__(self, dsn: dict[str, object]) -> None:
        self.dsn = dsn
        self.samples = 0
        self.waits: Counter[str] = Counter()
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _query(self, conn: Any, sql: str) -> list[tuple[Any, ...]]:
        return conn.execute(sql).fetchall()

    def __enter__(self) -> DatabaseWatch:
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            self._sessions0 = self._sessions(conn)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        import psycopg

        self._stop.set()
        self._thread.join()
        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            # Less this watch's own two connections.
            self.opened = self._sessions(conn) - self._sessions0 - 2

    def _sessions(self, conn: Any) -> int:
        return int(self._query(conn, "SELECT sessions FROM pg_stat_database "
                                     "WHERE datname = current_database()")[0][0])

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(**self.dsn, autocommit=True) as conn:
            while not self._stop.wait(0.05):
                rows = self._query(conn, """
                    SELECT wait_event_type, left(query, 40) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()
                      AND backend_type = 'client backend'""")
                self.samples += 1
                self.most = max(self.most, len(rows))
                for wait_type, query in rows:
                    if wait_type == "Lock":
                        self.waits[" ".join(query.split()[:3])] += 1

    def summary(self) -> str:
        n = max(1, self.samples)
        waits = ", ".join(f"{count / n:.1f} on {query!r}"
                          for query, count in self.waits.most_common(3)) or "none"
        return (f"   database: connections opened={self.opened} most sessions={self.most} "
                f"waiting for a lock (mean of {self.samples} samples): {waits}")


def _body(i: int) -> dict[str, str]:
    return {"caller_phone": f"139{i:08d}", "demand": COMPLAINTS[i % len(COMPLAINTS)]}


# Idle connections are dropped by the client before uvicorn's 5 s keep-alive timeout drops
# them: with httpx's default (also 5 s) a request sent on a connection the server was just
# closing failed with ReadError and counted as an error of the service.
KEEPALIVE = 2.0
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
Sender = Callable[[httpx.AsyncClient, int], Awaitable[bool]]


class RawHTTP:
    """The bench's API client: keep-alive HTTP/1.1 over asyncio streams, one connection per
    request in flight, a few hundred bytes written and parsed per ticket.

    httpx cost the bench about 2 ms of CPU per ticket (its request, response and pool
    objects, in the same process as 50 clients), a fifth of what the service spends, on the
    same two cores as the service: measured that way the figure was partly the client's."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < KEEPALIVE and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, headers: bytes, body: bytes) -> tuple[int, bytes]:
        """(status, body) of a POST; raises OSError/IncompleteReadError/ValueError on a
        broken exchange (the connection is dropped, not reused)."""
        async with asyncio.timeout(30):  # TimeoutError is an OSError: counted as failed
            return await self._post(path, headers, body)

    async def _post(self, path: str, headers: bytes, body: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connection()
        try:
            writer.write(b"POST %s HTTP/1.1\r\nHost: bench\r\n%sContent-Type: application/json"
                         b"\r\nContent-Length: %d\r\n\r\n%s"
                         % (path.encode(), headers, len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            data = await reader.readexactly(length)
        except BaseException:
            writer.close()
            raise
        if close:
            writer.close()
        else:
            self._idle.append((reader, writer, time.monotonic()))
        return status, data

    async def aclose(self) -> None:
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


# What counts as a failed exchange: httpx's errors (the console form), a broken connection.
FAILED = (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ValueError)


async def sender(c: httpx.AsyncClient, raw: RawHTTP, token: str, via: str) -> Sender:
    """How one ticket is filed: POST /api/v1/tickets (RawHTTP), or the operator's console
    form (httpx, logged in once through the login form; the client keeps the cookie)."""
    if via == "api":
        headers = f"Authorization: Bearer {token}\r\n".encode()

        async def api(_c: httpx.AsyncClient, i: int) -> bool:
            status, data = await raw.post("/api/v1/tickets", headers,
                                          json.dumps(_body(i)).encode())
            return status == 201 and json.loads(data)["status"] != "draft"

        return api
    form = await c.get("/console/login")
    login = await c.post("/console/login", data={
        "username": "operator", "token": token, "csrf": CSRF.findall(form.text)[0]})
    if login.status_code != 303:
        raise RuntimeError(f"console login refused: {login.status_code}")
    csrf = CSRF.findall((await c.get("/console/queue")).text)[0]

    async def console(c: httpx.AsyncClient, i: int) -> bool:
        r = await c.post("/console/intake", data={**_body(i), "csrf": csrf})
        return r.status_code == 303 and "done=create" in r.headers.get("location", "")

    return console


async def load(port: int, token: str, clients: int, total: int,
               first: int = 0, via: str = "api") -> tuple[list[float], float, int]:
    """Closed loop: ``clients`` clients share ``total`` tickets."""
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(first, first + total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=clients, keepalive_expiry=KEEPALIVE)

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            try:
                ok = await send(c, i)
            except FAILED:
                errors += 1
                continue
            dt = time.perf_counter() - t0
            if ok:
                latencies.append(dt)
            else:
                errors += 1

    raw = RawHTTP(port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=30) as c:
        send = await sender(c, raw, token, via)
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
        await raw.aclose()
    return latencies, elapsed, errors


async def offer(port: int, token: str, rate: float, seconds: float,
                first: int = 0, via: str = "api") -> tuple[list[float], float, int]:
    """Open loop: one ticket every 1/rate s for ``seconds``, each on its own task, so a
    request the service is slow to answer does not delay the next one being offered."""
    latencies: list[float] = []
    errors = 0
    # Enough connections that the client never queues a request the schedule offered.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=200,
                          keepalive_expiry=KEEPALIVE)

    async def one(c: httpx.AsyncClient, i: int) -> None:
        nonlocal errors
        t0 = time.perf_counter()
        try:
            ok = await send(c, i)
        except FAILED:
            errors += 1
            return
        dt = time.perf_counter() - t0
        if ok:
            latencies.append(dt)
        else:
            errors += 1

    count = int(rate * seconds)
    raw = RawHTTP(port)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=30) as c:
        send = await sender(c, raw, token, via)
        tasks = []
        t0 = time.perf_counter()
        for n in range(count):
            # Sleep to the n-th slot of the schedule (not 1/rate after the last send), so
            # the offered rate holds even when the event loop is late now and then.
            delay = t0 + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(c, first + n)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        await raw.aclose()
    return latencies, elapsed, errors


def report(name: str, latencies: list[float], elapsed: float, errors: int,
           cpu: str = "") -> None:
    if len(latencies) < 2:
        print(f"{name:10s} tickets={len(latencies)} errors={errors} (too few answers)")
        return
    q = statistics.quantiles(latencies, n=100)
    over_1s = sum(1 for v in latencies if v > 1)
    print(f"{name:10s} tickets={len(latencies)} errors={errors} "
          f"throughput={len(latencies) / elapsed:.1f}/s "
          f"p50={q[49] * 1000:.1f}ms p95={q[94] * 1000:.1f}ms p99={q[98] * 1000:.1f}ms "
          f"max={max(latencies) * 1000:.1f}ms over_1s={over_1s}{cpu}", flush=True)


def run(name: str, db_url: str, args: argparse.Namespace, workdir: Path,
        db_pid: int | None = None, dsn: dict[str, object] | None = None) -> None:
    port = free_port()
    proc = start_service(db_url, port, workdir, args.workers)
    token = proc.token  # type: ignore[attr-defined]
    name = f"{name} x{len(api_workers(proc.pid))}"
    try:
        warm = min(100, args.tickets)
        asyncio.run(load(port, token, args.clients, warm, via=args.via))
        # CPU per ticket is what a loaded, shared machine distorts least (latency and
        # throughput there depend on what else runs).
        cpu0 = (tree_cpu(proc.pid), tree_cpu(db_pid) if db_pid else 0.0)
        # The client (this process) shares the cores with the service: its CPU is printed
        # beside the service's, so a figure can be read as the service's or not.
        client0 = time.process_time()
        split = ServiceSplit(proc.pid)
        machine0 = machine_cpu()
        watch = DatabaseWatch(dsn) if dsn else nullcontext()
        with watch:
            if args.rate:
                name = f"{name} open {args.rate:g}/s"
                result = asyncio.run(offer(port, token, args.rate, args.seconds, warm,
                                           args.via))
            else:
                result = asyncio.run(load(port, token, args.clients, args.tickets, warm,
                                          args.via))
        n = max(1, len(result[0]))
        busy, every = (b - a for a, b in zip(machine0, machine_cpu(), strict=True))
        service_ms = (tree_cpu(proc.pid) - cpu0[0]) / n * 1000
        db_ms = (tree_cpu(db_pid) - cpu0[1]) / n * 1000 if db_pid else 0.0
        client_ms = (time.process_time() - client0) / n * 1000
        cpu = f" cpu/ticket: service={service_ms:.1f}ms"
        if db_pid:
            cpu += f" db={db_ms:.1f}ms"
        cpu += f" client={client_ms:.1f}ms"
        # The machine's cores busy on average over the run, and what the rest of the
        # machine (other work, not this run's processes) used a ticket meanwhile.
        cores = os.cpu_count() or 1
        others_ms = busy / n * 1000 - service_ms - db_ms - client_ms
        cpu += (f" others={max(0.0, others_ms):.1f}ms"
                f" machine_busy={busy / (every / cores) if every else 0:.2f}/{cores}cores")
        report(name, *result, cpu=cpu)
        print(split.summary(n), flush=True)
        if isinstance(watch, DatabaseWatch):
            print(watch.summary(), flush=True)
    finally:
        proc.terminate()
        proc.wait(20)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50, help="closed loop: concurrent clients")
    ap.add_argument("--tickets", type=int, default=2000, help="closed loop: tickets in all")
    ap.add_argument("--rate", type=float, default=0,
                    help="open loop: tickets offered per second (0: closed loop)")
    ap.add_argument("--seconds", type=float, default=20, help="open loop: how long to offer")
    ap.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("--workers", type=int, default=None,
                    help="API worker processes (default: the service's, one per core on "
                    "PostgreSQL and one on SQLite)")
    ap.add_argument("--via", choices=("api", "console"), default="api",
                    help="file through POST /api/v1/tickets or the operator's console form")
    ap.add_argument("--durable", action="store_true",
                    help="PostgreSQL as shipped (fsync, synchronous_commit on), not with "
                    "the throwaway test cluster's settings (both off)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.database in ("sqlite", "both"):
            run("sqlite", f"sqlite:///{work / 'bench.db'}", args, work)
        if args.database in ("postgresql", "both"):
            with running_pg_server(durable=args.durable) as pg:
                import psycopg

                with psycopg.connect(host=pg.host, port=pg.port, user=pg.user,
                                     dbname="postgres", autocommit=True) as conn:
                    conn.execute("CREATE DATABASE bench")
                    shown = {n: conn.execute(f"SHOW {n}").fetchone()[0]  # type: ignore[index]
                             for n in ("fsync", "synchronous_commit")}
                    print(f"postgresql settings: {shown}", flush=True)
                run("postgresql", pg.url("bench"), args, work, postmaster_pid(pg.port),
                    dict(host=pg.host, port=pg.port, user=pg.user, dbname="bench"))


if __name__ == "__main__":
    main()
