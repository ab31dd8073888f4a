"""The test processes' garbage collector (tests/conftest.py): its full pass runs 1 in
``FULL_COLLECTION_EVERY`` middle passes, and what collection made is frozen out of its
walks. Each full pass walked every object a worker keeps alive to the run's end (the
items, the modules, the models and caches): ~12 % of tests/console's CPU in one process
(docs/suite.md, thirty-fourth round)."""

from __future__ import annotations

import gc

from tests.conftest import FULL_COLLECTION_EVERY


def test_the_full_pass_is_rarer_and_the_collected_items_are_frozen() -> None:
    assert FULL_COLLECTION_EVERY > 10  # CPython's own 10
    assert gc.get_threshold()[2] == FULL_COLLECTION_EVERY
    assert gc.get_freeze_count() > 0  # this test's own item among them
    assert gc.isenabled()


def test_a_cycle_is_still_collected() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2
