"""What one `hotline serve` process runs: `--role api|ivr|outbound|all`.

By default (``all``) one process runs everything. Split, the HTTP API can run as several
uvicorn worker processes (it holds no state of its own; PostgreSQL orders the writers, and
SQLite's take turns on a file lock), while the parts that must exist once per node — the
SIP front end, which binds the SIP port, and the background jobs — run in their own process
beside it. ``hotline.wiring`` starts the parts a role names.
"""

from __future__ import annotations

import fcntl
import os
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from config import Settings
from telephony.twilio.signature import in_use as twilio_in_use
from ticketing.db import writer_lock_path

# How long uvicorn's supervisor waits for a worker's start-up on a restart (SIGHUP) before
# it kills the worker and abandons the restart; a loaded node takes longer than uvicorn's
# default 5 s to import the app (hotline.cli).
WORKER_START_SECONDS = 60
# How long uvicorn lets open requests finish on a stop (SIGTERM) before it cancels them.
# Since loose30 it comes after the calls' drain (hotline.serving: callers told, their words
# filed), and Docker SIGKILLs at stop_grace_period (docker-compose.yml); uvicorn's default
# waits for ever, so one slow export or recording download held the stop until the
# SIGKILL (review70). 12 s: a Twilio webhook answers within that (docs/twilio.md).
HTTP_STOP_SECONDS = 12


class ServeRole(StrEnum):
    API = "api"
    IVR = "ivr"
    OUTBOUND = "outbound"
    ALL = "all"


class Part(StrEnum):
    HTTP = "http"  # the REST API, console, Twilio webhooks, /metrics, /healthz
    VOICE = "voice"  # the SIP IVR, the speech model, spool recovery, the ASR backlog
    JOBS = "jobs"  # ticket jobs: utility escalation, archiving, recordings retention
    OUTBOUND = "outbound"  # the outbound worker (SMS, reminder and survey calls)


PARTS: dict[ServeRole, frozenset[Part]] = {
    ServeRole.ALL: frozenset(Part),
    ServeRole.API: frozenset({Part.HTTP}),
    ServeRole.IVR: frozenset({Part.VOICE}),
    ServeRole.OUTBOUND: frozenset({Part.JOBS, Part.OUTBOUND}),
}


class RoleError(ValueError):
    """A role and options that cannot run together."""


class DataDirInUse(RuntimeError):
    """Another live `hotline serve` runs a part of this one on the same data dir."""


# The data-dir locks this process holds, by lock file (open for the life of the process:
# the kernel drops them when it dies, so a kill -9 leaves none behind).
_HELD: dict[Path, int] = {}


def hold_data_dir(data_dir: Path, parts: frozenset[Part]) -> None:
    """Hold, for the life of the process, a lock in ``data_dir`` for each part that must run
    once per data dir: the IVR (its spool and recordings), the ticket jobs, the outbound
    worker. Raises DataDirInUse naming the holder's pid when another live process holds one.

    Two services on one data dir wrote one spool, one recordings tree and (the embedded
    default) one SQLite file, and ran every scheduled job twice. The API is not locked: its
    workers hold no state, and `--role api` beside `--role ivr` and `--role outbound` on
    one node, all with the same settings, is how a node is split on purpose. Nodes of a
    PostgreSQL deployment each have a data dir of their own (docs/scaling.md)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for part in sorted(parts - {Part.HTTP}):
        path = (data_dir / f".serve-{part.value}.lock").resolve()
        if path in _HELD:  # this process again (the CLI invoked twice in one process)
            continue
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DataDirInUse(
                f"data dir {data_dir} is in use by hotline serve pid {holder}, which runs "
                f"{part.value} there already: stop it, or give this service its own "
                "HOTLINE_DATA_DIR") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[path] = fd


def listening(settings: Settings, role: ServeRole, *, host: str | None,
              port: int | None) -> Settings:
    """The one rule of where a `hotline serve` process listens for HTTP: ``--host`` and
    ``--port`` name the listener its role has. A role that runs the API: the API's (else
    ``host``, ``port``). One that does not (`--role ivr`, `--role outbound`): its status
    listener's, /healthz and /metrics (else ``status_host``, ``status_port``; 0: none),
    checked as the settings check them (an address, not the API's port). A second node
    without the API on one host (a node split into ivr and outbound on the same settings)
    gives one of them its own ``--port`` or ``HOTLINE_STATUS_PORT`` (docs/scaling.md).
    Before (judge39), such a role took no notice of ``--port``: both bound 8001, and the
    second ran without /healthz or /metrics."""
    if Part.HTTP in PARTS[role]:
        return settings.model_copy(update={"host": host or settings.host,
                                           "port": port or settings.port})
    given = {name: value for name, value in (("status_host", host), ("status_port", port))
             if value is not None}
    if not given:
        return settings
    try:
        # Validated whole, so the settings' own checks of a status listener apply.
        return type(settings).model_validate(settings.model_dump() | given)
    except ValidationError as exc:
        what = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise RoleError(f"the status listener of --role {role.value}: {what}") from None


def check_workers(role: ServeRole, workers: int) -> None:
    """Only the API may run as several processes: each process of another role would bind
    the SIP port again or run every job twice over."""
    if workers < 1:
        raise RoleError("--workers must be at least 1")
    if workers > 1 and PARTS[role] != {Part.HTTP}:
        raise RoleError(f"--workers {workers} needs --role api (role {role.value} runs "
                        f"{', '.join(sorted(p.value for p in PARTS[role] - {Part.HTTP}))}, "
                        "which must run once per node)")



# API workers an SQLite database gets by default, however many cores: two were measured on
# 2 cores (docs/scaling.md, twenty-fifth round); more would all take turns for the one
# write lock, and each holds its own classifier (~0.5 GB resident, review57).
SQLITE_API_WORKERS = 2


def default_workers(role: ServeRole, settings: Settings, cores: int | None = None) -> int:
    """How many processes `hotline serve` runs when --workers is not given: for the API role
    one per core on PostgreSQL, up to ``SQLITE_API_WORKERS`` on SQLite; else one.

    One process files tickets on one core (the GIL): on a 2-core node it served about 60
    tickets/s and fell seconds behind at 100/s offered, where two kept up (docs/scaling.md).
    PostgreSQL orders the writers of all processes. On SQLite they take turns for the one
    write lock on a file lock beside the database (``ticketing.db.writer_lock_path``), and
    since the API writes its filings in groups (twenty-fourth round) two processes on a quiet
    2-core node filed 274 tickets/s with a p95 of 219 ms where one filed 205/s with 360 ms
    (docs/scaling.md, twenty-fifth round); that is all that was measured, and more than two
    would only queue for the same lock, each with its own ~0.5 GB, so SQLite stops at two
    (a 16-core node would have started 16). An SQLite database without that lock file (in
    memory, or a ``file:`` URI, which may name memory: each process could have its own)
    stays at one. The other roles must run once.
    An install that uses Twilio stays at one: the webhooks of one call are serialised by a
    lock in the process (docs/twilio.md, "Limits")."""
    url = settings.database_url
    postgresql = make_url(url).get_backend_name() == "postgresql"
    if PARTS[role] != {Part.HTTP} or twilio_in_use(settings) \
            or not (postgresql or writer_lock_path(url) is not None):
        return 1
    per_core = max(1, cores if cores is not None else (os.cpu_count() or 1))
    return per_core if postgresql else min(per_core, SQLITE_API_WORKERS)
