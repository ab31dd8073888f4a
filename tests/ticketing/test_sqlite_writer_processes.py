"""SQLite's writers of several processes (API workers, the IVR, the CLI) on one database take
turns on an OS file lock beside it (``<database>-writer.lock``, ticketing.db._WriterQueue),
after their own process's turn: the next writer starts when the last commits, instead of
polling SQLite's lock with sleeps. Real processes, since processes are the point."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import queue
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.harness import spawn
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
# holds a reader's transaction open, "write N TAG THREADS" commits N rows per thread, "fork"
# forks a child that lives on (idle, two minutes at most) and answers its pid.
CHILD = r"""
import os, sys, threading, time
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
    elif cmd == "fork":
        forked, ready = os.pipe()
        pid = os.fork()
        if pid == 0:
            quiet = os.open(os.devnull, os.O_RDWR)
            for n in (0, 1, 2):
                os.dup2(quiet, n)
            os.write(ready, b"x")
            time.sleep(120)
            os._exit(0)
        os.close(ready)
        os.read(forked, 1)  # the child is past fork, and so past its fork hooks
        print(f"forked {pid}", flush=True)
"""


class Child:
    """One writer process; ``say`` sends a command and returns its one-line answer."""

    def __init__(self, url: str) -> None:
        self.proc = spawn(
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


def _new_db(path: Path) -> Path:
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (v TEXT)")
    engine.dispose()
    return path


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    yield _new_db(tmp_path / "w.db")


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


# Each Child is an interpreter of its own (~0.35 CPU-s to import and start): the tests with
# several, or with a kill or fork in them, are heavy by nature and run in the whole suite
# only (marker "slow", not `scripts/test.sh --fast`). The fast tier keeps one child's turn
# on the lock file (below) and the lock file's own checks.
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_a_child_forked_while_holding_the_turn_keeps_no_lock(db: Path) -> None:
    # The fork shares the lock file's open file, and with it the flock: a child that kept
    # its copy would hold the turn for as long as it lived once the parent died holding it.
    child = Child(f"sqlite:///{db}")
    forked = 0
    try:
        assert child.say("begin") == "holding"
        answer = child.say("fork")
        assert answer.startswith("forked "), answer
        forked = int(answer.split()[1])
        os.kill(child.proc.pid, signal.SIGKILL)
        child.proc.wait(30)
        os.kill(forked, 0)  # the forked child lives on
        assert _lock_is_free(db)
    finally:
        if forked:
            with contextlib.suppress(ProcessLookupError):
                os.kill(forked, signal.SIGKILL)
        child.stop()


NOBODY = pwd.getpwnam("nobody")


@contextlib.contextmanager
def _nobody_holding(lock: Path) -> Iterator[str]:
    """A process of user nobody opens ``lock`` for reading and holds a flock on it until
    the block ends; yields what it got: "holding", or the error of its open."""
    told, tell = os.pipe()
    done, finish = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(told)
            os.close(finish)
            os.setgroups([])
            os.setgid(NOBODY.pw_gid)
            os.setuid(NOBODY.pw_uid)
            try:
                fd = os.open(lock, os.O_RDONLY)
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.write(tell, b"holding")
            except OSError as exc:
                os.write(tell, (exc.strerror or str(exc)).encode())
            os.close(tell)
            os.read(done, 1)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(tell)
    os.close(done)
    try:
        yield os.read(told, 200).decode()
    finally:
        os.close(finish)
        os.close(told)
        os.waitpid(pid, 0)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    # tmp_path lies under a directory only root may enter; user nobody must reach this one.
    folder = Path(tempfile.mkdtemp(prefix="writer-lock-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_no_other_user_can_hold_the_lock_file(
        shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The review's attack: user nobody opened the service's lock file for reading (a flock
    # needs no more) and held it; the service's next write failed, writers queued too long.
    path = _new_db(shared_dir / "w.db")
    lock = Path(f"{path}-writer.lock")
    monkeypatch.setattr("ticketing.db.SQLITE_BUSY_SECONDS", 0.3)
    engine = make_engine(f"sqlite:///{path}")
    try:
        with _nobody_holding(lock) as got, transaction(make_session_factory(engine)) as s:
            s.execute(text("INSERT INTO t VALUES ('written')"))
    finally:
        engine.dispose()
    assert got == "Permission denied"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert _rows(path) == ["written"]


def _planted_by_nobody(lock: Path) -> Path:
    lock.touch(0o600)
    os.chown(lock, NOBODY.pw_uid, NOBODY.pw_gid)
    return lock


def _ours_with_mode(mode: int) -> Callable[[Path], Path]:
    def plant(lock: Path) -> Path:
        lock.touch()
        lock.chmod(mode)
        return lock
    return plant


def _a_directory(lock: Path) -> Path:
    lock.mkdir()
    return lock


def _a_symlink(lock: Path) -> Path:
    target = lock.parent / "elsewhere.lock"
    target.touch(0o600)
    lock.symlink_to(target)
    return target


@pytest.mark.parametrize("plant", [
    _planted_by_nobody, _ours_with_mode(0o644), _ours_with_mode(0o660), _a_directory,
    _a_symlink,
], ids=["another-users", "ours-0644", "ours-0660", "a-directory", "a-symlink"])
def test_a_lock_file_others_may_hold_is_passed_over(
        plant: Callable[[Path], Path], db: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    # Planted beforehand (or left by an older version, 0644) and held: used, it would stop
    # this process's writers; passed over, they meet other processes at SQLite's busy wait.
    lock = Path(f"{db}-writer.lock")
    lock.unlink()
    held = os.open(plant(lock), os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    monkeypatch.setattr("ticketing.db.SQLITE_BUSY_SECONDS", 0.3)
    engine = make_engine(f"sqlite:///{db}")
    writers = make_session_factory(engine)
    try:
        with caplog.at_level(logging.WARNING, logger="ticketing.db"):
            for n in range(2):
                with transaction(writers) as s:
                    s.execute(text("INSERT INTO t VALUES (:v)"), {"v": f"row {n}"})
    finally:
        engine.dispose()
        os.close(held)
    warned = [r.getMessage() for r in caplog.records if r.name == "ticketing.db"]
    assert len(warned) == 1 and str(lock) in warned[0], warned
    assert _rows(db) == ["row 0", "row 1"]
