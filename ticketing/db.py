"""Engine and session set-up for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import logging
import os
import select
import sqlite3
import stat
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, create_engine, event, inspect, literal, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    """The database schema is missing or older than this code needs."""


SQLITE_BUSY_SECONDS = 30


# SQLite's primary result codes that say the file cannot be used just now, not that the
# statement is wrong: its lock held (BUSY, LOCKED), the file read-only, failing, full or
# not there to open. Everything else (SQLITE_ERROR: no such table or column, a syntax
# error; a constraint) is a bug or a bad request, and an outage's "try again" would hide it.
_SQLITE_OUTAGE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED,
                                  sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
                                  sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN})


class WritersQueuedTooLong(sqlite3.OperationalError):
    """Writers queued past the busy wait (``_WriterQueue``: this process's turn, or the
    lock file that other processes' writers hold): SQLite's SQLITE_BUSY in all but name,
    raised by us, so it carries the code SQLite would."""

    sqlite_errorcode = sqlite3.SQLITE_BUSY
    sqlite_errorname = "SQLITE_BUSY"


def _sqlite_code(exc: BaseException) -> int | None:
    """SQLite's primary result code of ``exc`` (extended codes folded), None if it has none."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


# PostgreSQL's SQLSTATE class 54, "program limit exceeded": an index row beyond a btree's
# 2704 bytes, a statement too complex, too many columns or arguments. psycopg files it under
# OperationalError with the lost connections, but the same request fails the same way on a
# healthy server every time: a property of the request, not an outage to wait out.
_PG_LIMIT_CLASS = "54"


def beyond_database_limits(exc: BaseException) -> bool:
    """True when the database refused ``exc``'s statement for its size or shape (PostgreSQL's
    class 54): the request is to blame, and retrying it would fail again."""
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    return str(getattr(orig, "sqlstate", None) or "").startswith(_PG_LIMIT_CLASS)


def database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached or written just now (SQLite's
    write lock held past the busy wait, its file read-only or full, PostgreSQL down or its
    pool exhausted): an outage to wait out, not a bug. The writer queue's own timeout is
    raised in SQLAlchemy's ``begin`` event, outside its wrapping, hence the bare sqlite3
    error."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if ticket_number_taken(exc):
        return True
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    if isinstance(orig, sqlite3.Error):
        return _sqlite_code(orig) in _SQLITE_OUTAGE_CODES
    # PostgreSQL: psycopg's OperationalError and InterfaceError are a connection lost or
    # refused; its programming errors are SQLAlchemy's ProgrammingError, not counted; nor
    # is a statement over the server's limits, an OperationalError too.
    if beyond_database_limits(exc):
        return False
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError,
                            sa_exc.TimeoutError))


def ticket_number_taken(exc: BaseException) -> bool:
    """True when the database refused a ticket because its number is taken already. One
    version of the code cannot cause it (``ticketing.service._next_number``); a node of an
    older one still running through an upgrade, the sequence (PostgreSQL) or the day's
    counter row (SQLite) set back by hand, a restore of tickets without it, can. The filing
    is written once more with a number past it (``ticketing.group_commit``,
    ``service.number_past_taken``) and then answered as an outage to wait out (a 503 with
    Retry-After), never a 500 (review69; mend68; on SQLite and in a group, review73)."""
    if not isinstance(exc, sa_exc.IntegrityError):
        return False
    if isinstance(exc.orig, sqlite3.IntegrityError):
        return (getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_CONSTRAINT_UNIQUE
                and str(exc.orig) == "UNIQUE constraint failed: tickets.number")
    diag = getattr(exc.orig, "diag", None)
    return (getattr(exc.orig, "sqlstate", None) == "23505" and diag is not None
            and diag.table_name == "tickets" and "number" in (diag.constraint_name or ""))


def transaction_lost(exc: BaseException) -> bool:
    """``database_unavailable``, but for a number taken: the transaction it failed in is
    lost with it, where a filing refused a taken number loses only its own savepoint (it
    is written once more: ``ticketing.group_commit``)."""
    return database_unavailable(exc) and not ticket_number_taken(exc)


def _read_only_error(exc: BaseException) -> bool:
    """SQLite's SQLITE_READONLY (any extended code): this connection cannot write."""
    return isinstance(exc, sqlite3.OperationalError) \
        and _sqlite_code(exc) == sqlite3.SQLITE_READONLY


