"""A session fixture's files made once per run, not once per xdist worker.

A session fixture runs in every worker that needs it: six workers rendered the whole prompt
catalogue six times (espeak-ng and sox, ~1.3 CPU-s each; docs/suite.md, nineteenth round).
Files that no test changes (each test copies what it needs) can be made by the first worker
and read by the others, as pytest-xdist's documentation suggests: in the directory the
workers' temporary directories share, under a lock. That directory belongs to this run
alone; without xdist the files are made in the session's own temporary directory, as
before (pytest's base directory's parent would be shared with other runs)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str,
              make: Callable[[Path], None]) -> Path:
    """A directory ``name`` filled by ``make(directory)`` once for the whole run."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        where = tmp_path_factory.mktemp(name)
        make(where)
        return where
    shared = tmp_path_factory.getbasetemp().parent  # this run's, beside popen-gw0 ...
    where = shared / f"run-once-{name}"
    with (shared / f"run-once-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        done = where / ".done"  # a worker that failed half-way leaves none: the next retries
        if not done.exists():
            if where.exists():
                shutil.rmtree(where)
            where.mkdir()
            make(where)
            done.touch()
    return where


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links refused: a copy, as before
        shutil.copy2(source, target)


def seed_prompts(cache: Path, data_dir: Path) -> None:
    """A node's prompt cache (``data_dir/prompts``) seeded with a catalogue rendered once
    (tests/conftest.py's ``shipped_prompts``, tests/ivr/conftest.py's ``prompt_cache``):
    content-addressed files, so the node's start finds what it would have rendered and
    renders only what is missing. Hard links, not copies (suite53): the library never
    writes a cached file in place (``telephony.media.prompts``: rendered beside it, then
    renamed over it), so the run's catalogue stays as made whatever a test's node does, and
    a seed costs ~60 links instead of copying ~3-7 MB; cheap enough for every socket-free
    dialogue (``services``), whose fixed prompts espeak-ng and sox made again per test."""
    shutil.copytree(cache, Path(data_dir) / "prompts", copy_function=_link,
                    dirs_exist_ok=True)
