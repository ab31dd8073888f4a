"""Run the transcription backlog: decode queued recordings and give tickets their words.

Decoding happens outside any database transaction (it can take seconds); the claim before
and the result after are each one short transaction.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import JobStatus, TranscriptionJob, claim_next, release, still_mine
from asr.stream import Transcript
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket, utcnow

log = logging.getLogger("hotline.asr.backlog")

Transcribe = Callable[[Path], Transcript]
MAX_ATTEMPTS = 5
# A failed job waits attempts × this before it is tried again (a model being installed,
# a disk being remounted), instead of spinning on the same error.
RETRY_BACKOFF = timedelta(minutes=1)


@dataclass
class BacklogRun:
    taken: int = 0  # jobs claimed; fewer than the limit: none was left to claim
    done: int = 0
    retried: int = 0
    failed: int = 0

    def add(self, other: BacklogRun) -> None:
        self.taken += other.taken
        self.done += other.done
        self.retried += other.retried
        self.failed += other.failed


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def release_dead_claims(*, session: Session) -> list[int]:
    """Pending jobs claimed by a process of this host that no longer runs, free at once:
    a drain killed mid-recording held its job until its lease ran out, the ticket waiting
    up to 10 minutes for its words after a restart (fault trial, fifteenth round,
    docs/scaling.md). A claim whose process still runs, or another host's, keeps its lease
    (a pid taken again by another process only means the lease is waited for, as before);
    a job taken over twice is still applied once (``still_mine``)."""
    host = socket.gethostname()
    freed = []
    for job in session.scalars(select(TranscriptionJob).where(
            TranscriptionJob.status == JobStatus.PENDING.value,
            TranscriptionJob.claimed_by.is_not(None)).with_for_update(skip_locked=True)):
        claimer, _, pid = (job.claimed_by or "").rpartition(":")
        if claimer == host and pid.isdigit() and not _running(int(pid)):
            job.claimed_by, job.claimed_until = None, None
            freed.append(job.id)
    session.flush()
    return freed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def transcript_meta(t: Transcript) -> dict[str, object]:
    return {
        "low_confidence": list(t.low_confidence),
        "words": [{"w": w.text, "c": round(w.conf, 3)} for w in t.words],
    }


def run_backlog(
    *,
    sessions: sessionmaker[Session],
    domain: Domain,
    transcribe: Transcribe,
    limit: int = 100,
    lease: timedelta = timedelta(minutes=10),
    worker: str | None = None,
    stop: threading.Event | None = None,
) -> BacklogRun:
    """Process up to ``limit`` jobs, claiming none once ``stop`` is set; returns what
    happened to them."""
    me = worker or worker_name()
    actor = Actor.system("asr")
    run = BacklogRun()
    for _ in range(limit):
        if stop is not None and stop.is_set():
            break
        with transaction(sessions) as session:
            job = claim_next(session=session, worker=me, now=domain.now(), lease=lease)
            if job is None:
                break
            job_id, path, attempts = job.id, Path(job.recording_path), job.attempts
        run.taken += 1
        try:
            transcript = transcribe(path)
        except Exception as exc:
            give_up = attempts >= MAX_ATTEMPTS
            log.warning("transcription job %s failed (attempt %s): %s", job_id, attempts, exc)
            with transaction(sessions) as session:
                release(
                    session=session,
                    job_id=job_id,
                    worker=me,
                    error=str(exc) or repr(exc),
                    give_up=give_up,
                    retry_at=domain.now() + RETRY_BACKOFF * attempts,
                )
            if give_up:
                run.failed += 1
            else:
                run.retried += 1
            continue
        with transaction(sessions) as session:
            job = still_mine(session=session, job_id=job_id, worker=me)
            if job is None:  # lease ran out and someone else finished it
                continue
            ticket = session.get(Ticket, job.ticket_id)
            if ticket is not None:
                service.attach_transcript(
                    session=session,
                    domain=domain,
                    ticket=ticket,
                    actor=actor,
                    text=transcript.text,
                    meta=transcript_meta(transcript),
                )
            job.status = JobStatus.DONE.value
            job.finished_at = utcnow()
            job.claimed_until = None
            run.done += 1
    return run
