"""How a loop that meets a database outage (``ticketing.db.database_unavailable``) says so:
the outbound worker's tick, the scheduled ticket jobs; and the one line of an error that
the API, the CLI and these logs quote."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def first_line(exc: BaseException) -> str:
    """The first line of a database error, the DBAPI's own message when SQLAlchemy wrapped
    it: SQLAlchemy's goes on with the SQL and a link. An empty message is "" (this runs in
    error handlers, where an IndexError would replace the error being reported)."""
    return (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0]


class OutageLog:
    """One loop's database outage in two warnings, one when it starts and one when it ends
    (how long, how many tries failed), instead of a traceback at every try (the escalation
    job: two a minute; the outbound worker: every poll)."""

    def __init__(self, log: logging.Logger, name: str, *, waiting: str, counted: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # waiting: what the loop does meanwhile; counted: what a failed try is called.
        self._log, self.name = log, name
        self._waiting, self._counted, self._clock = waiting, counted, clock
        self.since: float | None = None
        self.failures = 0

    def failed(self, exc: BaseException) -> bool:
        """Count a try the outage stopped; True when it is the outage's first."""
        first = self.since is None
        if first:
            self.since = self._clock()
            self._log.warning("%s: database unavailable (%s: %s); %s", self.name,
                              type(exc).__name__, first_line(exc), self._waiting)
        self.failures += 1
        return first

    def succeeded(self) -> bool:
        """A try went through; True when it ended an outage."""
        if self.since is None:
            return False
        self._log.warning("%s: database available again after %.0f s (%d %s)", self.name,
                          self._clock() - self.since, self.failures, self._counted)
        self.since, self.failures = None, 0
        return True
