"""Clauses of a spoken question for the knowledge base: a recogniser writes no
punctuation, so the IVR marks a clause where the caller paused between two words
(``ivr.kb_answer.clause_text``), and a caller who tells a story around the question on
the phone gets the story rule a typed question gets (docs/knowledge.md, step 6a).
Transcripts built by hand, as the recogniser reports them: words with times."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from asr.cleanup import normalize
from asr.stream import Transcript, Word
from ivr.decisions import Step, take_turn
from ivr.kb_answer import CLAUSE_PAUSE_SECONDS, clause_text
from ticketing.context import Domain

WORD = 0.25  # each word's length in seconds
FLUENT = 0.05  # the gap between two words of a phrase


def spoken(*phrases: list[str], pause: float = 0.45) -> Transcript:
    """The phrases' words said fluently, with ``pause`` seconds of silence between two
    phrases; the text cleaned up as the IVR's recogniser stream does (``normalize``)."""
    words, t = [], 0.0
    for n, phrase in enumerate(phrases):
        if n:
            t += pause - FLUENT
        for w in phrase:
            words.append(Word(w, 1.0, round(t, 3), round(t + WORD, 3)))
            t += WORD + FLUENT
    return Transcript(normalize(" ".join(w.text for w in words)), words)


STORY = (["我们", "家", "孩子", "上个月", "在", "医院", "出生"], ["现在", "在", "家", "坐月子"],
         ["孩子", "的", "户口", "怎么", "上"])


def test_a_pause_ends_a_clause() -> None:
    t = spoken(["身份证", "丢", "了"], ["怎么", "补办"])
    assert clause_text(t) == "身份证丢了，怎么补办"


def test_a_shorter_pause_does_not() -> None:
    t = spoken(["身份证", "丢", "了"], ["怎么", "补办"], pause=CLAUSE_PAUSE_SECONDS - 0.1)
    assert clause_text(t) == "身份证丢了怎么补办"
    assert clause_text(spoken(["身份证", "丢", "了"], ["怎么", "补办"],
                              pause=CLAUSE_PAUSE_SECONDS)) == "身份证丢了，怎么补办"


def test_without_word_times_the_text_is_kept() -> None:
    assert clause_text(Transcript("身份证 丢 了 怎么 补办")) == "身份证 丢 了 怎么 补办"


def test_the_marks_go_into_the_cleaned_up_text() -> None:
    """The clean-up wrote 八十 as 80: the pause after it still ends the clause, and the
    text stays the one the call reads."""
    t = spoken(["我", "爸", "今年", "八十", "了"], ["高龄", "津贴", "怎么", "领"])
    assert t.text == "我爸今年80了高龄津贴怎么领"
    assert clause_text(t) == "我爸今年80了，高龄津贴怎么领"
    t = spoken(["我", "爸", "今年", "八十"], ["了", "高龄", "津贴", "怎么", "领"])
    assert clause_text(t) == "我爸今年80，了高龄津贴怎么领"


def test_words_that_are_not_the_texts_mark_nothing() -> None:
    words = spoken(["물이"], ["나오지", "않습니다"]).words
    assert clause_text(Transcript("想问下失业金在哪里申请", words)) == "想问下失业金在哪里申请"


def _turn(sessions: sessionmaker[Session], domain: Domain, t: Transcript,
          kb_text: str | None):
    return take_turn(sessions=sessions, domain=domain, text=t.text, ask_again=False,
                     offer_answer=True, call_id="c-kb-clauses", may_confirm=True,
                     kb_text=kb_text)


def test_a_spoken_story_is_answered_as_a_typed_one(sessions: sessionmaker[Session],
                                                   domain: Domain, faq: None) -> None:
    t = spoken(*STORY)
    turn = _turn(sessions, domain, t, clause_text(t))
    assert turn.step is Step.ANSWER and turn.answer is not None
    assert turn.answer.entry_id == "kb007"
    # One clause, as the recogniser's text alone reads: the story counts as the question,
    # and the entry is only offered for confirmation.
    plain = _turn(sessions, domain, t, None)
    assert plain.step is Step.CONFIRM_ENTRY


def test_pauses_in_a_complaint_give_no_answer(sessions: sessionmaker[Session],
                                              domain: Domain, faq: None) -> None:
    t = spoken(["派出所", "办", "户口", "的", "窗口"], ["态度", "太", "差", "了"])
    assert _turn(sessions, domain, t, clause_text(t)).step is Step.READBACK
