"""Recordings after the call: integrity checks and retention.

A recording is evidence (全程留痕): its SHA-256 is taken when the call ends and checked
again on playback and by `hotline recordings verify`. Retention deletes old recordings,
never those of open tickets, and leaves an audit event on the ticket; with a Twilio
call's recording go those it replaced (the complaint said again after key 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.recording import sha256_file
from ivr.callrecords import CallRecord
from ivr.twilio.calls import CARRIER as TWILIO
from ivr.twilio.fetch import replaced_recordings
from ticketing import service
from ticketing.actors import Actor
from ticketing.db import transaction
from ticketing.models import Ticket
from ticketing.states import OPEN_STATUSES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    call_id: str
    path: str
    problem: str  # "missing" | "mismatch" | "no checksum"; retention: the error


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


class RetentionIncomplete(Exception):
    """Some recordings due for deletion could not be deleted (``failed``: call id, path,
    the error); the others were (``deleted``), each with its audit event."""

    def __init__(self, deleted: list[str], failed: list[Finding]) -> None:
        super().__init__(f"{len(failed)} recording(s) could not be deleted "
                         f"({len(deleted)} deleted)")
        self.deleted, self.failed = deleted, failed


def apply_retention(*, sessions: sessionmaker[Session], days: int, now: datetime) -> list[str]:
    """Delete recordings of calls older than ``days`` whose ticket is not open; returns the
    call ids whose recordings were deleted.

    Each recording in its own transaction, its audit event committed with its deletion:
    in one transaction for all, a file that could not be unlinked partway rolled back the
    audit events of the files already deleted, so evidence was gone with no trail saying
    so (review65). The event is flushed before the unlink, so a file that cannot be
    deleted leaves no event claiming it was: that one recording's transaction is rolled
    back, logged, and the run goes on with the rest; ``RetentionIncomplete`` at the end
    names what could not be deleted. Before (review70), the first such file (a folder in
    its place, a file we may not remove) stopped the run, so every daily run stopped at
    the same oldest file and no recording after it was ever deleted."""
    cutoff = now - timedelta(days=days)
    with transaction(sessions) as session:
        ids = list(session.scalars(
            select(CallRecord.id).where(CallRecord.recording_path.is_not(None),
                                        CallRecord.arrived_at < cutoff)
            .order_by(CallRecord.id)))
    deleted: list[str] = []
    failed: list[Finding] = []
    for rec_id in ids:
        try:
            with transaction(sessions) as session:
                # Locked and skipped when locked: two nodes running the daily job at once
                # never delete (and audit) the same recording twice.
                rec = session.scalars(
                    select(CallRecord).where(CallRecord.id == rec_id,
                                             CallRecord.recording_path.is_not(None))
                    .with_for_update(skip_locked=True)).first()
                if rec is not None and _delete(session, rec, days=days, now=now):
                    deleted.append(rec.call_id)
        except _Undeletable as exc:
            log.error("retention: recording of call %s could not be deleted (%s); kept, "
                      "with its ticket's link, until it can be", exc.finding.call_id,
                      exc.finding.problem)
            failed.append(exc.finding)
    if failed:
        raise RetentionIncomplete(deleted, failed)
    return deleted


class _Undeletable(Exception):
    """Raised inside a recording's transaction to roll it back (its event, its path)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.problem)
        self.finding = finding


def _delete(session: Session, rec: CallRecord, *, days: int, now: datetime) -> bool:
    ticket = session.get(Ticket, rec.ticket_id) if rec.ticket_id else None
    if ticket is not None and ticket.status in {s.value for s in OPEN_STATUSES}:
        return False
    path = Path(rec.recording_path or "")
    # A Twilio call's recordings the caller said again after key 2 replaced: no row names
    # them, and they go with the one that replaced them (kept for ever before, review87).
    replaced = replaced_recordings(path) if rec.carrier == TWILIO else []
    if ticket is not None:
        service.record_event(
            session=session, ticket=ticket, actor=Actor.system("retention"),
            action="recording_deleted", note=f"录音已按保存期限（{days}天）删除",
            data={"sha256": rec.recording_sha256, "call_id": rec.call_id,
                  **({"replaced": [p.name for p in replaced]} if replaced else {})}, at=now,
        )
        if ticket.recording_path == rec.recording_path:
            ticket.recording_path = None
    rec.recording_path = None
    session.flush()  # a database refusing the event refuses it before the file is gone
    # The replaced ones first: one that cannot be deleted leaves the call's own recording,
    # its row and its ticket's link as they were, for the next run.
    for gone in (*replaced, path):
        try:
            gone.unlink(missing_ok=True)
        except OSError as exc:
            raise _Undeletable(Finding(rec.call_id, str(gone), str(exc))) from exc
    return True
