"""Photos and documents attached to the handler's reply (反馈附件), kept as evidence.

Stored like recordings: the SHA-256 is taken when the file arrives and checked again every
time it is served; a file that no longer matches is reported and never handed out. Files
are content-addressed under ``settings.attachments.dir`` (default ``data_dir/attachments``;
the name is the hash), so nothing in the database is a path that could be made to point
elsewhere.

What a file is, is decided by its first bytes, never by the name or the type the client
sent. Who may list and read attachments is who may see the ticket (``service.get_ticket``);
who may add one is who may reply to it now (the transition table). An upload made before
the reply waits for it and is tied to the reply event by ``service.reply``.

Retention: ``hotline.recordings.apply_retention`` deletes call recordings, which belong to
call records; it has no rule for other files of a ticket, so attachments are kept.

A file reaches the store only when the transaction adding its row commits (``add`` leaves
it with the session, written just before COMMIT): a refused reply, or any rollback,
leaves no file that no row references. Should the COMMIT itself fail after the write,
the file is removed again unless a row references its hash (files are shared by content:
another ticket's row may), decided under a lock on the hash that every writer of it takes
too, so a file is never deleted under a row that is committing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO
from urllib.parse import quote

from sqlalchemy import Connection, Engine, event, exists, select, text
from sqlalchemy.orm import Session, SessionTransaction

from config import Settings
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.inputs import InvalidInput, clean_text
from ticketing.models import ReplyAttachment, Ticket
from ticketing.queries import may_see_ticket
from ticketing.states import (
    Action,
    PermissionDenied,
    ReasonRequired,
    Role,
    Status,
    TransitionError,
    transition_for,
)

log = logging.getLogger("ticketing.attachments")

UPLOAD_EVENT = "attachment_uploaded"
FILENAME_CHARS = 128

# (leading bytes, media type, extension): the only kinds of file accepted.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
)


class AttachmentTooLarge(InvalidInput):
    """Over settings.attachments.max_bytes (answered 413, not 422)."""

    def __init__(self, limit: int) -> None:
        self.limit_mb = limit / 2**20
        super().__init__("file", f"the file is over {limit} bytes")


class AttachmentProblem(Exception):
    """A stored file that cannot be served as it was uploaded: ``problem`` is "missing" or
    "mismatch"; ``str()`` is the zh-CN message for the console, ``detail`` the API's."""

    MESSAGES = {  # noqa: RUF012 -- a constant table
        "missing": (404, "附件文件不存在，无法提供下载。",
                    "the stored file is missing"),
        "mismatch": (409, "附件校验失败：SHA-256 与上传时记录的不一致，文件可能已损坏或被篡改，"
                          "已拒绝提供。",
                     "the stored file no longer matches the SHA-256 taken at upload; "
                     "not served"),
    }

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.status, message, self.detail = self.MESSAGES[problem]
        super().__init__(message)


@dataclass(frozen=True)
class Finding:
    attachment_id: int
    ticket_id: int
    sha256: str
    problem: str  # "missing" | "mismatch"


# Files with one reply from the console's form (the API takes one per request): the
# request may carry this many files of attachments.max_bytes each (hotline.app.BodyLimit).
MAX_FILES = 5


def read_upload(stream: BinaryIO, limit: int) -> bytes:
    """At most one byte over ``limit`` of an uploaded file: enough to tell it is too big."""
    return stream.read(limit + 1)


def download_headers(att: ReplyAttachment) -> dict[str, str]:
    """Headers of a served file (API and console alike): never sniffed into something
    else, never cached, a PDF saved rather than opened inside the site; the name as an
    ASCII stand-in plus the real (often Chinese) one per RFC 6266."""
    fallback = f"attachment-{att.id}{Path(att.filename).suffix}"
    kind = "inline" if att.media_type.startswith("image/") else "attachment"
    return {
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        # Opened on its own (an image shown inline), a file is a document of our origin:
        # sandboxed with nothing allowed, a crafted file can run nothing with the session.
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; sandbox",
        "Content-Disposition":
            f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(att.filename)}",
    }


def store_dir(settings: Settings) -> Path:
    return Path(settings.attachments.dir or Path(settings.data_dir) / "attachments")


def _path(settings: Settings, sha256: str) -> Path:
    return store_dir(settings) / sha256[:2] / sha256


def sniff(data: bytes) -> tuple[str, str] | None:
    """(media type, extension) from the file's own first bytes; None if not allowed."""
    for magic, media_type, ext in SIGNATURES:
        if data.startswith(magic):
            return media_type, ext
    return None


def clean_filename(name: str | None, ext: str) -> str:
    """The client's name without any directory part or control characters, shortened, and
    ending in the extension of what the file really is."""
    raw = name or ""
    base = PureWindowsPath(PurePosixPath(raw).name).name
    try:
        base = clean_text(unicodedata.normalize("NFC", base), field="filename").strip()
    except InvalidInput:
        base = ""
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem.strip(". ")[: FILENAME_CHARS - len(ext)] or "附件"
    return stem + ext


def may_attach(actor: Actor, ticket: Ticket) -> bool:
    """Whoever may reply to the ticket now may add a file to that reply."""
    if actor.role == Role.SYSTEM or not may_see_ticket(actor, ticket):
        return False
    try:
        transition_for(Status(ticket.status), Action.REPLY, actor.role, None)
    except (TransitionError, PermissionDenied, ReasonRequired):
        return False
    return True


def _write_once(path: Path, data: bytes) -> None:
    """Written to a temporary file and renamed, so a reader never sees half a file; the
    same content already stored is left as it is."""
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# session.info keys: files to write at COMMIT ({path: (sha256, bytes)}), and those this
# transaction's COMMIT created (removed again if the COMMIT fails).
_TO_WRITE = "attachments_to_write"
_WRITTEN = "attachments_written"


