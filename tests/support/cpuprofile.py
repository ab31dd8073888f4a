"""CPU accounting for the test suite: ``-p tests.support.cpuprofile`` with
HOTLINE_CPU_PROFILE=DIR writes one JSON line per test and per fixture setup to
DIR/<worker>.jsonl; ``python -m tests.support.cpuprofile DIR... [TOP]`` ranks them (several
DIRs: one run per directory of tests, as docs/suite.md measures the suite file by file).
``python -m tests.support.cpuprofile --waiters DIR [TOP]`` ranks one run's tests by wall
minus their worker's own CPU (what a test spends waiting on real time: calls, timers,
retries) and how long the run's end waited on fewer workers than it has (the tail).

The suite is CPU-bound on shared cores, so wall durations (--durations) say more about
the load than about a test: this counts CPU seconds instead. A test's figure is its
process's own CPU plus the children it waited for (espeak-ng, sox, SIPp...) plus the
session's PostgreSQL server (a daemon, so no child of ours: read from /proc).

Twenty-seventh round: with HOTLINE_CPU_CGROUP=DIR (a cgroup v1 cpuacct directory the run
was started in) each worker moves itself into DIR/<worker> at its start, and every row
gets ``tree`` too: that cgroup's CPU over the test (or fixture setup), so whatever the
worker started is counted, reaped or not: a service subprocess killed without a wait, a
browser's renderers, a daemonised Kamailio, the cluster's backends of the worker's own
PostgreSQL (the other workers' backends, if the cluster is shared, land there too).
"""

from __future__ import annotations

import atexit
import collections
import gc
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

_TICK = os.sysconf("SC_CLK_TCK")
_pg_data: set[Path] = set()  # the session's clusters' data directories


def _own_cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _proc_cpu(pid: int, *, waited: bool) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if waited:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICK


def _postmasters() -> Iterator[int]:
    for data in _pg_data:
        try:
            lines = (data / "postmaster.pid").read_text().splitlines()
        except OSError:
            continue
        if lines:
            yield int(lines[0])


_pg_seen: dict[int, float] = {}


def _pg_cpu() -> float:
    # The server and the backends it has reaped: a test's connections are closed by its
    # end, so live backends (a /proc scan per test) would add little but cost much. A
    # stopped server keeps its last figure, or the test that stops it would be credited
    # with minus the whole server's CPU.
    for pid in _postmasters():
        _pg_seen[pid] = max(_pg_seen.get(pid, 0.0), _proc_cpu(pid, waited=True))
    return sum(_pg_seen.values())


def _cpu() -> float:
    return _own_cpu() + _pg_cpu()


_tree: Path | None = None  # this worker's cpuacct cgroup


def _tree_cpu() -> float:
    if _tree is None:
        return 0.0
    try:
        return int((_tree / "cpuacct.usage").read_text()) / 1e9
    except OSError:
        return 0.0


def _join_cgroup(worker: str) -> None:
    global _tree
    parent = os.environ.get("HOTLINE_CPU_CGROUP")
    if not parent:
        return
    mine = Path(parent) / worker
    try:
        mine.mkdir(exist_ok=True)
        (mine / "cgroup.procs").write_text(str(os.getpid()))
    except OSError as exc:
        print(f"cpuprofile: no cgroup of its own ({exc})", file=sys.stderr)
        return
    _tree = mine


class _Recorder:
    def __init__(self, out: Path) -> None:
        self.file = out.open("a", encoding="utf-8")
        self.stack: list[float] = []  # per open fixture setup: CPU spent in nested setups

    def write(self, **row: Any) -> None:
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()


_rec: _Recorder | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _rec
    where = os.environ.get("HOTLINE_CPU_PROFILE")
    if not where:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(where).mkdir(parents=True, exist_ok=True)
    _rec = _Recorder(Path(where) / f"{worker}.jsonl")
    _join_cgroup(worker)
    _rec.write(kind="start", worker=worker, cpu=_own_cpu(), wall=time.time(), pid=os.getpid(),
               tree=_tree_cpu())
    if worker == "main" and config.pluginmanager.hasplugin("xdist"):
        _time_teardown(_rec)