class _WriterQueue:
    """SQLite's writers wait here, in turn, for the one write lock: this process's threads on
    a Python lock, then the processes on the same file (API workers, the IVR, the CLI) on an
    OS file lock (``flock``) beside the database, ``<database>-writer.lock``.

    Left to SQLite alone, a writer that finds the lock taken polls it with sleeps growing to
    100 ms (busy_timeout), so under a burst the lock sits free while writers sleep and the
    unlucky ones wait seconds. Waiting on a Python lock and then on the kernel's, the next
    writer starts the moment the last one commits. The kernel drops a flock with its
    process, so one killed mid-transaction holds no one up (SQLite rolls its journal back).
    Without a lock file (``:memory:``, a URI, a directory where it cannot be made: a
    read-only mount, ``chattr +i``) the writers of other processes meet at SQLite's lock
    with busy_timeout, as before; the file is tried again at the next write.

    The file lock is ``_WriterFileLock``'s. Whoever can open the file can hold the lock and
    stop every writer, so it is made 0600 and only a regular file of this process's user
    that no one else may read or write is used (``_usable``); any other (planted beforehand
    by another user, a symlink, left 0644 by an older version) is passed over with one
    warning, as if there were none. A forked child closes its copy of the descriptor at once
    (``_after_fork_in_child``): kept, it would hold the lock as long as the child lived if
    the parent died holding it. A lock file deleted while processes use it splits them in
    two queues (the running ones on the old file, new ones on a new file), which meet at
    SQLite's lock with busy_timeout: slower, never a deadlock.
    """

    def __init__(self, lock_path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._holder: int | None = None
        self._file = _WriterFileLock(lock_path) if lock_path is not None else None
        _QUEUES.add(self)

    @staticmethod
    def _key(conn: Any) -> int:
        # The pool hands the dialect its proxy of the DBAPI connection, a session the raw one.
        return id(getattr(conn, "dbapi_connection", conn))

    def enter(self, dbapi_conn: Any) -> None:
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        if not self._lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise WritersQueuedTooLong("database is locked (writers queued too long)")
        try:
            if self._file is not None:
                self._file.take(deadline)
        except BaseException:
            self._lock.release()
            raise
        self._holder = self._key(dbapi_conn)

    def leave(self, dbapi_conn: Any) -> None:
        # Only the connection that took its turn gives it back: a reader's rollback, or a
        # pool reset of a connection that never wrote, is not a turn.
        if self._holder is not None and self._holder == self._key(dbapi_conn):
            self._holder = None
            if self._file is not None:
                self._file.give_back()
            self._lock.release()

    def _after_fork_in_child(self) -> None:
        # The parent's turn did not come along.
        self._lock, self._holder = threading.Lock(), None
        if self._file is not None:
            self._file._after_fork_in_child()


class _WriterFileLock:
    """The processes' part of ``_WriterQueue``: an ``flock`` on ``path``, taken by a turn
    (``take``) and given back at its end (``give_back``)."""

    # How long an idle waiter thread (below) stays for the next contended write.
    _AGENT_IDLE_SECONDS = 5.0

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._close_fd: weakref.finalize | None = None
        self._refused = False  # a lock file was passed over (and warned of, once)
        self._held = False  # the current turn holds the file lock
        # The waiter thread's state, under _cond: a flock being waited for; a turn that wants
        # it; the flock taken and handed to that turn.
        self._cond = threading.Condition(threading.Lock())
        self._acquiring = self._wanted = self._granted = False
        self._agent: threading.Thread | None = None

    def give_back(self) -> None:
        if self._held:
            self._held = False
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]

    def _open(self) -> int | None:
        """The lock file, open; None where there is none to be had (see the class)."""
        if self._fd is not None:
            return self._fd
        # flock needs no write access: an existing lock file in a directory that became
        # read-only still serves, opened for reading. O_NOFOLLOW: a symlink planted there
        # would have the open create or lock a file elsewhere; O_NONBLOCK: a FIFO planted
        # there would block the open for reading until a writer came (flock ignores it).
        for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
            try:
                fd = os.open(self._path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                             0o600)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    self._refuse("a symbolic link")
                    return None
                continue
            fault = self._usable(fd)
            if fault:
                os.close(fd)
                self._refuse(fault)
                return None
            self._fd = fd
            self._close_fd = weakref.finalize(self, os.close, fd)
            return fd
        return None

    @staticmethod
    def _usable(fd: int) -> str:
        """Why the open lock file may not serve, "" if it may: anyone else who can open it
        can hold the lock and so stop this process's writers."""
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return "not a regular file"
        if st.st_uid != os.geteuid():
            return f"owned by uid {st.st_uid}, not this process's {os.geteuid()}"
        if st.st_mode & 0o066:
            return f"mode {stat.S_IMODE(st.st_mode):04o}, others may open it"
        return ""

    def _refuse(self, fault: str) -> None:
        if not self._refused:
            self._refused = True
            log.warning("SQLite writer lock file %s not used (%s): the writers of several "
                        "processes meet at SQLite's busy wait instead; remove the file to "
                        "have it made afresh", self._path, fault)

    def _after_fork_in_child(self) -> None:
        # The descriptor is shared with the parent: kept open here, a parent killed holding
        # the flock would leave it held as long as this child lived. The parent's helper
        # thread did not come along either. The child opens its own at its next write.
        if self._close_fd is not None:
            self._close_fd.detach()  # the number may name another file once closed here
            self._close_fd = None
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self._held = False
        self._acquiring = self._wanted = self._granted = False
        self._cond, self._agent = threading.Condition(threading.Lock()), None

    def take(self, deadline: float) -> None:
        """Take the file lock for this turn (the caller holds the queue's Python lock),
        waiting at most until ``deadline``.

        flock has no timeout, and a thread blocked in it cannot be interrupted (a signal
        reaches only the main thread, and Python retries the call). So an uncontended lock
        is taken at once with LOCK_NB, in this thread: one system call, the single process's
        whole cost. A contended one is waited for by a helper thread blocked in flock (the
        GIL released), which hands it over the moment the kernel grants it; this thread
        waits on a condition with the time left, and on timeout raises WritersQueuedTooLong
        while the helper keeps waiting: whichever turn comes next takes the lock from it, or
        it gives the lock straight back if no turn wants it. No sleep-polling either way.
        The helper lives while writes keep contending and leaves after a few idle seconds."""
        fd = self._open()
        if fd is None:
            return
        with self._cond:
            # While the helper waits on this descriptor, a LOCK_NB here would succeed the
            # moment the kernel grants the helper's (a flock belongs to the open file, not
            # the thread), and the helper would then give back a lock this turn holds.
            if not self._acquiring:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    self._held = True
                    return
                except BlockingIOError:
                    pass
                except OSError:
                    return  # a file system without flock: SQLite's own lock alone
                if self._agent is None:
                    agent = threading.Thread(target=self._wait_for_file, args=(fd,),
                                             name="sqlite-writer-lock", daemon=True)
                    try:
                        agent.start()
                    except RuntimeError:
                        return  # no thread to be had: SQLite's busy wait, as before
                    self._agent = agent
                self._acquiring = True
                self._cond.notify_all()
            self._wanted = True
            try:
                # Woken when the helper is done: with the lock, or failed (no lock to wait for).
                done = self._cond.wait_for(lambda: self._granted or not self._acquiring,
                                           timeout=max(0.0, deadline - time.monotonic()))
            finally:
                self._wanted = False
            if not done:
                raise WritersQueuedTooLong("database is locked (writers queued too long)")
            self._held, self._granted = self._granted, False

    def _wait_for_file(self, fd: int) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._acquiring,
                                           timeout=self._AGENT_IDLE_SECONDS):
                    self._agent = None
                    return
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                taken = True
            except OSError:
                taken = False
            with self._cond:
                self._acquiring = False
                if taken and self._wanted:
                    self._granted = True
                elif taken:
                    fcntl.flock(fd, fcntl.LOCK_UN)  # the turn gave up: no one is served
                self._cond.notify_all()


