"""SQLite's writers of one process take turns on a Python lock (ticketing.db._WriterQueue)
before BEGIN IMMEDIATE; every way a transaction ends gives the turn back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ticketing.db import make_engine, make_read_session_factory, make_session_factory


@pytest.fixture
def engine(tmp_path: Path):
    e = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    with e.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield e
    e.dispose()


def _turn_is_free(engine, seconds: float = 5.0) -> bool:
    """Another thread can write within ``seconds`` (the turn is not held)."""
    done = threading.Event()

    def write() -> None:
        with engine.begin() as c:
            c.exec_driver_sql("INSERT INTO t VALUES (1)")
        done.set()

    threading.Thread(target=write, daemon=True).start()
    return done.wait(seconds)


def test_a_second_writer_waits_for_the_first_and_then_writes(engine) -> None:
    sessions = make_session_factory(engine)
    order: list[str] = []
    first = sessions()
    first.execute(text("INSERT INTO t VALUES (1)"))
    started = threading.Event()

    def second() -> None:
        started.set()
        with sessions() as s:
            s.execute(text("INSERT INTO t VALUES (2)"))
            order.append("second")
            s.commit()

    th = threading.Thread(target=second)
    th.start()
    started.wait()
    th.join(0.3)
    assert th.is_alive()  # queued behind the first writer's turn, not failed
    order.append("first")
    first.commit()
    first.close()
    th.join(10)
    assert order == ["first", "second"]
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2


@pytest.mark.parametrize("end", ["commit", "rollback", "close", "invalidate", "error"])
def test_every_end_of_a_transaction_gives_the_turn_back(engine, end: str) -> None:
    s = make_session_factory(engine)()
    s.execute(text("INSERT INTO t VALUES (1)"))
    if end == "commit":
        s.commit()
    elif end == "rollback":
        s.rollback()
    elif end == "close":
        s.close()
    elif end == "invalidate":
        s.connection().invalidate()
    else:
        with pytest.raises(OperationalError):
            s.execute(text("INSERT INTO no_such_table VALUES (1)"))
        s.rollback()
    assert _turn_is_free(engine)
    s.close()


def test_a_reader_takes_no_turn(engine) -> None:
    reader = make_read_session_factory(engine)()
    assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
    assert _turn_is_free(engine)  # while the reader's transaction is still open
    reader.close()
