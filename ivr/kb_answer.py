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
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts as P
from knowledge import service as kb
from knowledge.details import details_asked, online_act, states, whether_thing
from knowledge.models import KbEntry
from knowledge.search import worth_confirming
from ticketing.context import Domain
from ticketing.intake_model import Understanding

if TYPE_CHECKING:
    from asr.stream import Transcript

log = logging.getLogger("hotline.ivr.kb_answer")

# A silence between two of the recogniser's words that ends a clause, in seconds. Vosk
# places words of fluent speech back to back (gaps of 0-0.1 s) and a speaker draws breath
# or hesitates inside a phrase for about 0.1-0.25 s; between clauses, where a writer puts a
# comma, speakers pause for about 0.3-0.6 s, and much longer silences already end Vosk's
# utterance (its endpointer, then the energy gate). 0.3 s is the shortest pause that is
# not within a phrase. A clause wrongly ended costs little: the knowledge base discounts
# only the words of clauses that ask nothing and that the entry lacks.
CLAUSE_PAUSE_SECONDS = 0.3
# What the knowledge base reads as the end of a clause (any punctuation does).
_CLAUSE_MARK = "，"


def clause_text(transcript: Transcript, pause: float = CLAUSE_PAUSE_SECONDS) -> str:
    """The transcript's text with a clause mark before each word the caller said after a
    pause of at least ``pause`` seconds, for the knowledge base, which tells a story from
    the question around it by its clauses (``knowledge.search.story``); a recogniser
    writes no punctuation.

    The marks go into the text, not a text rebuilt from the words: the text is what the
    rest of the call reads (cleaned up after recognition: spaces dropped, spoken numbers
    as digits). A word is found in it from where the one before it ended; one that the
    clean-up rewrote (八十 as 80) is not found and gets no mark, the next word is looked
    for past it. Without word times, the text as it is."""
    text, words = transcript.text, transcript.words
    marks: list[int] = []
    at = 0
    found_last = True
    for n, word in enumerate(words):
        i = text.find(word.text, at)
        # Past an unfound word its rewriting lies in between; else only spaces may.
        if i < 0 or (found_last and text[at:i].strip()):
            found_last = False
            continue
        if n and i > 0 and round(word.start - words[n - 1].end, 3) >= pause:  # 10 ms frames
            marks.append(i)
        at, found_last = i + len(word.text), True
    for i in reversed(marks):
        text = text[:i].rstrip() + _CLAUSE_MARK + text[i:]
    return text


# Where an answer may be cut for the ear: after a sentence's end 。！？ (and the closing
# quote or bracket that belongs to it), or a semicolon ； between the items of a list. None
# of these stands inside a number (1.5, 12345, 3,000 have no such mark), so no number is
# split. An ASCII ? ! ; ends a sentence only before a space or the end: inside a URL
# (…/query?id=1) or a number (010-12345678;8001) it is no end, and a line break is none
# either (review55: the cut was at every one of them, where docs/ivr.md says 。！？；).
_END = "(?:[。！？；]|[?!;](?=\\s|$))"
_SENTENCE = re.compile(f"(?:(?!{_END}).)+(?:{_END}+[”’」』）)]*|$)", re.DOTALL)
# A rest this much shorter than a part is read with the part before it: a key press to
# hear one short sentence costs the caller more than hearing it.
_SHORT_REST = 4


@dataclass(frozen=True)
class KbAnswer:
    """The entry read to the caller, as it stood when it was found."""

    entry_id: str
    version: int
    title: str
    text: str
    confidence: float
    confirm: bool = False  # below kb_answer_from: ask "您是想问<title>吗" first
    # The details the question asked, in its order (``knowledge.details``: materials,
    # place…; kb29: 在哪办，要多久 asks two), or none.
    details: tuple[str, ...] = ()
    # Online: the act asked (``knowledge.details.online_act``: 交, 查; "" for 办 in general).
    act: str = ""
    # Whether the caller may: what it is asked of (``knowledge.details.whether_thing``:
    # 复核 of 能申请复核吗; "" for the procedure itself).
    thing: str = ""

    @property
    def detail(self) -> str | None:
        """The details asked as one name (place, place-duration): a recording's file."""
        return "-".join(self.details) or None


def _sentences(answer: str) -> list[str]:
    return list(filter(None, (m.group(0).strip() for m in _SENTENCE.finditer(answer.strip()))))