# Every _WriterQueue, for the fork hook: one hook for the module, not one per engine, and
# no engine kept alive by it.
_QUEUES: weakref.WeakSet[_WriterQueue] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for queue in list(_QUEUES):
        queue._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def writer_lock_path(url: str) -> Path | None:
    """The lock file on which the writers of every process using the SQLite database at
    ``url`` take turns (``_WriterQueue``); None for PostgreSQL, an in-memory database (one
    process's alone) or a URI filename (which may name memory or anything)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return Path(f"{u.database}-writer.lock").absolute()


def make_engine(url: str, **kwargs: Any) -> Engine:
    # A failed statement's error ends with its values: a demand, a transcript, a caller's
    # name and address, whole, in every traceback the service logs (the log masks numbers,
    # not words). The statement is kept; the values are not (priv44).
    kwargs.setdefault("hide_parameters", True)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
            **kwargs,
        )
        writers = _WriterQueue(writer_lock_path(url))
        dialect = engine.dialect
        do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

        # Every end of a transaction goes through the dialect (a session's commit, a
        # rollback, the pool's reset of a returned connection), so the turn is given back
        # after the COMMIT or ROLLBACK has run, whichever path ended it.
        def _commit(dbapi_conn: Any) -> None:
            try:
                do_commit(dbapi_conn)
            finally:
                writers.leave(dbapi_conn)

        def _rollback(dbapi_conn: Any) -> None:
            try:
                do_rollback(dbapi_conn)
            finally:
                writers.leave(dbapi_conn)

        dialect.do_commit = _commit  # type: ignore[method-assign]
        dialect.do_rollback = _rollback  # type: ignore[method-assign]

        # A connection dropped without a rollback (invalidated after an error, closed)
        # ends its transaction in SQLite; its turn must end too, or every writer after it
        # would wait the full busy time.
        def _dropped(dbapi_conn: Any, *_: Any) -> None:
            writers.leave(dbapi_conn)

        for name in ("checkin", "close", "close_detached", "invalidate", "soft_invalidate"):
            event.listen(engine, name, _dropped)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; busy_timeout makes writers queue
            # instead of failing with "database is locked" under concurrent requests.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # Take over transaction control from the sqlite3 module (see below).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "handle_error")
        def _read_only_file(context: Any) -> None:
            # SQLite opens a file it may not write (read-only mount, chattr +i, a full
            # disk remounted) read-only without a word, and that connection stays so: kept
            # in the pool, it failed every write long after the file was writable again
            # (13 of 20 tickets, trial of 2026-12-05). Dropped like a lost connection, the
            # pool opens fresh ones.
            if _read_only_error(context.original_exception):
                context.is_disconnect = True

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A deferred transaction that reads and then writes fails at once with
            # SQLITE_BUSY_SNAPSHOT when another writer committed in between; busy_timeout
            # cannot help there. Taking the write lock at BEGIN makes writers queue instead.
            # A reader (make_read_session_factory) never writes, so it takes no lock: in WAL it
            # reads its snapshot beside the writer instead of queueing behind every ticket.
            if conn.get_execution_options().get(READ_ONLY, False):
                conn.exec_driver_sql("BEGIN")
                return
            dbapi_conn = conn.connection.dbapi_connection
            writers.enter(dbapi_conn)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.leave(dbapi_conn)
                raise

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 40)
    # A database restart (or a backend ended by an administrator) is ridden out: a pooled
    # connection it ended is found at checkout, the pool's older connections are dropped,
    # and the request gets a fresh one.
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.driver == "psycopg":
        dialect = engine.dialect
        rested_since: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

        @event.listens_for(engine, "checkin")
        def _resting(dbapi_conn: Any, _record: Any) -> None:
            if dbapi_conn is not None:  # None: invalidated, not going back to the pool
                rested_since[dbapi_conn] = time.monotonic()

        dialect.do_ping = partial(_ping_if_the_server_spoke,  # type: ignore[method-assign]
                                  dialect.do_ping, rested_since)
    return engine


# A pooled connection that rested longer than this is pinged for real at checkout, not only
# polled. A server side gone without a FIN (its host rebooted, a failover to a standby
# behind the same address, a NAT or conntrack table flushed) leaves the socket quiet, and
# only a packet sent finds out (a RST back): the ping, which reconnects quietly, rather
# than the request's first statement, a 503 for every request in flight. Under load a
# connection rests microseconds to milliseconds between requests, so the hot path still
# sends nothing; a quiet spell of a second or more pays one round trip, unnoticed there.
PING_AFTER_REST_S = 1.0


def _ping_if_the_server_spoke(ping: Callable[[Any], bool],
                              rested_since: weakref.WeakKeyDictionary[Any, float],
                              dbapi_conn: Any) -> bool:
    """The pool's pre-ping of a psycopg connection, without a round trip while the
    connection rested briefly and nothing suggests one: a pooled connection is idle, and the
    server sends an idle client nothing unasked but the news that it is going (the FATAL of
    a shutdown or of pg_terminate_backend) or the socket's end, either of which makes the
    socket readable. So the socket is polled (a system call) and the real ping (``;``, a
    round trip) sent when it is readable or shut, to tell which, or when the connection
    rested longer than ``PING_AFTER_REST_S`` (a peer that forgot the connection says
    nothing until sent something). The ping was two of a filing's ten round trips
    (docs/scaling.md, twenty-sixth and twenty-seventh rounds; mend68)."""
    if dbapi_conn.closed or dbapi_conn.broken:
        return False
    since = rested_since.get(dbapi_conn)
    if since is not None and time.monotonic() - since > PING_AFTER_REST_S:
        return ping(dbapi_conn)
    try:
        poller = select.poll()
        poller.register(dbapi_conn.pgconn.socket, select.POLLIN | select.POLLPRI)
        quiet = not poller.poll(0)
    except (OSError, ValueError):  # no socket to poll: let the ping say what is wrong
        quiet = False
    return True if quiet else ping(dbapi_conn)


_AT_COMMIT = "hotline_at_commit"  # Session.info key: statements run_at_commit queued


def one_of(column: Any, constants: Iterable[str]) -> ColumnElement[bool]:
    """``column IN (...)`` of a fixed set of strings (statuses, roles), for statements built
    once and run on every filing. ``column.in_(a_list)`` is an expanding parameter:
    SQLAlchemy renders the list into the cached statement's SQL at every execution
    (~45 µs the duplicate look-up, twenty-ninth round); a parameter each is compiled once
    with the statement and only bound. Sorted: one SQL text whatever the set's order."""
    return column.in_([literal(value) for value in sorted(constants)])


