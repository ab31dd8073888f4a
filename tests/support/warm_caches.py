"""pytest plugin for scripts/test.sh's collect-only pass: every test module is imported, as
a collection imports it (pytest's assertion rewrite, its cached ``*-pytest-*.pyc``, and the
bytecode of everything the module imports), but no test item is made.

The pass exists for those caches alone: each xdist worker collects the whole suite again
and finds them filled. Making the items (parametrising, each test's fixture closure, ids,
markers, tests/conftest.py's ordering) is the workers' own work, and the pass threw it away:
~a quarter of a warm collection's CPU (cProfile of a collect-only run, docs/suite.md,
thirty-second round).
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object) -> list[Any]:
    # A firstresult hook: an empty list ends it here, so no function or class becomes a
    # node (the module itself was imported when its collector asked for its object).
    return []
