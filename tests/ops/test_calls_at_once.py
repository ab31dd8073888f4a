"""The suite's scheduler keeps at most the bound of real-call tests in flight while other
tests are left to hand out (tests/support/calls_at_once.py): a small xdist run of its own,
two workers, calls that note when they ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support import calls_at_once

pytestmark = pytest.mark.slow  # two pytest runs of two workers each: extra interpreters

REPO = Path(__file__).resolve().parents[2]

# The suite's own wiring: tests/conftest.py's hooks, imported as they are (review60: a
# wiring of the test's own passed whether or not the suite's hook told the calls). A run
# with CALLS_XDIST_LACKS set is one on an xdist without that internal (the fallback).
CONFTEST = '''
import os
from tests.conftest import (
    pytest_collection_modifyitems_xdist_groups,
    pytest_configure,
    pytest_xdist_make_scheduler,
)

if os.environ.get("CALLS_XDIST_LACKS"):
    from tests.support import calls_at_once
    calls_at_once._METHODS += (os.environ["CALLS_XDIST_LACKS"],)
'''

# Three calls first (as the suite hands out its long calls early), then enough quick tests
# that the calls end before the other tests run out (with none left, calls go out anyway).
TESTS = '''
import json, os, time
import pytest

def _noted(name, seconds):
    began = time.monotonic()
    time.sleep(seconds)
    with open(os.environ["CALLS_LOG"], "a") as f:
        f.write(json.dumps([name, began, time.monotonic()]) + "\\n")

@pytest.mark.sip
@pytest.mark.parametrize("n", range(3))
def test_call(n):
    _noted(f"call{n}", 0.4)

@pytest.mark.parametrize("n", range(40))
def test_quick(n):
    time.sleep(0.05)
'''


def _run(tmp_path: Path, bound: int, **env: str) -> tuple[int, str]:
    """Pairs of calls that ran at the same time in a two-worker run bounded to ``bound``,
    and what the run printed."""
    run = tmp_path / f"bound{bound}"
    run.mkdir()
    (run / "pytest.ini").write_text("[pytest]\nmarkers =\n    sip: a call\n")
    (run / "conftest.py").write_text(CONFTEST)
    (run / "test_mixed.py").write_text(TESTS)
    log = run / "calls.jsonl"
    # xdist alone: the other installed plugins' imports were most of each process's start.
    env = {**os.environ, "PYTHONPATH": str(REPO), "CALLS_LOG": str(log),
           "HOTLINE_TEST_CALLS_AT_ONCE": str(bound), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           **env}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-n", "2", "--dist",
                           "loadgroup", "-p", "no:cacheprovider", str(run)],
                          cwd=run, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    spans = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(spans) == 3
    return (sum(1 for a in spans for b in spans
                if a[0] < b[0] and a[1] < b[2] and b[1] < a[2]), done.stdout + done.stderr)


def test_at_most_the_bound_of_calls_run_at_once(tmp_path: Path) -> None:
    """The same run unbounded overlaps its calls (xdist's own scheduler, the test below);
    that a bound of two hands two out together is the scheduler's, without processes
    (test_the_bound_is_how_many_calls_go_out_together): a second run here with room for
    two cost another ~3-4 CPU-s (docs/suite.md, thirty-first round)."""
    overlapping, _ = _run(tmp_path, bound=1)
    assert overlapping == 0


def test_an_xdist_without_the_internals_runs_unbounded_and_says_so(tmp_path: Path) -> None:
    """review60: the bound subclasses xdist's private internals; an xdist without one of
    them stopped the run with an internal error, or left the bound doing nothing without a
    word. It now runs on with xdist's own scheduler (the calls go out as xdist hands them)
    and says so in one line."""
    overlapping, said = _run(tmp_path, bound=1, CALLS_XDIST_LACKS="_gone_in_a_later_xdist")
    assert overlapping > 0
    assert "calls_at_once: this pytest-xdist lacks _gone_in_a_later_xdist" in said


class _Config:
    """What xdist's loadgroup scheduler reads of the controller's config."""

    option = SimpleNamespace(loadscopereorder=False)

    def __init__(self) -> None:
        self.pluginmanager = SimpleNamespace(get_plugin=lambda name: None)

    def getoption(self, name: str, default: object = None) -> object:
        return {"dist": "loadgroup"}.get(name, default)

    def getvalue(self, name: str) -> list[str]:
        return ["2*popen"]


class _Log:
    def __getattr__(self, name: str) -> _Log:
        return self

    def __call__(self, *args: object) -> None:
        pass


class _Worker:
    """A worker as the scheduler sees it: the tests it was sent."""

    def __init__(self, name: str) -> None:
        self.name, self.shutting_down, self.sent = name, False, list[int]()
        self.gateway = SimpleNamespace(id=name)

    def shutdown(self) -> None:
        self.shutting_down = True

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)


def _first_hand_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[str],
                    collection: list[str], bound: int | None) -> tuple[Any, _Worker, _Worker]:
    """xdist's loadgroup scheduler with the suite's bound (None: none given, as CI runs it),
    told ``calls``, after its first hand-out of ``collection`` to two stand-in workers."""
    told = tmp_path / "calls.json"
    told.write_text(json.dumps(calls))
    monkeypatch.setenv("HOTLINE_TEST_CALLS_FILE", str(told))
    if bound is None:
        monkeypatch.delenv("HOTLINE_TEST_CALLS_AT_ONCE", raising=False)
    else:
        monkeypatch.setenv("HOTLINE_TEST_CALLS_AT_ONCE", str(bound))
    sched = calls_at_once.scheduler(_Config(), _Log())  # type: ignore[arg-type]
    a, b = _Worker("a"), _Worker("b")
    for worker in (a, b):
        sched.add_node(worker)
        sched.add_node_collection(worker, collection)
    sched.schedule()
    return sched, a, b


@pytest.mark.parametrize("bound", [1, 2])
def test_the_bound_is_how_many_calls_go_out_together(
        bound: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three calls first, then quick tests, two workers (the run above): xdist's first
    hand-out gives each worker two tests; the calls among them are at most the bound, the
    rest of the hand-out the quick tests that come first."""
    calls = [f"t.py::test_call[{i}]" for i in range(3)]
    collection = calls + [f"t.py::test_quick[{i}]" for i in range(40)]
    sched, a, b = _first_hand_out(tmp_path, monkeypatch, calls, collection, bound)
    sent = [collection[i] for i in a.sent + b.sent]
    assert sorted(n for n in sent if n in calls) == calls[:bound]
    assert sched._in_flight == set(calls[:bound])
    assert len(sent) == 4


def test_with_no_bound_given_one_call_fewer_than_the_workers_go_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's default, as `scripts/test.sh` runs it (no HOTLINE_TEST_CALLS_AT_ONCE):
    workers − 1 calls at once, so with two workers one, the other worker on quick tests."""
    calls = [f"t.py::test_call[{i}]" for i in range(3)]
    collection = calls + [f"t.py::test_quick[{i}]" for i in range(40)]
    sched, a, b = _first_hand_out(tmp_path, monkeypatch, calls, collection, None)
    sent = [collection[i] for i in a.sent + b.sent]
    assert [n for n in sent if n in calls] == calls[:1]
    assert sched._in_flight == set(calls[:1])


def test_a_crashed_workers_completed_call_is_not_counted_in_flight_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """review60: xdist puts a crashed worker's units back in the queue, the completed ones
    too; a completed call handed out again runs nothing, and was counted in flight for the
    rest of the run, holding the other calls back. xdist's own scheduler with the suite's
    bound; only the workers are stand-ins (no sockets, no processes)."""
    calls = [f"t.py::test_call[{i}]" for i in range(4)]
    quick = [f"t.py::test_quick[{i}]" for i in range(30)]
    collection = calls[:2] + quick[:10] + calls[2:] + quick[10:]
    sched, a, b = _first_hand_out(tmp_path, monkeypatch, calls, collection, 1)

    def run_one(worker: _Worker) -> str | None:
        done = {i for units in sched.assigned_work.get(worker, {}).values()
                for nodeid, complete in units.items() if complete
                for i in [collection.index(nodeid)]}
        pending = [i for i in worker.sent if i not in done]
        if not pending:
            return None
        sched.mark_test_complete(worker, pending[0])
        return collection[pending[0]]

    ran = [run_one(a) for _ in range(3)]
    assert calls[0] in ran  # a completed a call, then dies with work in hand
    assert sched.remove_node(a) is not None
    c = _Worker("c")
    sched.add_node(c)
    sched.add_node_collection(c, collection)
    sched.schedule()
    order: list[str] = []
    for _ in range(200):
        steps = [r for r in (run_one(b), run_one(c)) if r]
        order += steps
        if not steps:
            break
    assert sched._in_flight == set()
    assert sorted(set(calls) - set(ran)) == sorted(n for n in order if n in calls)
