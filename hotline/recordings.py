"""Recordings after the call: integrity checks and retention.

A recording is evidence (全程留痕): its SHA-256 is taken when the call ends and checked
again on playback and by `hotline recordings verify`. Retention deletes old recordings,
never those of open tickets, and leaves an audit event on the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.recording import sha256_file
from ivr.callrecords import CallRecord
from ticketing import service
from ticketing.actors import Actor
from ticketing.db import transaction
from ticketing.models import Ticket
from ticketing.states import OPEN_STATUSES


@dataclass(frozen=True)
class Finding:
    call_id: str
    path: str
    problem: str  # "missing" | "mismatch" | "no checksum"


def verify(*, session: Session) -> tuple[int, list[Finding]]:
    """Check every recorded call's file against its SHA-256; returns (checked, problems)."""
    checked, problems = 0, []
    for rec in session.scalars(
        select(CallRecord).where(CallRecord.recording_path.is_not(None)).order_by(CallRecord.id)
    ):
        checked += 1
        path = Path(rec.recording_path or "")
        if not path.is_file():
            problems.append(Finding(rec.call_id, str(path), "missing"))
        elif not rec.recording_sha256:
            problems.append(Finding(rec.call_id, str(path), "no checksum"))
        elif sha256_file(path) != rec.recording_sha256:
            problems.append(Finding(rec.call_id, str(path), "mismatch"))
    return checked, problems


def apply_retention(*, sessions: sessionmaker[Session], days: int, now: datetime) -> list[str]:
    """Delete recordings of calls older than ``days`` whose ticket is not open.

    Each recording in its own transaction, its audit event committed with its deletion:
    in one transaction for all, a file that could not be unlinked partway (an ``OSError``,
    which stops the run) rolled back the audit events of the files already deleted, so
    evidence was gone with no trail saying so (review65). The event is flushed before the
    unlink, so a file that cannot be deleted leaves no event claiming it was."""
    cutoff = now - timedelta(days=days)
    with transaction(sessions) as session:
        ids = list(session.scalars(
            select(CallRecord.id).where(CallRecord.recording_path.is_not(None),
                                        CallRecord.arrived_at < cutoff)
            .order_by(CallRecord.id)))
    deleted = []
    for rec_id in ids:
        with transaction(sessions) as session:
            # Locked and skipped when locked: two nodes running the daily job at once never
            # delete (and audit) the same recording twice.
            rec = session.scalars(
                select(CallRecord).where(CallRecord.id == rec_id,
                                         CallRecord.recording_path.is_not(None))
                .with_for_update(skip_locked=True)).first()
            if rec is not None and _delete(session, rec, days=days, now=now):
                deleted.append(rec.call_id)
    return deleted


def _delete(session: Session, rec: CallRecord, *, days: int, now: datetime) -> bool:
    ticket = session.get(Ticket, rec.ticket_id) if rec.ticket_id else None
    if ticket is not None and ticket.status in {s.value for s in OPEN_STATUSES}:
        return False
    path = Path(rec.recording_path or "")
    if ticket is not None:
        service.record_event(
            session=session, ticket=ticket, actor=Actor.system("retention"),
            action="recording_deleted", note=f"录音已按保存期限（{days}天）删除",
            data={"sha256": rec.recording_sha256, "call_id": rec.call_id}, at=now,
        )
        if ticket.recording_path == rec.recording_path:
            ticket.recording_path = None
    rec.recording_path = None
    session.flush()  # a database refusing the event refuses it before the file is gone
    path.unlink(missing_ok=True)
    return True
