"""Answering a caller's question from the knowledge base (知识库) on the IVR.

Whether an entry answers is the knowledge base's own decision (``knowledge.search``: its
confidence already weighs whether the words ask a question or report a problem); this module
only asks it, at the thresholds of ``settings.ivr`` (``kb_answer_from``, shipped as the
knowledge base's own, and ``kb_confirm_from``), and keeps what the call needs to read the
answer and, on key 1, to file the 直接答复 (``knowledge.service.answer_from_entry``, the
console's function, called from ``ivr.intake``).

Below ``kb_answer_from`` the best entry is still the right one most of the time (a caller
who tells a story around the question lowers the confidence, not the ranking), so a
question -- never a complaint -- whose best entry reaches ``kb_confirm_from`` may be offered
with ``confirm`` set: the caller is asked "您是想问<title>吗" before the answer is read.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from knowledge import service as kb
from knowledge.models import KbEntry
from knowledge.search import worth_confirming
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
    confirm: bool = False  # below kb_answer_from: ask "您是想问<title>吗" first


def find_answer(*, session: Session, domain: Domain, text: str,
                understanding: Understanding | None,
                may_confirm: bool = False) -> KbAnswer | None:
    """The current entry that answers ``text``, or None (no entry truly answers, or the
    words are an emergency, which is handed over and never answered from a page).
    ``may_confirm``: the carrier can ask the caller first, so a question whose best entry
    is only between the two thresholds is returned too, with ``confirm`` set."""
    if not text.strip():
        return None
    if understanding is not None and understanding.emergency != "none":
        return None
    limits = domain.settings.ivr
    found = kb.search(session=session, text=text, today=kb.today(domain),
                      category=understanding.category if understanding is not None else None,
                      limit=1, min_confidence=limits.kb_answer_from)
    hit = found.answer
    if hit is None and may_confirm:
        hit = worth_confirming(found, limits.kb_confirm_from)
    if hit is None:
        return None
    entry = session.get(KbEntry, hit.id)
    if entry is None:
        return None
    return KbAnswer(entry_id=entry.id, version=entry.version, title=entry.title,
                    text=entry.answer, confidence=hit.confidence,
                    confirm=hit is not found.answer)


def warm(*, sessions: sessionmaker[Session], domain: Domain) -> None:
    """Load the segmenter's dictionary and index the entries at start-up, not while the
    first caller with a question waits in silence."""
    try:
        with sessions() as session:
            kb.search(session=session, text="", today=kb.today(domain), limit=1)
            current = kb.count_current(session=session, today=kb.today(domain))
    except SQLAlchemyError as exc:  # the first question builds it, as without a warm-up
        log.warning("knowledge base not indexed at start-up: %s", exc.__class__.__name__)
        return
    if current == 0:
        log.warning("knowledge base: %s; %s", kb.NO_ENTRIES, kb.IMPORT_HINT)
