"""Answering a caller's question from the knowledge base (知识库) on the IVR.

Whether an entry answers is the knowledge base's own decision (``knowledge.search``: its
confidence already weighs whether the words ask a question or report a problem, and its
shipped threshold is the only one); this module only asks it and keeps what the call needs
to read the answer and, on key 1, to file the 直接答复 (``knowledge.service.answer_from_entry``,
the console's function, called from ``ivr.intake``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from knowledge import service as kb
from knowledge.models import KbEntry
from ticketing.context import Domain
from ticketing.intake_model import Understanding

log = logging.getLogger("hotline.ivr.kb_answer")


@dataclass(frozen=True)
class KbAnswer:
    """The entry read to the caller, as it stood when it was found."""

    entry_id: str
    version: int
    title: str
    text: str
    confidence: float


def find_answer(*, session: Session, domain: Domain, text: str,
                understanding: Understanding | None) -> KbAnswer | None:
    """The current entry that answers ``text``, or None (no entry truly answers, or the
    words are an emergency, which is handed over and never answered from a page)."""
    if not text.strip():
        return None
    if understanding is not None and understanding.emergency != "none":
        return None
    found = kb.search(session=session, text=text, today=kb.today(domain),
                      category=understanding.category if understanding is not None else None,
                      limit=1)
    if found.answer is None:
        return None
    entry = session.get(KbEntry, found.answer.id)
    if entry is None:
        return None
    return KbAnswer(entry_id=entry.id, version=entry.version, title=entry.title,
                    text=entry.answer, confidence=found.answer.confidence)


def warm(*, sessions: sessionmaker[Session], domain: Domain) -> None:
    """Load the segmenter's dictionary and index the entries at start-up, not while the
    first caller with a question waits in silence."""
    try:
        with sessions() as session:
            kb.search(session=session, text="", today=kb.today(domain), limit=1)
    except SQLAlchemyError as exc:  # the first question builds it, as without a warm-up
        log.warning("knowledge base not indexed at start-up: %s", exc.__class__.__name__)
