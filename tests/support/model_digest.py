"""The intake model's SHA-256 computed once per file state in a test process.

``Domain.load`` (each ``domain`` fixture, each app a test builds, each CLI command run in
process) hashes the model artifact before it reads it (``ticketing.intake_model``: an
unpickled file must be the one its pointer records). The unpickled model is already kept
per file content (``_read_artifact``), but the hash of the shipped 4 MB file was paid on
every load: ~10 ms, ~1,500 times a whole run (docs/suite.md, twenty-second round).

Here the digest is kept per file state: device, inode, size, modification and change time
(ctime, which no write or ``utime`` leaves alone). A file whose change time is under
``SETTLED`` s old is hashed every time, as before: a rewrite of the same size within the
clock's granularity would leave its state looking the same (git's "racy" files). A
tampered copy (test_intake_shipped's flipped byte) is a new state, so it is hashed, and
refused, as in service. Service processes a test starts (``hotline serve``) hash as
shipped.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import ticketing.intake_model as intake_model

SETTLED = 2.0  # s: change times older than this are past the coarse clock's reach
_real = intake_model.file_sha256
_seen: dict[tuple[int, int, int, int, int], str] = {}


def _state(path: Path) -> tuple[int, int, int, int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def file_sha256(path: Path) -> str:
    before = _state(path)
    if before in _seen:
        return _seen[before]
    digest = _real(path)
    settled = time.time_ns() - before[4] > SETTLED * 1e9
    if settled and _state(path) == before:  # not changed while it was read
        _seen[before] = digest
    return digest


def install() -> None:
    intake_model.file_sha256 = file_sha256