def run_at_commit(session: Session, statement: Executable, *, row: tuple[str, int]) -> None:
    """Run ``statement`` in the session's transaction, but last, just before its COMMIT.

    For an UPDATE of a row that many concurrent transactions touch (a counter on the
    original of a much-reported problem): PostgreSQL holds the row's lock from the UPDATE
    to the commit, so run where it was written it holds every other creator of that row up
    for the rest of the request; run last, for one round trip. The statement still commits
    or rolls back with the transaction, and a savepoint rolled back drops the statements
    queued inside it.

    ``row`` is the row the statement locks, (table, id). The queued statements run in that
    order, not in the order they came: a transaction that bumps several such rows (a group
    of filings, ticketing.group_commit) takes their locks in the order every other one
    does, so two of them never wait for each other's (a deadlock, which PostgreSQL ends by
    failing one of them)."""
    tx = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(_AT_COMMIT, []).append((tx, row, statement))


@event.listens_for(Session, "before_commit")
def _run_queued(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction goes on
    # Taken off first: should one fail, the rollback must not find them still queued.
    for _, _, statement in sorted(session.info.pop(_AT_COMMIT, ()), key=lambda q: q[1]):
        session.execute(statement)


def undone_by(rolled_back: SessionTransaction) -> SessionTransaction:
    """The savepoint (or the transaction) whose work the database undid when ``rolled_back``
    was: itself, unless it is a sub-transaction. A flush runs in a sub-transaction of its
    own, and when a statement of it fails SQLAlchemy rolls back the nearest savepoint or
    the transaction above it, but ``after_soft_rollback`` names the flush's sub-transaction;
    the savepoint's own exit then only closes it, with no event (review73: state kept for a
    savepoint was not put back, and a filing failing at a flush in its savepoint left a gap
    in the day's numbers and its ticket in the session). Every listener that undoes what a
    savepoint did asks this."""
    tx = rolled_back
    while not tx.nested and tx.parent is not None:
        tx = tx.parent
    return tx


def _inside(tx: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    undone = undone_by(rolled_back)
    while tx is not None:
        if tx is undone:
            return True
        tx = tx.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, rolled_back: SessionTransaction) -> None:
    queued = session.info.get(_AT_COMMIT)
    if not queued:
        return
    session.info[_AT_COMMIT] = [q for q in queued if not _inside(q[0], rolled_back)]


# Session.info key: (transaction, object, keys) state set without a flush (below).
_UNFLUSHED = "hotline_unflushed_state"
_UNLOADED = object()


def persistent_unflushed(session: Session, *objs: object) -> None:
    """``objs`` were made persistent without a flush (rows a Core statement inserted,
    ``make_transient_to_detached`` and ``add``). A rollback of the transaction or savepoint
    they were written in takes them out of the session, as it takes the objects its flushes
    inserted; else they stay in the identity map naming rows that are gone, and the next
    row given the same id (SQLite reuses a rolled-back rowid) clashes with them."""
    tx = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_UNFLUSHED, []).extend((tx, obj, None) for obj in objs)


