"""The transcription backlog: recordings waiting for a model or for a retry.

A job row is claimed with a lease (and SKIP LOCKED on PostgreSQL), so two workers never
take the same job at once; its result is applied in the same transaction that marks it
done, guarded by the claim, so a worker that crashed mid-decoding leaves the job to be
taken again when the lease runs out, and a job is never applied twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from ticketing.models import Base, UTCDateTime, utcnow


class JobStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after max attempts; kept for an operator to look at


class TranscriptionJob(Base):
    __tablename__ = "transcription_jobs"
    # The backlog by status, oldest first (the dashboard's oldest pending job, the claim):
    # status alone left the pending rows to be walked for their oldest (migration 0027).
    __table_args__ = (Index("ix_transcription_jobs_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    call_id: Mapped[str | None] = mapped_column(String(128))
    recording_path: Mapped[str] = mapped_column(String(512))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def enqueue(
    *,
    session: Session,
    ticket_id: int,
    recording_path: str,
    recording_sha256: str | None,
    call_id: str | None,
    reason: str,
) -> TranscriptionJob:
    job = TranscriptionJob(
        ticket_id=ticket_id,
        recording_path=recording_path,
        recording_sha256=recording_sha256,
        call_id=call_id,
        last_error=reason,
    )
    session.add(job)
    session.flush()
    return job


def drop_pending(*, session: Session, ticket_id: int, recording_path: str,
                 reason: str) -> None:
    """Close the ticket's pending jobs of a recording it no longer has (its caller said the
    complaint again: ivr.intake): their words, applied later, would overwrite those of the
    recording it has. A worker decoding one meanwhile finds it no longer pending
    (``still_mine``) and applies nothing."""
    session.execute(
        update(TranscriptionJob)
        .where(TranscriptionJob.ticket_id == ticket_id,
               TranscriptionJob.recording_path == recording_path,
               TranscriptionJob.status == JobStatus.PENDING.value)
        .values(status=JobStatus.DONE.value, finished_at=utcnow(), claimed_until=None,
                last_error=reason))


def claim_next(
    *, session: Session, worker: str, now: datetime, lease: timedelta
) -> TranscriptionJob | None:
    """Take the oldest pending job whose lease (if any) has run out."""
    job = session.scalars(
        select(TranscriptionJob)
        .where(
            TranscriptionJob.status == JobStatus.PENDING.value,
            or_(TranscriptionJob.claimed_until.is_(None), TranscriptionJob.claimed_until < now),
        )
        .order_by(TranscriptionJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if job is None:
        return None
    job.claimed_by = worker
    job.claimed_until = now + lease
    job.attempts += 1
    session.flush()
    return job


def still_mine(*, session: Session, job_id: int, worker: str) -> TranscriptionJob | None:
    """Re-read the job under a row lock; None if another worker took it over meanwhile."""
    job = session.scalars(
        select(TranscriptionJob).where(TranscriptionJob.id == job_id).with_for_update()
    ).first()
    if job is None or job.status != JobStatus.PENDING.value or job.claimed_by != worker:
        return None
    return job


def release(
    *,
    session: Session,
    job_id: int,
    worker: str,
    error: str,
    give_up: bool,
    retry_at: datetime,
) -> None:
    """Hand a failed job back; it is not taken again before ``retry_at``."""
    session.execute(
        update(TranscriptionJob)
        .where(TranscriptionJob.id == job_id, TranscriptionJob.claimed_by == worker)
        .values(
            claimed_until=None if give_up else retry_at,
            claimed_by=None,
            last_error=error[:2000],
            status=JobStatus.FAILED.value if give_up else JobStatus.PENDING.value,
            finished_at=utcnow() if give_up else None,
        )
    )


def pending_count(*, session: Session) -> int:
    from sqlalchemy import func

    return (
        session.scalar(
            select(func.count(TranscriptionJob.id)).where(
                TranscriptionJob.status == JobStatus.PENDING.value
            )
        )
        or 0
    )