def answer_parts(answer: str, limit: int) -> list[str]:
    """``answer`` as the parts the telephone reads one at a time: whole sentences, each part
    up to ``limit`` characters (a sentence longer than that alone, never cut: a half
    sentence or a number split in two misleads more than a long one), a short rest joined
    to the part before it. Both carriers read an answer by these parts (SIP
    ``ivr.call_flow``, Twilio ``ivr.twilio.call_flow``): the first, then "继续收听请按3"
    before each next one. An answer within ``limit`` is one part, read as before."""
    parts: list[str] = []
    for sentence in _sentences(answer):
        if parts and len(parts[-1]) + len(sentence) <= limit:
            parts[-1] += sentence
        else:
            parts.append(sentence)
    if len(parts) > 1 and len(parts[-1]) * _SHORT_REST <= limit:
        parts[-2:] = [parts[-2] + parts[-1]]
    return parts or [answer]


@dataclass(frozen=True)
class Part:
    """One part of an answer as the telephone reads it: ``intro`` (what it is), the
    answer's own ``words``, then the keys' menu (``menu``, a prompt key)."""

    intro: str
    words: str
    menu: str
    # The sentences that state the detail asked, read before the rest (answer_reading):
    # the one place that says so (a recording's file name, bench/kb.py's count).
    detail_first: bool = False

    @property
    def more(self) -> bool:
        """Parts follow: 3 or no key reads the next one."""
        return self.menu != "kb_resolved_ask"

    @property
    def said(self) -> str:
        return self.intro + self.words


def _menu(more: bool) -> str:
    return "kb_more" if more else "kb_resolved_ask"


def rest_part(rest: list[str]) -> tuple[Part, list[str]]:
    """The next of the parts not read yet (``Part.said`` of each, as Twilio keeps them
    between webhooks) and those left after it."""
    return Part("", rest[0], _menu(len(rest) > 1)), rest[1:]


def answer_reading(answer: KbAnswer, limit: int) -> list[Part]:
    """How the telephone reads ``answer`` (one rule for SIP and Twilio): by the parts of
    ``answer_parts``, the first after the intro that names the entry's title; or, when
    the question asked details (``KbAnswer.details``: 要带什么材料, 在哪儿办, 网上能办吗,
    找谁, 能不能办; kb29: two of them, 在哪办，要多久) and some of the answer's sentences
    state them (``knowledge.details.states``), those sentences first, each detail's in the
    order asked, after "这是关于<title>的答复，先说<detail>：" and, for each next detail,
    "再说<detail>：" (one whose sentences an earlier detail took is named with it:
    "先说在哪儿办和要带的材料"), and before "听其他内容请按3…", then the other sentences in
    the answer's order, by parts, after "下面是其他内容。": nothing said twice, nothing left
    out. Read from the start as before when a detail asked
    is stated plainly by no sentence (护照多少钱，多久能拿到: the caller who heard only the
    wait first would take the cost for left out; mend67, review68), or every sentence
    states one, or those that do are more than one part's worth of sentences (``limit``;
    one long sentence is a part of its own, as ever)."""
    sentences = _sentences(answer.text)
    taken = [False] * len(sentences)
    # Each group of sentences read first and the details they state: a detail whose
    # sentences an earlier one took (带…到派出所办理 states materials and place) is named
    # with it, "先说要带的材料和在哪儿办".
    told: list[tuple[list[str], list[int]]] = []
    unstated = False  # a detail asked that no sentence states plainly
    for kind in answer.details:
        stating = [n for n, s in enumerate(sentences)
                   if states(s, kind, answer.thing if kind == "whether" else answer.act)]
        mine = [n for n in stating if not taken[n]]
        for n in mine:
            taken[n] = True
        if mine:
            told.append(([kind], mine))
        elif stating:
            next(kinds for kinds, said in told if stating[0] in said).append(kind)
        else:
            unstated = True
    first = [sentences[n] for _, said in told for n in said]
    if (not first or all(taken) or unstated
            or (len(first) > 1 and len("".join(first)) > limit)):
        parts = answer_parts(answer.text, limit)
        return [Part(P.kb_intro_text(answer.title) if n == 0 else "", words,
                     _menu(n < len(parts) - 1)) for n, words in enumerate(parts)]
    words = "".join(("" if n == 0 else P.kb_detail_next_text(kinds))
                    + "".join(sentences[i] for i in said)
                    for n, (kinds, said) in enumerate(told))
    rest = answer_parts("".join(s for s, yes in zip(sentences, taken, strict=True)
                                if not yes), limit)
    return [Part(P.kb_detail_intro_text(answer.title, told[0][0]), words, "kb_detail_more",
                 detail_first=True),
            *(Part(P.text("kb_rest_intro") if n == 0 else "", words, _menu(n < len(rest) - 1))
              for n, words in enumerate(rest))]


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
                    confirm=hit is not found.answer, details=details_asked(text),
                    act=online_act(text), thing=whether_thing(text))


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
