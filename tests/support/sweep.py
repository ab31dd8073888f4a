"""One test for a sweep of lines that are each checked alike (a classification round's
lines, say), reporting every failing line by itself.

Each parametrised case was an item of its own: collected by every xdist worker, run through
pytest's protocol and reported to the controller, ~2-3 ms of CPU a case beside the ~3 ms its
classification costs (docs/suite.md, thirty-third and thirty-fifth rounds). A sweep checks
every case whatever fails, and its one assertion names each failing case with its own
message, so nothing a case proved is lost and a failure still says which line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

Case = TypeVar("Case")


def failures(cases: Iterable[Case], check: Callable[[Case], object]) -> tuple[int, list[str]]:
    """How many cases were checked, and a line per case whose check failed: an
    AssertionError, or ``pytest.raises`` or ``pytest.fail`` failing."""
    checked, failed = 0, []
    for case in cases:
        checked += 1
        try:
            check(case)
        except (AssertionError, pytest.fail.Exception) as exc:
            failed.append(f"{case!r}: {str(exc).strip() or 'assertion failed'}")
    return checked, failed


def assert_every(cases: Iterable[Case], check: Callable[[Case], object]) -> None:
    """``check(case)`` for every case; one assertion listing each case that failed. A sweep
    of no case fails: an empty list proves nothing."""
    checked, failed = failures(cases, check)
    assert checked, "the sweep has no case"
    assert not failed, f"{len(failed)} of {checked} cases failed:\n" + "\n".join(failed)