def set_unflushed(session: Session, obj: Any, **values: Any) -> None:
    """Set ``values`` on ``obj`` as its stored ones (``set_committed_value``): a statement
    of this transaction wrote them, or one ``run_at_commit`` queued will. A rollback of
    the savepoint they were set in puts the values before back (not the stored ones: a
    count may hold increments still queued), as it would undo what a flush wrote; else the
    next filing reads a 督办 count one too high."""
    tx = session.get_nested_transaction() or session.get_transaction()
    # A value not loaded (expired) is read again after the rollback.
    before = {key: obj.__dict__.get(key, _UNLOADED) for key in values}
    session.info.setdefault(_UNFLUSHED, []).append((tx, obj, before))
    for key, value in values.items():
        set_committed_value(obj, key, value)


@event.listens_for(Session, "after_soft_rollback")
def _undo_unflushed(session: Session, rolled_back: SessionTransaction) -> None:
    noted = session.info.get(_UNFLUSHED)
    if not noted:
        return
    kept = []
    # Latest first: a value set twice in the savepoint gets the one from before both.
    for tx, obj, before in reversed(noted):
        if not _inside(tx, rolled_back):
            kept.append((tx, obj, before))
        elif obj in session:
            if before is None:
                session.expunge(obj)
            else:
                for key, value in before.items():
                    if value is _UNLOADED:
                        session.expire(obj, [key])
                    else:
                        set_committed_value(obj, key, value)
    session.info[_UNFLUSHED] = kept[::-1]


