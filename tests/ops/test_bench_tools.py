"""The benches' own plumbing: what they leave behind on a shared machine, and what they
read of py-spy's output."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.service_profile import summarise
from bench.ticketing import _processes, kill_with_children, switches

_PARENT = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_service_given_up_on_leaves_no_child_running() -> None:
    proc = subprocess.Popen([sys.executable, "-c", _PARENT])
    try:
        deadline = time.monotonic() + 30
        children: list[int] = []
        while not children and time.monotonic() < deadline:
            children = [pid for pid, (ppid, _, _) in _processes().items() if ppid == proc.pid]
            time.sleep(0.05)
        assert children
        kill_with_children(proc)
        deadline = time.monotonic() + 10
        while any(map(_alive, children)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, children))
    finally:
        proc.kill()


def test_a_stack_broken_over_lines_is_not_read_as_a_sample(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    raw = tmp_path / "worker.txt"
    # py-spy 0.4 writes a name as it is: a newline in it breaks the stack's line.
    raw.write_text("MainThread;run (uvloop);handle (\n"
                   "http) 3\n"
                   "Thread 1;run_sync (anyio/to_thread.py:10) 2\n")
    summarise([raw], top=5)
    assert "event loop" in capsys.readouterr().out


def test_context_switches_are_counted_for_every_thread_not_the_main_one_alone() -> None:
    # An API worker's filing threads wait on the database; its main thread is the event
    # loop. /proc/PID/status counts the main thread's switches only.
    napped, done = threading.Event(), threading.Event()

    def napper() -> None:
        for _ in range(50):
            time.sleep(0.001)  # each sleep gives the core up: a voluntary switch
        napped.set()
        done.wait()

    before = switches(os.getpid())
    thread = threading.Thread(target=napper)
    thread.start()
    try:
        assert napped.wait(30)
        voluntary, _ = switches(os.getpid())
        assert voluntary - before[0] >= 50
    finally:
        done.set()
        thread.join()
