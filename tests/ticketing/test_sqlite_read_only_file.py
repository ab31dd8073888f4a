"""A SQLite file that was read-only for a while (a read-only mount, chattr +i, a disk
remounted after errors): SQLite opens it read-only without a word, and such a connection
stays read-only. The pool must not keep handing it out once the file is writable again.
The read-only spell is played by opening connections with ``mode=ro``, which SQLite
treats exactly as a file it may not write (root ignores file modes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ticketing.db import make_engine, make_read_session_factory, make_session_factory, transaction


def test_writes_work_again_once_the_file_is_writable(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    keeper = sqlite3.connect(path)  # another process's connection keeps the WAL files
    keeper.execute("PRAGMA journal_mode=WAL")
    keeper.execute("CREATE TABLE t (n INTEGER)")
    keeper.commit()
    read_only = {"now": False}

    def opener() -> sqlite3.Connection:
        mode = "ro" if read_only["now"] else "rw"
        return sqlite3.connect(f"file:{path}?mode={mode}", uri=True, check_same_thread=False)

    engine = make_engine(f"sqlite:///{path}", creator=opener)
    writers, readers = make_session_factory(engine), make_read_session_factory(engine)
    try:
        read_only["now"] = True
        with pytest.raises(OperationalError, match="readonly"), transaction(writers) as s:
            s.execute(text("INSERT INTO t VALUES (0)"))
        # Requests that only read go on meanwhile, each on a connection opened read-only.
        held = [readers() for _ in range(3)]
        for s in held:
            assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        for s in held:
            s.close()

        read_only["now"] = False
        done = []
        for n in range(1, 6):
            try:
                with transaction(writers) as s:
                    s.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
                done.append(n)
            except OperationalError:
                pass
        # Before: every write failed on the connections kept from the read-only spell.
        # At most the first meets one of them, which takes them all out of the pool.
        assert done[-4:] == [2, 3, 4, 5]
        assert keeper.execute("SELECT count(*) FROM t").fetchone()[0] == len(done)
    finally:
        engine.dispose()
        keeper.close()
