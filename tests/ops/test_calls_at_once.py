"""The suite's scheduler keeps at most the bound of real-call tests in flight while other
tests are left to hand out (tests/support/calls_at_once.py): a small xdist run of its own,
two workers, calls that note when they ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # two pytest runs of two workers each: extra interpreters

REPO = Path(__file__).resolve().parents[2]

# Wired as tests/conftest.py wires it (there the node ids are told after the groups' suffix).
CONFTEST = '''
import pytest
from tests.support import calls_at_once

def pytest_configure(config):
    calls_at_once.configure(config)

@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    return calls_at_once.scheduler(config, log)

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    calls_at_once.tell(config, [i.nodeid for i in items if i.get_closest_marker("sip")])
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


def _calls_overlapping(tmp_path: Path, bound: int) -> int:
    """Pairs of calls that ran at the same time in a two-worker run bounded to ``bound``."""
    run = tmp_path / f"bound{bound}"
    run.mkdir()
    (run / "pytest.ini").write_text("[pytest]\nmarkers =\n    sip: a call\n")
    (run / "conftest.py").write_text(CONFTEST)
    (run / "test_mixed.py").write_text(TESTS)
    log = run / "calls.jsonl"
    # xdist alone: the other installed plugins' imports were most of each process's start.
    env = {**os.environ, "PYTHONPATH": str(REPO), "CALLS_LOG": str(log),
           "HOTLINE_TEST_CALLS_AT_ONCE": str(bound), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "xdist", "-n", "2", "--dist",
                           "loadgroup", "-p", "no:cacheprovider", str(run)],
                          cwd=run, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    spans = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(spans) == 3
    return sum(1 for a in spans for b in spans
               if a[0] < b[0] and a[1] < b[2] and b[1] < a[2])


def test_at_most_the_bound_of_calls_run_at_once(tmp_path: Path) -> None:
    assert _calls_overlapping(tmp_path, bound=1) == 0
    # The same run with room for two: xdist hands the first two calls out together.
    assert _calls_overlapping(tmp_path, bound=2) > 0
