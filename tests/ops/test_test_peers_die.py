"""The suite's peers die with the test process however it ends: an interrupted run (a
pytest worker killed with SIGKILL) left an orphaned linphonec spinning on a core for two
hours. Every peer is started by ``tests.support.harness.spawn`` (PostgreSQL's postmaster,
which pg_ctl starts in a session of its own, is handed over by ``die_with_us``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import harness

pytestmark = [pytest.mark.sip, pytest.mark.external]

REPO = Path(__file__).resolve().parents[2]

# A test process in small: a real Kamailio (which forks its own workers) and a SIPp UAS
# waiting for a call, their group ids printed, then nothing until it is killed.
CHILD = r"""
import sys, time
from pathlib import Path
from tests.support import harness

work = Path(sys.argv[1])
kamailio = harness.Kamailio(work / "kamailio").start()
sipp = harness.Sipp(harness.SCENARIOS / "uas_answer.xml", work / "sipp", timeout_s=120).start()
print(kamailio.proc.pid, sipp.proc.pid, flush=True)
time.sleep(300)
"""


def _alive_in_group(pgid: int) -> list[int]:
    """Pids of the processes of group ``pgid`` still running (a zombie has ended)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def _start(code: str, *args: str) -> subprocess.Popen[str]:
    """A test process in small: ``code`` run by a child Python, started as the suite's are."""
    return harness.spawn([sys.executable, "-c", code, *args], cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)},
                         stdout=subprocess.PIPE, text=True)


def _printed_pids(child: subprocess.Popen[str], count: int) -> list[int]:
    """The ``count`` pids the child prints once what it starts is up."""
    assert child.stdout is not None
    pids = [int(p) for p in child.stdout.readline().split()]
    assert len(pids) == count, "the child did not start its peers"
    return pids


def _left_after_kill(child: subprocess.Popen[str], left: Callable[[], list[int]]) -> list[int]:
    """Kill the child with SIGKILL; what ``left`` still lists once it is empty, or 10 s on."""
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    deadline = time.monotonic() + 10
    while (still := left()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return still


def test_peers_die_when_the_test_process_is_killed(tmp_path: Path) -> None:
    child = _start(CHILD, str(tmp_path))
    groups: list[int] = []
    try:
        groups = _printed_pids(child, 2)
        assert len(_alive_in_group(groups[0])) > 1  # Kamailio and the workers it forked
        left = _left_after_kill(child, lambda: [p for g in groups for p in _alive_in_group(g)])
        assert left == [], f"peers outlived their test process: {left}"
    finally:
        harness._kill_group(child, signal.SIGKILL)
        for g in groups:
            for pid in _alive_in_group(g):
                os.kill(pid, signal.SIGKILL)


# A test process that forks helpers, as test_crash's workers, test_backlog_drain's doomed
# child and test_intake's holder are forked: one with os.fork() itself (it holds a copy of
# everything the test process had open, the reaper's pipe too) and one with
# harness.fork_with_us; a peer started through harness.spawn; then nothing until killed.
FORKING_CHILD = r"""
import os, sys, time
from tests.support import harness

peer = harness.spawn(["sleep", "300"])
forked = os.fork()
if forked == 0:
    time.sleep(120)
    os._exit(0)
helper = harness.fork_with_us()
if helper == 0:
    time.sleep(120)
    os._exit(0)
print(peer.pid, forked, helper, flush=True)
time.sleep(300)
"""


def test_peers_die_while_a_helper_forked_from_the_test_process_lives() -> None:
    # Before: the reaper waited for its pipe's end of file, which the forked helper's copy
    # of the write end held off for as long as the helper lived (a forked outbound worker
    # ran until SIGTERM, and every peer with it).
    child = _start(FORKING_CHILD)
    pids: list[int] = []
    try:
        pids = _printed_pids(child, 3)
        peer, forked, helper = pids
        _left_after_kill(child, lambda: _alive_in_group(peer) + _alive_in_group(helper))
        assert forked in _alive_in_group(child.pid), "the plain forked helper must live on"
        assert _alive_in_group(peer) == [], "the peer outlived its test process"
        assert _alive_in_group(helper) == [], "a helper forked with fork_with_us outlived it"
    finally:
        for pgid in {child.pid, *pids}:  # the plain forked helper is in the child's group
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)


# A test process with the suite's PostgreSQL and a backend busy on a query that does not
# look for its postmaster's death (a long count: pg_sleep would, and end by itself).
PG_CHILD = r"""
import time
import psycopg
from tests.support.pgserver import running_pg_server

with running_pg_server() as pg:
    busy = psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres",
                           autocommit=True)
    busy.execute("SET statement_timeout = '120s'")  # bounded, whatever befalls this test
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    print(postmaster, busy.info.backend_pid, flush=True)
    busy.execute("SELECT count(*) FROM generate_series(1, 5000000000)")
"""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.postgres
def test_postgres_backends_die_when_the_test_process_is_killed() -> None:
    # Before: the reaper killed the postmaster's group, the postmaster alone (each backend
    # leads a session of its own); a backend busy on a query lived on for its length, and
    # the cluster's segments in /dev/shm were left.
    child = _start(PG_CHILD)
    pids: list[int] = []
    try:
        pids = _printed_pids(child, 2)
        time.sleep(0.5)  # the query under way
        assert all(_alive(p) for p in pids)
        maps = Path(f"/proc/{pids[1]}/maps").read_text().split()
        segments = {Path(m) for m in maps if m.startswith("/dev/shm/PostgreSQL.")}
        assert segments, "the backend maps no shared memory segment"
        _left_after_kill(child, lambda: [p for p in pids if _alive(p)])
        assert [p for p in pids if _alive(p)] == [], "PostgreSQL outlived its test process"
        assert [s for s in segments if s.exists()] == [], "its shared memory was left"
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
