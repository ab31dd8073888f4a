"""Knowledge-base service: every change to an entry goes through these functions.

Keyword-only, take the session, flush but never commit (the caller owns the transaction),
like ``ticketing.service``. Every change writes a new ``KbVersion`` row with the whole
entry as it stands after the change, who made it and which fields changed.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from knowledge.models import EntryStatus, KbEntry, KbVersion
from knowledge.search import DEFAULT_MIN_CONFIDENCE, Doc, Index, Result, within
from ticketing import service as ticketing_service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.inputs import (
    InvalidInput,
    StateConflict,
    check_category,
    clean_name,
    clean_text,
    csv_cell,
    csv_cell_text,
    echoed,
    has_text,
)
from ticketing.models import Ticket, Unit, utcnow
from ticketing.service import NotFound

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Keywords in a TSV cell or a form field: ASCII or full-width comma, 、 or semicolon.
LIST_SPLIT = re.compile(r"[,，、;；]")
# The columns of the sample file (shared/kb/faq.tsv), then the ones only an export adds so
# that an export imports back into the same entries.
TSV_COLUMNS = ("id", "category", "title", "answer", "keywords", "valid_until")
TSV_EXTRA = ("synonyms", "valid_from", "unit", "status")
CONTENT_FIELDS = ("title", "answer", "category", "keywords", "synonyms", "unit", "valid_from",
                  "valid_until")
MAX_TITLE = 200
MAX_ANSWER = 2000


@dataclass(frozen=True)
class EntryFields:
    """An entry's content as an editor or a file gives it (checked by :func:`check_fields`)."""

    title: str
    answer: str
    category: str = "other"
    keywords: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    unit: str | None = None  # unit code
    valid_from: date | None = None
    valid_until: date | None = None


def split_list(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Keywords from a cell or a list: trimmed, no empties, no repeats, order kept."""
    items = LIST_SPLIT.split(value) if isinstance(value, str) else list(value or ())
    seen: dict[str, None] = {}
    for item in items:
        word = clean_text(item, field="keywords").strip()
        if word:
            seen.setdefault(word, None)
    return tuple(seen)


def parse_date(value: str | date | None, *, field: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{field} must be a date like 2027-03-15") from None


def check_fields(fields: EntryFields) -> EntryFields:
    """The one check of an entry's content, for the API, the console, the CLI and imports."""
    title = clean_name(fields.title, field="title")
    answer = clean_text(fields.answer, field="answer", multiline=True).strip()
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput("title", f"title must be 1–{MAX_TITLE} characters")
    if not has_text(answer) or len(answer) > MAX_ANSWER:  # IVR reads it out
        raise InvalidInput("answer", f"answer must be 1–{MAX_ANSWER} characters")
    if (fields.valid_from and fields.valid_until and fields.valid_until < fields.valid_from):
        raise InvalidInput("valid_until", "valid_until is before valid_from")
    return EntryFields(
        title=title, answer=answer, category=check_category(fields.category or "other"),
        keywords=split_list(fields.keywords), synonyms=split_list(fields.synonyms),
        unit=(fields.unit or "").strip() or None,
        valid_from=fields.valid_from, valid_until=fields.valid_until,
    )


def is_current(entry: KbEntry, today: date) -> bool:
    """Published and within its validity window on ``today`` (the hotline's local date)."""
    return (entry.status == EntryStatus.PUBLISHED.value
            and within(entry.valid_from, entry.valid_until, today))


# Said by the IVR's start-up log and `hotline doctor` when no entry is current: a fresh
# install has none (nothing seeds them), and its callers' questions are then read back and
# filed as tickets with no word of why.
NO_ENTRIES = ("no current entry: callers' questions are filed as "
              "tickets, none answered (直接答复)")
IMPORT_HINT = "import entries with `hotline kb import FILE.tsv` (columns: docs/knowledge.md)"


def has_entries(*, session: Session) -> bool:
    """Whether the knowledge base has ever had an entry (any status: a retired one counts)."""
    return session.scalar(select(KbEntry.id).limit(1)) is not None


def count_current(*, session: Session, today: date) -> int:
    """How many entries a caller's question may be answered from on ``today``."""
    entries = session.scalars(
        select(KbEntry).where(KbEntry.status == EntryStatus.PUBLISHED.value))
    return sum(1 for entry in entries if is_current(entry, today))


def snapshot(entry: KbEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "title": entry.title, "answer": entry.answer,
        "category": entry.category, "keywords": list(entry.keywords or []),
        "synonyms": list(entry.synonyms or []),
        "unit": entry.unit.code if entry.unit else None,
        "valid_from": entry.valid_from.isoformat() if entry.valid_from else None,
        "valid_until": entry.valid_until.isoformat() if entry.valid_until else None,
        "status": entry.status,
    }


def _unit_id(session: Session, code: str | None) -> int | None:
    if code is None:
        return None
    unit_id = session.scalars(select(Unit.id).where(Unit.code == code)).first()
    if unit_id is None:
        raise InvalidInput("unit", f"unit {code} does not exist")
    return unit_id


def _record(session: Session, entry: KbEntry, actor: Actor, action: str,
            changed: list[str]) -> KbVersion:
    session.flush()
    session.refresh(entry, ["unit"])
    row = KbVersion(entry_id=entry.id, version=entry.version, at=entry.updated_at,
                    actor_id=actor.id, actor_name=actor.name, action=action, changed=changed,
                    snapshot=snapshot(entry))
    session.add(row)
    session.flush()
    return row


def get_entry(*, session: Session, entry_id: str) -> KbEntry:
    entry = session.get(KbEntry, entry_id)
    if entry is None:
        raise NotFound(f"knowledge entry {echoed(entry_id)} not found")
    return entry


def list_entries(*, session: Session, status: str | None = None, category: str | None = None,
                 q: str | None = None) -> list[KbEntry]:
    stmt = select(KbEntry).order_by(KbEntry.id)
    if status:
        stmt = stmt.where(KbEntry.status == status)
    if category:
        stmt = stmt.where(KbEntry.category == category)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(KbEntry.id.like(like), KbEntry.title.like(like)))
    return list(session.scalars(stmt))