def _time_teardown(rec: _Recorder) -> None:
    """xdist's controller ends its workers with NodeManager.teardown_nodes (up to 10 s
    each, then a kill): when it began, ended, and when each worker's process was gone."""
    from xdist.workermanage import NodeManager

    teardown = NodeManager.teardown_nodes

    def timed(self: Any) -> None:
        procs = {gw.id: gw._io.popen.pid for gw in self.group
                 if getattr(getattr(gw, "_io", None), "popen", None) is not None}
        gone: dict[str, float] = {}
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set() and len(gone) < len(procs):
                for gw, pid in procs.items():
                    if gw in gone:
                        continue
                    try:
                        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                    except OSError:
                        state = "Z"
                    if state in ("Z", "X"):
                        gone[gw] = time.time()
                time.sleep(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        began = time.time()
        watcher.start()
        try:
            teardown(self)
        finally:
            stop.set()
            watcher.join()
            rec.write(kind="teardown", began=began, wall=time.time(), pids=procs, gone=gone)

    NodeManager.teardown_nodes = timed  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _rec is None:
        return
    # What the interpreter's exit will wait for: xdist's controller waits up to 10 s for
    # each worker to end (then kills it), so a thread or child left running holds the run.
    # ``objects``: what the interpreter's exit would collect; ``frozen``: what it will not
    # (tests/conftest.py freezes it: a worker's exit spent seconds collecting it).
    _rec.write(kind="end", cpu=_own_cpu(), tree=_tree_cpu(), wall=time.time(),
               objects=len(gc.get_objects()),
               frozen=gc.get_freeze_count(),
               threads=[t.name for t in threading.enumerate()
                        if not t.daemon and t is not threading.main_thread()],
               children=[c.pid for c in multiprocessing.active_children()])
    # After those threads were joined (atexit runs then): missing if the worker was killed.
    def _exit(rec: _Recorder = _rec) -> None:
        rec.write(kind="exit", wall=time.time())
        # What follows atexit (the interpreter's finalization: modules, objects, C++
        # destructors of the libraries loaded) is no Python code of ours: a process of
        # its own looks at this one from outside 2 and 6 s on, if it is still there.
        if "PYTEST_XDIST_WORKER" in os.environ:
            out = Path(rec.file.name).with_suffix(".final.txt")
            subprocess.Popen(
                ["sh", "-c", "for t in 2 4; do sleep $t; kill -0 $0 2>/dev/null || exit 0; "
                 "echo \"== $(date +%s.%N)\"; cat /proc/$0/status | grep -E 'State|Threads'; "
                 "for t in /proc/$0/task/*; do echo $(cat $t/comm) $(cat $t/wchan) "
                 "$(cut -d' ' -f3 $t/stat); done; "
                 "py-spy dump --native --pid $0 2>&1 | head -150; done",
                 str(os.getpid())],
                stdout=out.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)

    atexit.register(_exit)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    if _rec is None:
        yield
        return
    cpu0, own0, tree0 = _cpu(), _own_cpu(), _tree_cpu()
    wall0, began = time.monotonic(), time.time()
    yield
    cpu1, own1, tree1 = _cpu(), _own_cpu(), _tree_cpu()
    # ``began`` (epoch s) places the test on its worker's timeline: which worker ends the
    # run, and what it was doing, is the critical path of an xdist run.
    _rec.write(kind="test", id=item.nodeid, cpu=cpu1 - cpu0, own=own1 - own0, tree=tree1 - tree0,
               wall=time.monotonic() - wall0, began=began,
               worker=os.environ.get("PYTEST_XDIST_WORKER", "main"))


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef: Any, request: Any) -> Generator[None, Any, None]:
    if _rec is None:
        yield
        return
    _rec.stack.append(0.0)
    cpu0, tree0 = _own_cpu(), _tree_cpu()
    outcome = yield
    spent, tree = _own_cpu() - cpu0, _tree_cpu() - tree0
    nested = _rec.stack.pop()
    if _rec.stack:
        _rec.stack[-1] += spent
    if fixturedef.argname == "pg_server" and outcome.exception is None:
        _pg_data.add(outcome.get_result().data)
    param = getattr(request, "param", None)
    _rec.write(kind="fixture", name=fixturedef.argname, scope=fixturedef.scope,
               param=str(param) if param is not None else None,
               cpu=spent - nested, incl=spent, tree=tree)