def _lock_hash(conn: Connection | Session, sha256: str) -> None:
    """Hold the hash until the transaction ends (PostgreSQL; SQLite transactions begin
    IMMEDIATE, ticketing.db, so they are serialised already)."""
    dialect = conn.dialect if isinstance(conn, Connection) else conn.get_bind().dialect
    if dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": int(sha256[:15], 16)})


@event.listens_for(Session, "before_commit")
def _write_on_commit(session: Session) -> None:
    for path, (sha256, data) in session.info.pop(_TO_WRITE, {}).items():
        _lock_hash(session, sha256)
        # A row rolled back to a savepoint since: its file is wanted no more.
        if path.is_file() or not session.scalar(
                select(exists().where(ReplyAttachment.sha256 == sha256))):
            continue
        _write_once(path, data)
        session.info.setdefault(_WRITTEN, {})[path] = sha256


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # Rolled back, closed, or a COMMIT that failed: nothing of it may be left in the
    # store. (After a commit, _committed has emptied _WRITTEN already.)
    if transaction.parent is not None:
        return
    session.info.pop(_TO_WRITE, None)
    written = session.info.pop(_WRITTEN, {})
    if not written:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    for path, sha256 in written.items():
        try:
            discard_unreferenced(engine, path, sha256)
        except Exception:  # the transaction's own error is the one to report
            log.exception("could not check attachment file %s after a failed commit", sha256)


def discard_unreferenced(engine: Engine, path: Path, sha256: str) -> bool:
    """Remove a stored file that no attachment row references (its own transaction, under
    the hash's lock); True when removed. A referenced file is never touched."""
    with engine.begin() as conn:
        _lock_hash(conn, sha256)
        if conn.scalar(select(exists().where(ReplyAttachment.sha256 == sha256))):
            return False
        path.unlink(missing_ok=True)
    log.info("removed attachment file %s: its transaction did not commit", sha256)
    return True


def add(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, data: bytes,
    filename: str | None,
) -> ReplyAttachment:
    """Check one file for the ticket's reply in progress and add its row, audited on the
    ticket. The file is stored when the session commits (see the module's doc)."""
    if not may_see_ticket(actor, ticket):
        raise service.NotFound(f"ticket {ticket.number} not found")
    if not may_attach(actor, ticket):
        # The same rule as the reply itself, refused the way the reply would be.
        transition_for(Status(ticket.status), Action.REPLY, actor.role, None)
        raise PermissionDenied(actor.role, Action.REPLY)
    limit = domain.settings.attachments.max_bytes
    if not data:
        raise InvalidInput("file", "the file is empty")
    if len(data) > limit:
        raise AttachmentTooLarge(limit)
    kind = sniff(data)
    if kind is None:
        raise InvalidInput("file", "only JPEG, PNG and PDF files are accepted")
    media_type, ext = kind
    sha256 = hashlib.sha256(data).hexdigest()
    session.info.setdefault(_TO_WRITE, {})[_path(domain.settings, sha256)] = (sha256, data)
    now = domain.now()
    att = ReplyAttachment(
        ticket_id=ticket.id, filename=clean_filename(filename, ext), media_type=media_type,
        size=len(data), sha256=sha256, uploaded_by_id=actor.id, uploaded_by=actor.name,
        created_at=now,
    )
    session.add(att)
    session.flush()
    service.record_event(
        session=session, ticket=ticket, actor=actor, action=UPLOAD_EVENT,
        note=f"上传附件：{att.filename}",
        data={"attachment_id": att.id, "filename": att.filename, "media_type": media_type,
              "size": att.size, "sha256": sha256},
        at=now,
    )
    session.flush()
    return att


def of_ticket(*, session: Session, ticket: Ticket) -> list[ReplyAttachment]:
    """The ticket's attachments in upload order (whoever may see the ticket may see them)."""
    return list(session.scalars(
        select(ReplyAttachment).where(ReplyAttachment.ticket_id == ticket.id)
        .order_by(ReplyAttachment.id)))


def get(*, session: Session, ticket: Ticket, attachment_id: int) -> ReplyAttachment:
    """One attachment of this ticket; another ticket's id is not found here."""
    att = session.get(ReplyAttachment, attachment_id)
    if att is None or att.ticket_id != ticket.id:
        raise service.NotFound(f"attachment {attachment_id} not found")
    return att


def problem(settings: Settings, att: ReplyAttachment) -> str | None:
    """"missing", "mismatch" or None when the stored file is the one uploaded."""
    try:
        load_verified(settings, att)
    except AttachmentProblem as exc:
        return exc.problem
    return None


def load_verified(settings: Settings, att: ReplyAttachment) -> bytes:
    """The file's bytes, read once and checked, so what is served is what was hashed."""
    path = _path(settings, att.sha256)
    try:
        data = path.read_bytes()
    except OSError as exc:  # gone, or no longer a readable file
        log.error("attachment %s of ticket %s is missing from the store", att.id, att.ticket_id)
        raise AttachmentProblem("missing") from exc
    if hashlib.sha256(data).hexdigest() != att.sha256:
        log.error("attachment %s of ticket %s no longer matches its SHA-256 %s",
                  att.id, att.ticket_id, att.sha256)
        raise AttachmentProblem("mismatch")
    return data


def verify(*, session: Session, settings: Settings) -> tuple[int, list[Finding]]:
    """Check every stored attachment against its SHA-256; returns (checked, problems)."""
    checked, found = 0, []
    for att in session.scalars(select(ReplyAttachment).order_by(ReplyAttachment.id)):
        checked += 1
        what = problem(settings, att)
        if what is not None:
            found.append(Finding(att.id, att.ticket_id, att.sha256, what))
    return checked, found