def history(*, session: Session, entry: KbEntry) -> list[KbVersion]:
    return list(session.scalars(
        select(KbVersion).where(KbVersion.entry_id == entry.id).order_by(KbVersion.version)))


def create_entry(*, session: Session, actor: Actor, fields: EntryFields,
                 entry_id: str | None = None,
                 status: EntryStatus = EntryStatus.DRAFT, action: str = "create") -> KbEntry:
    """A new entry with the id given (a city's own, e.g. "kb014") or a generated one."""
    if entry_id is None:
        entry_id = f"kb-{uuid.uuid4().hex[:10]}"
    elif not ID_RE.match(entry_id):
        raise InvalidInput("id", "id must be 1–32 letters, digits, '-' or '_'")
    if session.get(KbEntry, entry_id) is not None:
        raise StateConflict("id", f"knowledge entry {entry_id} already exists")
    f = check_fields(fields)
    entry = KbEntry(
        id=entry_id, title=f.title, answer=f.answer, category=f.category,
        keywords=list(f.keywords), synonyms=list(f.synonyms), unit_id=_unit_id(session, f.unit),
        valid_from=f.valid_from, valid_until=f.valid_until, status=status.value, version=1,
        updated_at=utcnow(),
    )
    session.add(entry)
    _record(session, entry, actor, action, [*CONTENT_FIELDS, "status"])
    return entry


