"""Finding a ticket's recording and proving it is the file the call produced.

A recording is evidence of what the citizen said; the console plays it only when its
SHA-256 still matches the one stored when the call ended, and only from the recordings
directory (a path in the database is not trusted to point anywhere else).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from config import Settings
from ivr.callrecords import CallOutcome, CallRecord
from ticketing.actors import Actor
from ticketing.inputs import ascii_int
from ticketing.models import Ticket
from ticketing.queries import may_see_caller, may_see_ticket

# The newest calls that filed nothing the console lists (``unfiled``): a day's faxes and
# silences are a few; older ones stay on their call records (and the retention's limit).
UNFILED_LISTED = 200

# Calls are capped at minutes of 8 kHz audio (a few MB); anything far larger is not ours.
MAX_BYTES = 64 * 1024 * 1024


class RecordingProblem(Exception):
    """Why a recording cannot be played; the message is shown to the user as is."""

    def __init__(self, message: str, status: int = 409) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class RecordingRef:
    path: str
    sha256: str | None


def may_hear(actor: Actor, ticket: Ticket | None) -> bool:
    """Who may hear a call's recording, the one rule of every recording route: a ticket's
    call, whoever may see the ticket (its scope, ``may_see_ticket``) and its caller
    (``may_see_caller``: no handler hears a 保密 caller); a call that filed no ticket
    (``no_speech``: a fax machine, a line of noise) belongs to no unit, so the scope's rule
    for what has none (drafts, the manual queue): who sees everything (operators,
    administrators). A unit's handler or supervisor has nothing to hear there."""
    if ticket is None:
        return actor.sees_everything
    return may_see_ticket(actor, ticket) and may_see_caller(actor, ticket)


def call_of(session: Session, actor: Actor, record_id: int) -> CallRecord | None:
    """The call record ``record_id`` if ``actor`` may hear its recording (``may_hear``),
    else None: out of scope answers as missing, so ids cannot be probed across units."""
    rec = session.get(CallRecord, record_id)
    if rec is None or not rec.recording_path:
        return None
    ticket = session.get(Ticket, rec.ticket_id) if rec.ticket_id is not None else None
    return rec if may_hear(actor, ticket) else None


def unfiled(session: Session, actor: Actor) -> list[CallRecord]:
    """The calls that ended ``no_speech`` with their recording kept, newest first, when
    ``actor`` may hear them (``may_hear``; else none). Before (loose28) only an
    administrator on the server could find them, by the path on the call record."""
    if not may_hear(actor, None):
        return []
    return list(session.scalars(
        select(CallRecord)
        .where(CallRecord.outcome == CallOutcome.NO_SPEECH.value,
               CallRecord.ticket_id.is_(None), CallRecord.recording_path.is_not(None))
        .order_by(CallRecord.arrived_at.desc(), CallRecord.id.desc())
        .limit(UNFILED_LISTED)))


def of_call(rec: CallRecord) -> RecordingRef:
    assert rec.recording_path is not None
    return RecordingRef(rec.recording_path, rec.recording_sha256)


def find(session: Session, ticket: Ticket) -> RecordingRef | None:
    """The ticket's own recording, else the newest one on a call record of the ticket."""
    if ticket.recording_path:
        return RecordingRef(ticket.recording_path, ticket.recording_sha256)
    rec = session.scalars(
        select(CallRecord)
        .where(CallRecord.ticket_id == ticket.id, CallRecord.recording_path.is_not(None))
        .order_by(CallRecord.id.desc())
        .limit(1)
    ).first()
    if rec is None or not rec.recording_path:
        return None
    return RecordingRef(rec.recording_path, rec.recording_sha256)


def load_verified(settings: Settings, ref: RecordingRef) -> bytes:
    """The recording's bytes, read once and checked, so what is served is what was hashed."""
    if not ref.sha256:
        raise RecordingProblem("录音没有入库校验值（SHA-256），无法确认其完整性，已拒绝播放。")
    root = Path(settings.recordings_dir).resolve()
    path = Path(ref.path)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root):
        raise RecordingProblem("录音文件不在录音目录内，已拒绝播放。")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise RecordingProblem("录音文件大小异常，已拒绝播放。")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise RecordingProblem("录音文件不存在（可能已按保存期限清理）。", 404) from exc
    if hashlib.sha256(data).hexdigest() != ref.sha256.lower():
        raise RecordingProblem(
            "录音文件校验失败：SHA-256 与通话结束时记录的不一致，文件可能已损坏或被篡改，"
            "已拒绝播放。"
        )
    return data


class RangeNotSatisfiable(Exception):
    """A well-formed Range none of whose bytes exist (answered 416 with the real size)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range of a ``Range: bytes=a-b`` header (what audio players send to seek).

    None means "send the whole file": no header, or one this server ignores as RFC 9110
    allows (malformed, several ranges). A range starting past the end raises
    :class:`RangeNotSatisfiable`, so a player learns the real size instead of getting
    200 with bytes it did not ask for.
    """
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, dash, last = header[6:].strip().partition("-")
    start, end = ascii_int(first.strip()), ascii_int(last.strip())
    if not dash or (first and start is None) or (last and end is None):
        return None
    if start is None:  # "bytes=-500": the last 500 bytes
        if end is None:
            return None
        if end == 0 or size == 0:
            raise RangeNotSatisfiable
        return max(0, size - end), size - 1
    if end is not None and start > end:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, size - 1 if end is None else min(end, size - 1)