@event.listens_for(Session, "after_transaction_end")
def _drop_unfinished(session: Session, transaction: SessionTransaction) -> None:
    # The session closed without a commit (or committed: the queue is empty then).
    if transaction.parent is None:
        session.info.pop(_AT_COMMIT, None)
        session.info.pop(_UNFLUSHED, None)


READ_ONLY = "hotline_read_only"  # execution option: this connection's transaction only reads


class ReadOnlySession(Session):
    """A session that only reads: on SQLite its transaction starts deferred (no write lock).

    A flush with changes is refused: on SQLite a deferred transaction that then writes can
    fail with SQLITE_BUSY_SNAPSHOT, and a reader that writes belongs in a writer's session.
    """

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise RuntimeError("a read-only session may not write; use make_session_factory")
        super().flush(objects)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that may write (on SQLite: BEGIN IMMEDIATE, the write lock from the start)."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that only read (lists, a ticket, /metrics): the one place that
    decides a transaction is a reader's. Same pool and connections as the writers'."""
    return sessionmaker(engine.execution_options(**{READ_ONLY: True}), class_=ReadOnlySession,
                        expire_on_commit=False)


def hold_key(session: Session, namespace: str, key: str) -> None:
    """Hold ``namespace:key`` until the transaction ends, so that a count and the write it
    allows are one step for every process and node (a check and a later write would let
    each of several simultaneous callers past a count none had raised yet). PostgreSQL: a
    transaction-scoped advisory lock; SQLite needs none, its writers' transactions begin
    IMMEDIATE (``make_session_factory``) and are serialised already."""
    if session.get_bind().dialect.name == "postgresql":
        lock = int.from_bytes(hashlib.sha256(f"{namespace}:{key}".encode()).digest()[:8],
                              "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def schema_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return row[0] if row else None


def require_migrated(engine: Engine, head: str) -> None:
    """Refuse a database whose schema is not at ``head`` (the newest migration)."""
    rev = schema_revision(engine)
    if rev != head:
        found = "no schema" if rev is None else f"schema revision {rev}"
        raise NotMigrated(
            f"database {engine.url.render_as_string(hide_password=True)} has {found}, "
            f"this version needs {head}: run `hotline db upgrade`"
        )