def update_entry(*, session: Session, actor: Actor, entry: KbEntry, fields: EntryFields,
                 action: str = "edit") -> list[str]:
    """Apply ``fields``; a new version only when something changed. Returns what changed."""
    f = check_fields(fields)
    new = {"title": f.title, "answer": f.answer, "category": f.category,
           "keywords": list(f.keywords), "synonyms": list(f.synonyms),
           "unit_id": _unit_id(session, f.unit), "valid_from": f.valid_from,
           "valid_until": f.valid_until}
    changed = [name for name, value in new.items() if getattr(entry, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(entry, name, new[name])
    entry.version += 1
    entry.updated_at = utcnow()
    _record(session, entry, actor, action,
            ["unit" if name == "unit_id" else name for name in changed])
    return changed


def set_status(*, session: Session, actor: Actor, entry: KbEntry, status: EntryStatus) -> bool:
    """Publish, retire or return to draft; a new version when the status changes."""
    if entry.status == status.value:
        return False
    entry.status = status.value
    entry.version += 1
    entry.updated_at = utcnow()
    action = {EntryStatus.PUBLISHED: "publish", EntryStatus.RETIRED: "retire",
              EntryStatus.DRAFT: "unpublish"}[status]
    _record(session, entry, actor, action, ["status"])
    return True


# --- TSV ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]


_STATUSES = {s.value for s in EntryStatus}


def _row_fields(row: dict[str, str], line: int) -> EntryFields:
    try:
        return EntryFields(
            title=row.get("title") or "", answer=row.get("answer") or "",
            category=(row.get("category") or "other").strip(),
            keywords=split_list(row.get("keywords")), synonyms=split_list(row.get("synonyms")),
            unit=(row.get("unit") or "").strip() or None,
            valid_from=parse_date(row.get("valid_from"), field="valid_from"),
            valid_until=parse_date(row.get("valid_until"), field="valid_until"),
        )
    except InvalidInput as exc:
        raise InvalidInput(exc.field, f"line {line}: {exc}") from None


def import_tsv(*, session: Session, actor: Actor, text: str,
               status: EntryStatus = EntryStatus.PUBLISHED) -> ImportResult:
    """Load entries from TSV (the columns of shared/kb/faq.tsv, header row first).

    Each row keeps its id. A new id becomes an entry with ``status``; a known one gets the
    row's content as a new version if anything differs, its status left as an editor set it
    (a re-import must not bring back a retired entry). Importing the same file twice
    changes nothing. Any bad row refuses the whole file, naming the line.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter="\t")
    missing = [c for c in ("id", "title", "answer") if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput("file", f"TSV header lacks column(s): {', '.join(missing)}")
    result = ImportResult([], [], [])
    seen: set[str] = set()
    for line, read in enumerate(reader, start=2):
        # A cell export_tsv guarded from spreadsheets ("'=…") is the entry's own text.
        row = {k: csv_cell_text(v) if isinstance(v, str) else v for k, v in read.items()}
        entry_id = (row.get("id") or "").strip()
        if not ID_RE.match(entry_id):
            raise InvalidInput("id", f"line {line}: bad id {entry_id!r}")
        if entry_id in seen:
            raise InvalidInput("id", f"line {line}: id {entry_id} appears twice")
        seen.add(entry_id)
        fields = _row_fields(row, line)
        try:
            existing = session.get(KbEntry, entry_id)
            if existing is None:
                # An exported file says each entry's status; the sample file does not.
                given = (row.get("status") or "").strip()
                create_entry(session=session, actor=actor, fields=fields, entry_id=entry_id,
                             status=EntryStatus(given) if given in _STATUSES else status,
                             action="import")
                result.created.append(entry_id)
            elif update_entry(session=session, actor=actor, entry=existing, fields=fields,
                              action="import"):
                result.updated.append(entry_id)
            else:
                result.unchanged.append(entry_id)
        except InvalidInput as exc:
            raise InvalidInput(exc.field, f"line {line}: {exc}") from None
    return result


def export_tsv(*, session: Session) -> str:
    """Every entry as TSV that :func:`import_tsv` reads back into the same entries. Each
    cell as the tickets' CSV writes it (``csv_cell``): the file is opened in a spreadsheet,
    and an editor's title "=HYPERLINK(…)" ran there as a formula (2026-12-06)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow([*TSV_COLUMNS, *TSV_EXTRA])
    for e in list_entries(session=session):
        writer.writerow([csv_cell(cell) for cell in (
            e.id, e.category, e.title, e.answer, ",".join(e.keywords or []),
            e.valid_until.isoformat() if e.valid_until else "",
            ",".join(e.synonyms or []), e.valid_from.isoformat() if e.valid_from else "",
            e.unit.code if e.unit else "", e.status,
        )])
    return out.getvalue()


# --- search ---------------------------------------------------------------------------

_index_lock = threading.Lock()
_index_cache: dict[str, tuple[tuple[Any, ...], Index]] = {}
# An index is a pure function of the published entries, and building one costs ~0.5 CPU-s
# for the sample FAQ (every entry segmented and spelt in pinyin): a process that reads
# several databases holding the same entries (API workers after a restore, the test suite's
# clones of one seeded template) builds it once. Bounded: an entry edit makes a new set.
_INDEXES_KEPT = 8
_index_by_docs: dict[tuple[Doc, ...], Index] = {}


def _index(session: Session) -> Index:
    """The published entries' index, rebuilt only when an entry changed (every change bumps
    a version and updated_at); shared by the requests of one process and database, and by
    the databases whose published entries are the same."""
    stamp = tuple(session.execute(
        select(func.count(KbEntry.id), func.sum(KbEntry.version), func.max(KbEntry.updated_at))
        .where(KbEntry.status == EntryStatus.PUBLISHED.value)
    ).one())
    key = str(session.get_bind().url)
    with _index_lock:
        cached = _index_cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    entries = session.scalars(
        select(KbEntry).where(KbEntry.status == EntryStatus.PUBLISHED.value)).all()
    docs = tuple(Doc(id=e.id, title=e.title, category=e.category, answer=e.answer,
                     keywords=tuple(e.keywords or ()), synonyms=tuple(e.synonyms or ()),
                     valid_from=e.valid_from, valid_until=e.valid_until) for e in entries)
    with _index_lock:
        index = _index_by_docs.pop(docs, None)
    if index is None:
        index = Index(docs)
    with _index_lock:
        _index_by_docs[docs] = index  # last used last: the oldest set goes first
        while len(_index_by_docs) > _INDEXES_KEPT:
            del _index_by_docs[next(iter(_index_by_docs))]
        _index_cache[key] = (stamp, index)
    return index


def search(*, session: Session, text: str, today: date, category: str | None = None,
           limit: int = 5, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> Result:
    """Published entries valid on ``today`` that may answer ``text``, best first; the
    result's ``answer`` is the one that does, or None (see ``knowledge.search``)."""
    return _index(session).search(text, today=today, category=category, limit=limit,
                                  min_confidence=min_confidence)


# --- answering a caller ---------------------------------------------------------------


def answer_from_entry(*, session: Session, domain: Domain, actor: Actor, entry_id: str,
                      channel: str, caller_phone: str | None, demand: str,
                      caller_name: str | None = None, **ticket_fields: Any) -> Ticket:
    """Record a caller's question answered from a current entry: a ticket closed at intake
    as 直接答复, its reply the entry's answer, its audit naming the entry and version.

    The console and the IVR both come here, so 直办率 counts them alike; ``ticket_fields``
    are what a call adds for ``create_ticket`` (call id, transcript, recording, keyed
    number)."""
    entry = get_entry(session=session, entry_id=entry_id)
    if not is_current(entry, today(domain)):
        raise StateConflict("entry", f"knowledge entry {entry_id} is not published and valid")
    ticket = ticketing_service.create_ticket(
        session=session, domain=domain, actor=actor, channel=channel, caller_phone=caller_phone,
        demand=demand, caller_name=caller_name, category=entry.category,
        subject=entry.title[:128], **ticket_fields,
    )
    return ticketing_service.answer(
        session=session, domain=domain, ticket=ticket, actor=actor, text=entry.answer,
        data={"kb_entry": entry.id, "kb_version": entry.version},
    )


def today(domain: Domain) -> date:
    """The hotline's local date, against which validity windows are read."""
    return domain.now().astimezone(domain.tz).date()
