"""Never every xdist worker on a real-call test at once (at most workers − 1 in flight), so
the cores never idle while every worker waits on a call (docs/suite.md, twenty-sixth round).

A real-call test (marker "sip": SIPp, baresip, linphone, Kamailio on loopback) waits on real
time: 20-70 s of wall for ~1 CPU-s. The collection order spreads the calls among the
CPU-bound tests (tests/conftest.py ``_calls_among_the_rest``), but by their count, not by
their time: where the tests between two calls were quick, every worker reached a call at
about the same moment, and a clean-clone run on the idle machine had its two cores 16-49 %
busy for three minutes (the twenty-fifth round's end: 79 100 99 77 49 41 16 68 73 % by
minute). xdist's scheduler cannot know which tests wait; the workers can (the marker), so
the first worker writes the calls' node ids where the controller reads them, and the
controller, about to hand a call to a worker while the bound is reached, hands it the first
test that is no call instead; the call keeps its place at the queue's head. Nothing is
skipped or reordered but the calls, and with no test that is not a call left they go out
anyway.

Why workers − 1 and not workers − cores (4 of 6 on two cores): the calls are ~1,500
worker-s of the run's ~2,900 (six workers, ~490 s), so holding them to four left a minute or
two of calls alone at the end. A model of the run (each test's CPU-s from a whole profiled
run, each call's wait from an idle one, two cores shared, xdist's hand-out with its three
tests queued per worker; it gives 493 s and the idle middle for the shipped order, the
quiet run's 494 s) put the bound of four at 477-480 s and five at 450-480 s, the best of
them with the calls spread over the first 35 % of the rest (tests/conftest.py
``CALLS_SPREAD_OVER``): 450 s, and 20-45 s under the shipped order with every test's CPU or
every call's wait 20 % off either way (docs/suite.md).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

_ENV = "HOTLINE_TEST_CALLS_FILE"  # where the first worker writes the calls' node ids
_BOUND_ENV = "HOTLINE_TEST_CALLS_AT_ONCE"  # the bound, instead of workers − 1


def configure(config: pytest.Config) -> None:
    """In the controller of an xdist run (before its workers start, so they inherit the
    variable): a file for the first worker to write the calls into."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    fd, path = tempfile.mkstemp(prefix="hotline-calls-", suffix=".json")
    os.close(fd)
    os.unlink(path)  # written whole by the worker (a rename): absent means not (yet) told
    os.environ[_ENV] = path
    config.add_cleanup(lambda: Path(path).unlink(missing_ok=True))


def tell(config: pytest.Config, calls: Sequence[str]) -> None:
    """In the first worker, once its collection is final: the calls' node ids."""
    path = os.environ.get(_ENV)
    worker = getattr(config, "workerinput", {}).get("workerid")
    if not path or worker != "gw0":
        return
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(list(calls)), encoding="utf-8")
    tmp.replace(path)


# What the bound reads of xdist's loadscope scheduler: none of it is xdist's public API
# (pyproject pins the range it was tested with, constraints.txt the version). Without one
# of them the bound would stop silently or stop the run with an internal error: the run
# goes on with xdist's own scheduler instead, and says so in one line (review60).
_METHODS = ("_assign_work_unit", "_split_scope", "mark_test_complete", "remove_node")
_STATE = ("workqueue", "assigned_work", "registered_collections", "nodes")


def _say(config: pytest.Config, line: str) -> None:
    """One line on the controller's terminal (stderr without one)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line, yellow=True)
    else:
        print(line, file=sys.stderr)


def _missing(base: type, made: Any) -> list[str]:
    """The internals the bound needs that ``base`` (and ``made``, one of its schedulers)
    lack."""
    missing = [name for name in _METHODS if not callable(getattr(base, name, None))]
    missing += [name for name in _STATE if not hasattr(made, name)]
    if not callable(getattr(getattr(made, "workqueue", None), "move_to_end", None)):
        missing.append("workqueue.move_to_end")
    return missing


def scheduler(config: pytest.Config, log: Any) -> Any:
    """loadgroup with the bound, for ``pytest_xdist_make_scheduler``; None for any other
    --dist, or for an xdist without the internals the bound needs (xdist's own then)."""
    if config.getoption("dist", None) != "loadgroup" or not os.environ.get(_ENV):
        return None
    try:
        from xdist.scheduler import LoadGroupScheduling
    except ImportError:
        _say(config, "calls_at_once: this pytest-xdist has no LoadGroupScheduling; "
                     "real-call tests are not bounded in flight (xdist's own scheduler)")
        return None

    class BoundedCalls(LoadGroupScheduling):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(config, log)
            self._calls: frozenset[str] | None = None
            self._in_flight: set[str] = set()

        def _call_scopes(self) -> frozenset[str]:
            if self._calls is None:  # the workers have all collected by the first hand-out
                try:
                    ids = json.loads(Path(os.environ[_ENV]).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    ids = []
                # A call in a group (none today) is its group's business: not bounded.
                self._calls = frozenset(i for i in ids if self._split_scope(i) == i)
            return self._calls

        def _bound(self) -> int:
            if os.environ.get(_BOUND_ENV):
                return max(1, int(os.environ[_BOUND_ENV]))
            return max(1, len(self.nodes) - 1)

        def _assign_work_unit(self, node: Any) -> None:
            calls = self._call_scopes()
            if calls and len(self._in_flight) >= self._bound():
                other = next((s for s in self.workqueue if s not in calls), None)
                if other is not None:
                    self.workqueue.move_to_end(other, last=False)
            scope = next(iter(self.workqueue))
            # Only a call still to run: xdist puts a crashed worker's units back in the
            # queue, the ones it completed too; one of those handed out again runs nothing,
            # and counted in flight it never left the count (review60).
            if scope in calls and not all(self.workqueue[scope].values()):
                self._in_flight.add(scope)
            super()._assign_work_unit(node)

        def mark_test_complete(self, node: Any, item_index: int,
                               duration: float = 0) -> None:
            # A call is a unit of one test: done with it (before the hand-out it triggers).
            self._in_flight.discard(self.registered_collections[node][item_index])
            super().mark_test_complete(node, item_index, duration)

        def remove_node(self, node: Any) -> str | None:
            # A crashed worker's calls go back to the queue (xdist): none of them in flight.
            self._in_flight.difference_update(self.assigned_work.get(node, {}))
            return super().remove_node(node)  # type: ignore[no-any-return]

    try:
        bounded = BoundedCalls()
    except TypeError:  # its constructor takes other arguments now
        bounded = None
    missing = _missing(LoadGroupScheduling, bounded) if bounded is not None else ["__init__"]
    if missing:
        _say(config, "calls_at_once: this pytest-xdist lacks "
                     f"{', '.join(missing)}; real-call tests are not bounded in flight "
                     "(xdist's own loadgroup scheduler)")
        return None
    return bounded
