"""What one `hotline serve` process runs: `--role api|ivr|outbound|all`.

By default (``all``) one process runs everything. Split, the HTTP API can run as several
uvicorn worker processes (it holds no state of its own; PostgreSQL orders the writers),
while the parts that must exist once per node — the SIP front end, which binds the SIP
port, and the background jobs — run in their own process beside it. ``hotline.wiring``
starts the parts a role names.
"""

from __future__ import annotations

from enum import StrEnum


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


def check_workers(role: ServeRole, workers: int) -> None:
    """Only the API may run as several processes: each process of another role would bind
    the SIP port again or run every job twice over."""
    if workers < 1:
        raise RoleError("--workers must be at least 1")
    if workers > 1 and PARTS[role] != {Part.HTTP}:
        raise RoleError(f"--workers {workers} needs --role api (role {role.value} runs "
                        f"{', '.join(sorted(p.value for p in PARTS[role] - {Part.HTTP}))}, "
                        "which must run once per node)")
