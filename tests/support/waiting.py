"""Waiting on another thread or process: until a condition holds, never a fixed sleep.

A fixed sleep before asserting on what another thread or process did is a guess at how long
it takes, and a loaded machine (two cores, eight xdist workers, other runs) makes it wrong
now and then; polling for the condition waits exactly as long as it needs."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(check: Callable[[], object], timeout: float, what: str = "condition",
               *, every: float = 0.05) -> None:
    """Until ``check()`` is true; an AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not reached in {timeout} s"
        time.sleep(every)


class SessionClock:
    """``time.monotonic`` plus the seconds a test has skipped: a front end's
    ``session_clock``, so session timers run out without waiting them out."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds
