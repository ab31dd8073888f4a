"""SQLite's writers of several processes (API workers, the IVR, the CLI) on one database take
turns on an OS file lock beside it (``<database>-writer.lock``, ticketing.db._WriterQueue),
after their own process's turn: the next writer starts when the last commits, instead of
polling SQLite's lock with sleeps. Real processes, since processes are the point."""

from __future__ import annotations

import fcntl
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ticketing.db import (
    WritersQueuedTooLong,
    database_unavailable,
    make_engine,
    make_session_factory,
    transaction,
)
from ticketing.outage import first_line

REPO = Path(__file__).resolve().parents[2]

# A process that writes through make_engine on command, one line in, one line out:
# "begin" opens a write transaction and inserts (and holds it), "commit" ends it, "read"
# holds a reader's transaction open, "write N TAG THREADS" commits N rows per thread.
CHILD = r"""
import sys, threading
from sqlalchemy import text
from ticketing.db import make_engine, make_read_session_factory, make_session_factory, transaction
engine = make_engine(sys.argv[1])
writers, readers = make_session_factory(engine), make_read_session_factory(engine)
held = None
print("ready", flush=True)
for line in sys.stdin:
    cmd, *args = line.split()
    if cmd == "begin":
        held = writers()
        held.execute(text("INSERT INTO t VALUES ('held')"))
        print("holding", flush=True)
    elif cmd == "read":
        held = readers()
        held.execute(text("SELECT count(*) FROM t")).scalar_one()
        print("reading", flush=True)
    elif cmd == "commit":
        held.commit()
        held.close()
        print("committed", flush=True)
    elif cmd == "write":
        n, tag, threads = int(args[0]), args[1], int(args[2])
        def rows(k):
            for i in range(n):
                with transaction(writers) as s:
                    s.execute(text("INSERT INTO t VALUES (:v)"), {"v": f"{tag}-{k}-{i}"})
        ts = [threading.Thread(target=rows, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("wrote", flush=True)
"""


class Child:
    """One writer process; ``say`` sends a command and returns its one-line answer."""

    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, url], cwd=REPO, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        assert self.answer() == "ready"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.strip())
        self._lines.put("<exited>")

    def answer(self, wait: float = 120) -> str:
        try:
            return self._lines.get(timeout=wait)
        except queue.Empty:
            return "<no answer>"

    def say(self, command: str, wait: float = 120) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.answer(wait)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (v TEXT)")
    engine.dispose()
    yield path


def _rows(path: Path) -> list[str]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as c:
            return [r[0] for r in c.exec_driver_sql("SELECT v FROM t")]
    finally:
        engine.dispose()