def report(wheres: list[Path], top: int = 15) -> None:
    tests: dict[str, float] = {}
    trees: dict[str, float] = {}  # the worker's cgroup over the test (HOTLINE_CPU_CGROUP)
    fixtures: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    workers = 0.0
    logs = []
    for where in wheres:
        # Under xdist the controller's children are the workers: count the workers alone.
        found = sorted(where.glob("*.jsonl"))
        logs += [f for f in found if f.stem != "main"] if len(found) > 1 else found
    for f in logs:
        start = None
        for line in f.read_text().splitlines():
            row = json.loads(line)
            if row["kind"] == "test":
                tests[row["id"]] = row["cpu"]
                if "tree" in row:
                    trees[row["id"]] = row["tree"]
            elif row["kind"] == "fixture":
                key = f"{row['name']}[{row['param']}]" if row["param"] else row["name"]
                fixtures[key] += row["cpu"]
                calls[key] += 1
            elif row["kind"] == "start":
                start = row["cpu"]
            elif row["kind"] == "end" and start is not None:
                workers += row["cpu"] - start
    files: collections.Counter[str] = collections.Counter()
    in_file: collections.Counter[str] = collections.Counter()
    for nodeid, cpu in tests.items():
        files[nodeid.split("::")[0]] += cpu
        in_file[nodeid.split("::")[0]] += 1
    print(f"tests: {len(tests)}  CPU in tests (incl. PostgreSQL): {sum(tests.values()):.1f} s"
          f"  processes' own CPU, start to end: {workers:.1f} s")
    if trees:
        print(f"CPU in tests, each worker's whole cgroup (HOTLINE_CPU_CGROUP): "
              f"{sum(trees.values()):.1f} s; the tests whose tree exceeds their CPU the most "
              "(children not reaped, daemons):")
        for nodeid, tree in sorted(trees.items(), key=lambda kv: tests[kv[0]] - kv[1])[:5]:
            print(f"  {tree - tests[nodeid]:7.2f}  {nodeid}")
    print(f"\ntop {top} tests by CPU s:")
    for nodeid, cpu in sorted(tests.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {cpu:7.2f}  {nodeid}")
    print(f"\ntop {top} files by CPU s (tests):")
    for name, cpu in files.most_common(top):
        print(f"  {cpu:7.2f}  ({in_file[name]:4d})  {name}")
    print(f"\ntop {top} fixtures by CPU s in their own setup (calls):")
    for name, cpu in fixtures.most_common(top):
        print(f"  {cpu:7.2f}  ({calls[name]:4d})  {name}")


def waiters(where: Path, top: int = 40) -> None:
    """One run's tests by wall − own CPU (the worker's process and the children it waited
    for; the PostgreSQL daemons not counted), and the run's busy CPU by the second."""
    rows = [{"worker": f.stem, **json.loads(line)} for f in sorted(where.glob("gw*.jsonl"))
            for line in f.read_text().splitlines()]
    tests = [r for r in rows if r["kind"] == "test"]
    if not tests:
        return
    t0 = min(r["began"] for r in tests)
    end = max(r["began"] + r["wall"] for r in tests)
    print(f"tests: {len(tests)}  wall of the tests' span: {end - t0:.0f} s  worker-s in tests: "
          f"{sum(r['wall'] for r in tests):.0f}  own CPU-s: {sum(r['own'] for r in tests):.0f}  "
          f"wall − CPU: {sum(r['wall'] - r['own'] for r in tests):.0f}")
    print(f"\ntop {top} tests by wall − own CPU (s): wait, wall, CPU, worker, start (s after "
          "the first test)")
    for r in sorted(tests, key=lambda r: r["own"] - r["wall"])[:top]:
        print(f"  {r['wall'] - r['own']:7.1f} {r['wall']:7.1f} {r['own']:6.1f}  "
              f"{r['worker']:4s} {r['began'] - t0:6.0f}  {r['id']}")
    # The run's tail: the tests' span ends with its last worker; the seconds before that
    # in which fewer workers were busy are cores idle at the end (a long test handed out
    # late holds the run while the others wait for nothing).
    busy = [0] * (int(end - t0) + 1)
    for r in tests:
        for second in range(int(r["began"] - t0), int(r["began"] + r["wall"] - t0) + 1):
            busy[second] += 1
    workers = len({r["worker"] for r in tests})
    print("\nthe tail: s before the tests' end since the last second with at least N "
          "workers busy")
    for n in range(workers, 0, -1):
        last = max((s for s, b in enumerate(busy) if b >= n), default=0)
        print(f"  N={n}: {len(busy) - 1 - last:4d} s")
    for worker in sorted({r["worker"] for r in tests}):
        mine = [r for r in tests if r["worker"] == worker]
        last = max(mine, key=lambda r: r["began"] + r["wall"])
        print(f"  {worker:4s} ends {last['began'] + last['wall'] - t0:6.0f}  {last['id']}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--waiters":
        waiters(Path(args[1]), int(args[2]) if len(args) > 2 else 40)
        sys.exit(0)
    top = int(args.pop()) if len(args) > 1 and args[-1].isdigit() else 15
    report([Path(a) for a in args], top)
