"""Group commit: the filings one process receives at once, written in one transaction.

A request that files alone pays a transaction's fixed costs: a session and its connection,
BEGIN (on SQLite the write lock, and with several processes the writers' turn across them,
``ticketing.db._WriterQueue``), COMMIT with its fsync, the turn given back. Under load many
requests wait for those at once. Here a request hands its filing to the process's writer and
waits for its own outcome; the writer takes every filing waiting when it becomes free (idle,
at once: a group of one, no added delay), files them in ONE transaction, commits once and
answers each request. A group is written plainly first; if one of its filings fails, the
whole group is rolled back and written again with each filing in its own SAVEPOINT (most
groups have no failing filing, and a savepoint costs two statements a filing).

What a lone request had, each filing keeps:

- its own outcome: an error of one filing (an input refused, a key reused, a role that may
  not file, a constraint) rolls back its savepoint (in the group's second writing) and
  answers that request only; the others commit;
- nothing answered before the commit: a failed commit, or a database outage in the middle
  of the group, fails every filing not yet refused with the error a lone request would get
  (the same 503); a crash before the commit answers nobody and commits nothing;
- its place in the order it came: filings are written in the order they were handed over.

What is built of a filing for its answer and needs no row (``finish``: the API's answer made
of the values its transaction read) is built after the commit, when the writers' turn is
given back: CPU that held every other writer up (docs/scaling.md, twenty-seventh round).

Per process, one group at a time: with several API workers each groups its own, and on
SQLite each group takes one writers' turn across the processes. The API files this way on
SQLite (``ticketing.views.filing_writer``); on PostgreSQL, whose transactions run side by side,
it filed fewer tickets a second than lone transactions (docs/scaling.md, twenty-fourth round).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from ticketing.db import transaction_lost

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Written = TypeVar("Written")
Outcome = TypeVar("Outcome")


# Session.info key: the number of filings the group's transaction writes (``write_one`` may
# prepare for more than one: ticketing.views.write_filing counts its handler picks then).
GROUP_SIZE = "hotline_group_size"


class WriterStopped(RuntimeError):
    """The writer was stopped (cancelled with the process, or its thread interrupted) while
    it wrote the group: its requests cannot be told whether it committed, as a lone request
    cut off then could not; a retry with the Idempotency-Key finds out."""


class GroupCommit(Generic[Item, Written, Outcome]):
    """One process's writer of ``Item``\\ s: ``write_one(session, item)`` files one in the
    group's transaction (inside a savepoint of its own when the group is written again after
    a filing failed) and returns what its request answers, or what ``finish`` makes that
    answer of after the commit (outside the transaction and SQLite's writers' turn; no
    ``finish``: ``write_one``'s value is the answer). ``finish`` must read no row: its
    transaction has ended; and it should not fail: its filing is committed, so its answer
    is the filing's success (the API's ``views.filed_response`` answers with the committed
    plain values when the full answer fails to build). An error that escapes it all the
    same is logged and answers that filing only, the others answered as committed.

    ``prepare(item)``, if given, is what each filing needs done before any transaction (the
    API's: its demand classified; its token was checked in the request's thread, as any
    database read must be: here it would hold up the whole group); the writer's thread runs
    it for the whole group before BEGIN, so the request hops to no thread of its own and no
    other thread competes for the GIL while the group is written. Its error answers that filing
    only, which then takes no part in the transaction.

    ``again(session, error)``, if given, says whether a filing that failed with ``error`` is
    written once more (the API's: a ticket number taken already, the session told to number
    past it): in its own savepoint, the others of the group untouched; alone, in a new
    transaction. Failing again, its error is its answer, as any filing's.

    ``submit`` is called on the event loop; ``write`` (the group's transaction) runs in a
    worker thread, one group at a time."""

    def __init__(self, sessions: sessionmaker[Session],
                 write_one: Callable[[Session, Item], Written],
                 prepare: Callable[[Item], Item] | None = None,
                 finish: Callable[[Written], Outcome] | None = None,
                 again: Callable[[Session, Exception], bool] | None = None) -> None:
        self._sessions = sessions
        self._write_one = write_one
        self._prepare = prepare
        self._finish = finish
        self._again = again
        self._waiting: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._writer: asyncio.Task[None] | None = None  # writing, one group at a time
        self._loop: asyncio.AbstractEventLoop | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    @property
    def prepares(self) -> bool:
        """The writer's thread prepares each item (``prepare``) before the transaction."""
        return self._prepare is not None

    @property
    def waiting(self) -> int:
        """Filings handed over and waiting for the writer (not those it is writing)."""
        return len(self._waiting)

    async def submit(self, item: Item) -> Outcome:
        """``item`` filed with whatever else is waiting; its outcome once the group has
        committed (or its own error, or the group's)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # An app served by a new event loop (a test client opened again): futures and
            # the task belong to the loop that made them.
            self._loop, self._waiting, self._writer = loop, [], None
            # The writer's own thread: queued behind the requests waiting for the thread
            # pool (other endpoints' work), a group would wait for all of them.
            self._limiter = anyio.CapacityLimiter(1)
        future: asyncio.Future[Outcome] = loop.create_future()
        self._waiting.append((item, future))
        if self._writer is None:
            self._writer = loop.create_task(self._drain())
        # Shielded: a request cancelled while its group is written does not cancel the
        # outcome the writer will set (its filing is written all the same, as a lone
        # request's thread went on).
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        # The writer ends when nothing waits, and says so in the same step (not in a done
        # callback, a loop iteration later): a filing handed over after that check starts
        # another writer, never waits for one that has ended.
        try:
            while self._waiting:
                group, self._waiting = self._waiting, []
                try:
                    outcomes = await anyio.to_thread.run_sync(
                        self.write, [item for item, _ in group], limiter=self._limiter)
                except BaseException as exc:
                    stopped = WriterStopped("the filing writer was stopped while writing")
                    stopped.__cause__ = exc
                    for _, future in group:
                        if not future.done():
                            future.set_exception(stopped)
                    raise
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._writer = None
            # An exception escaped write() (the session factory, the rollback or close in
            # its finally, the thread interrupted): its group has its answer, but filings
            # handed over meanwhile would wait for a writer nobody starts until another
            # filing comes. Start one for them (on this loop, unless it is closing).
            if self._waiting and self._loop is not None and not self._loop.is_closed():
                self._writer = self._loop.create_task(self._drain())

    def write(self, items: list[Item]) -> list[Outcome | Exception]:
        """File ``items`` in one transaction (each prepared first, outside it; in a savepoint
        each if one fails); each one's outcome (its answer, or the exception its request
        raises), in order. Nothing is returned before the commit: an exception that is not
        an outcome (the thread interrupted) leaves the transaction rolled back and
        propagates."""
        written = self._write_prepared(items)
        if self._finish is None:
            return written  # type: ignore[return-value]  # Written is Outcome without finish
        return [w if isinstance(w, Exception) else self._finished(w) for w in written]

    def _finished(self, written: Written) -> Outcome | Exception:
        # After the commit: the filing is in the database whatever happens here.
        try:
            return self._finish(written)  # type: ignore[misc]
        except Exception as exc:
            log.exception("a filing committed, its answer not built")
            return exc

    def _write_prepared(self, items: list[Item]) -> list[Written | Exception]:
        if self._prepare is None:
            return self._write_ready(items)
        refused: dict[int, Exception] = {}
        ready: list[Item] = []
        for i, item in enumerate(items):
            try:
                ready.append(self._prepare(item))
            except Exception as exc:
                refused[i] = exc
        written = iter(self._write_ready(ready) if ready else ())
        return [refused[i] if i in refused else next(written) for i in range(len(items))]

    def _write_ready(self, items: list[Item]) -> list[Written | Exception]:
        if len(items) > 1:
            written = self._write_without_savepoints(items)
            if written is not None:
                return written
        return self._write_in_savepoints(items)

    def _write_without_savepoints(self, items: list[Item]) -> list[Written | Exception] | None:
        """The group written as one plain transaction: most groups have no filing that
        fails, and a savepoint a filing costs two statements and SQLAlchemy's nested
        transaction inside the writers' turn (docs/scaling.md, twenty-fifth round). None
        when a filing failed: all of it rolled back, the group is to be written again with
        a savepoint a filing (``_write_in_savepoints``), which answers that one alone."""
        session = self._session(items)
        try:
            outcomes: list[Written | Exception] = []
            try:
                for item in items:
                    outcomes.append(self._write_one(session, item))
                    # Its pending rows written now, inside its own try: left for the
                    # COMMIT, a filing's failing row (the last one's, or any left
                    # unflushed) would be taken for a failed commit and fail the whole
                    # group, never written again a savepoint each (review57).
                    session.flush()
            except Exception as exc:
                if transaction_lost(exc):
                    # The group's transaction is lost, as it would be in savepoints:
                    # every filing gets what a lone request got.
                    return [exc] * len(items)
                log.debug("a filing of a group of %d failed (%s): written again, a "
                          "savepoint each", len(items), exc)
                return None
            try:
                session.commit()
            except Exception as exc:
                log.debug("a group of %d filings not committed: %s", len(items), exc)
                return [exc] * len(items)
            return outcomes
        finally:
            session.rollback()
            session.close()

    def _session(self, items: list[Item]) -> Session:
        session = self._sessions()
        session.info[GROUP_SIZE] = len(items)
        return session

    def _write_in_savepoints(self, items: list[Item]) -> list[Written | Exception]:
        outcomes: list[Written | Exception] = []
        # A group of one (every filing when the writer is idle) needs no savepoint: its
        # error rolls its transaction back, as a lone request's did; two statements saved.
        alone = len(items) == 1
        session = self._session(items)
        try:
            try:
                for item in items:
                    outcomes.append(self._write_item(session, item, alone))
                session.commit()
            except Exception as exc:
                log.debug("a group of %d filings not committed: %s", len(items), exc)
                # A filing already refused keeps its own answer (it was never to commit).
                return [o if isinstance(o, Exception) else exc for o in outcomes] \
                    + [exc] * (len(items) - len(outcomes))
        finally:
            session.rollback()
            session.close()
        return outcomes

    def _write_item(self, session: Session, item: Item, alone: bool) -> Written | Exception:
        """One filing of ``_write_in_savepoints``: its outcome, written once more if
        ``again`` says so. Raises what loses the group's transaction."""
        for last_try in (False, True):
            try:
                if alone:
                    return self._write_one(session, item)
                # Its outcome kept until the savepoint is released: the release flushes
                # the filing's pending rows and may fail, and an outcome returned inside
                # the block would then be followed by that error, two answers for one
                # filing and every later answer given to the wrong request (review57).
                with session.begin_nested():
                    outcome = self._write_one(session, item)
                return outcome
            except Exception as exc:
                once_more = (not last_try and self._again is not None
                             and self._again(session, exc))
                if alone and once_more:
                    session.rollback()  # a transaction of its own again
                    continue
                if alone or transaction_lost(exc) or not _usable(session):
                    # Alone, its error is its answer, nothing committed. Else the
                    # database went away (or the savepoint could not be rolled
                    # back): the group's transaction is lost; every filing gets
                    # what a lone request got.
                    raise
                if not once_more:
                    return exc
        raise AssertionError("unreachable: the last try returns or raises")


def _usable(session: Session) -> bool:
    """The session's outer transaction can go on after a savepoint's rollback."""
    tx = session.get_transaction()
    return tx is not None and tx.is_active