def _lock_is_free(path: Path) -> bool:
    fd = os.open(f"{path}-writer.lock", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_writers_turn_is_held_on_the_lock_file_and_a_readers_is_not(db: Path) -> None:
    child = Child(f"sqlite:///{db}")
    try:
        assert child.say("begin") == "holding"
        assert not _lock_is_free(db)  # any other process's writer waits in the kernel
        assert child.say("commit") == "committed"
        assert _lock_is_free(db)
        assert child.say("read") == "reading"
        assert _lock_is_free(db)  # while the reader's transaction is open
    finally:
        child.stop()


def test_writers_of_three_processes_at_once_all_land(db: Path) -> None:
    children = [Child(f"sqlite:///{db}") for _ in range(3)]
    try:
        for n, child in enumerate(children):
            assert child.proc.stdin is not None
            child.proc.stdin.write(f"write 60 p{n} 3\n")
            child.proc.stdin.flush()
        assert [child.answer() for child in children] == ["wrote"] * 3
    finally:
        errors = [child.stop() for child in children]
    assert errors == [""] * 3
    rows = _rows(db)
    assert len(rows) == len(set(rows)) == 3 * 3 * 60


def test_a_process_killed_holding_the_turn_holds_no_one_up(db: Path) -> None:
    # On the shipped busy wait (30 s): the kernel drops a dead process's flock, so the writer
    # waiting in this process goes on at once, not when its wait runs out.
    child = Child(f"sqlite:///{db}")
    engine = make_engine(f"sqlite:///{db}")
    writers = make_session_factory(engine)
    outcome: list[object] = []

    def write() -> None:
        try:
            with transaction(writers) as s:
                s.execute(text("INSERT INTO t VALUES ('after')"))
            outcome.append("wrote")
        except Exception as exc:  # reported by the assertion below
            outcome.append(exc)

    try:
        assert child.say("begin") == "holding"
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(0.5)
        assert writer.is_alive() and not outcome  # waiting its turn behind the child
        os.kill(child.proc.pid, signal.SIGKILL)
        writer.join(20)
        assert outcome == ["wrote"]
    finally:
        child.stop()
        engine.dispose()
    assert _rows(db) == ["after"]  # the killed child's uncommitted row rolled back


def test_another_process_holding_the_turn_past_the_busy_wait_is_an_outage(
        db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    child = Child(f"sqlite:///{db}")
    monkeypatch.setattr("ticketing.db.SQLITE_BUSY_SECONDS", 0.3)
    engine = make_engine(f"sqlite:///{db}")
    writers = make_session_factory(engine)
    try:
        assert child.say("begin") == "holding"
        with pytest.raises(WritersQueuedTooLong) as caught, transaction(writers) as s:
            s.execute(text("INSERT INTO t VALUES ('queued')"))
        assert database_unavailable(caught.value)
        assert first_line(caught.value) == "database is locked (writers queued too long)"
        assert child.say("commit") == "committed"
        # The wait given up here keeps no lock: the child writes again, then so does this
        # process.
        assert child.say("write 1 again 1") == "wrote"
        with transaction(writers) as s:
            s.execute(text("INSERT INTO t VALUES ('later')"))
    finally:
        child.stop()
        engine.dispose()
    assert sorted(_rows(db)) == ["again-0-0", "held", "later"]


def _immutable(*paths: Path, on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", *map(str, paths)], check=True)


def test_a_directory_where_no_lock_file_can_be_made(tmp_path: Path) -> None:
    # As root, file modes stop no write: the directory is made immutable (chattr +i), as in
    # the read-only trial (docs/security.md, "Trial (sixteenth round)").
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "h.db"
    url = f"sqlite:///{path}"
    keeper = sqlite3.connect(path)  # another process's connection keeps the WAL files
    keeper.execute("PRAGMA journal_mode=WAL")
    keeper.execute("CREATE TABLE t (v TEXT)")
    keeper.commit()
    wal = Path(f"{path}-wal")
    lock = Path(f"{path}-writer.lock")
    assert wal.exists() and not lock.exists()
    engine = make_engine(url)
    writers = make_session_factory(engine)
    _immutable(folder, on=True)
    try:
        # No lock file can be made: the writer meets other processes at SQLite's lock, as
        # before, and writes.
        with transaction(writers) as s:
            s.execute(text("INSERT INTO t VALUES ('no lock file')"))
        # The file itself read-only too: the write fails as an outage, as it always did.
        _immutable(path, wal, on=True)
        try:
            with pytest.raises(Exception) as caught, transaction(writers) as s:
                s.execute(text("INSERT INTO t VALUES ('refused')"))
            assert database_unavailable(caught.value), caught.value
        finally:
            _immutable(path, wal, on=False)
    finally:
        _immutable(folder, on=False)
    assert not lock.exists()
    # Writable again: the lock file is made at the next write and the turns queue on it.
    with transaction(writers) as s:
        s.execute(text("INSERT INTO t VALUES ('again')"))
    assert lock.exists()
    engine.dispose()
    keeper.close()
    assert _rows(path) == ["no lock file", "again"]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_has_no_lock_file(
        url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as s:
        s.execute(text("CREATE TABLE t (v TEXT)"))
        s.execute(text("INSERT INTO t VALUES ('x')"))
    engine.dispose()
    assert list(tmp_path.iterdir()) == []
