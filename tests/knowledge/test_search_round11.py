"""The eleventh round: a caller who tells a story around the question. The clauses that
ask (a question word or form) are told from the story around them (punctuation ends a
clause); once the caller said more of the entry than a short question does, a word of
the story that the entry lacks weighs ``STORY_WEIGHT`` of a word of the question. Only
when the question is about the entry: a story that names the entry's topic around a
question it does not answer gains nothing. Shipped settings; probes written for this
(none from shared/ or bench/data)."""

from __future__ import annotations

import pytest

import knowledge.search as search
from knowledge.search import (
    EVIDENCE_WORDS,
    NO_STORY,
    Index,
    confidence,
    normalise,
    said_of_entry,
    story,
    worth_confirming,
)
from tests.knowledge.test_search_round9 import TODAY, _probes


@pytest.mark.parametrize("row", _probes("story-clause"), ids=lambda r: r["text"][:12])
def test_a_story_around_the_question_costs_less(index: Index, row: dict[str, str]) -> None:
    r = index.search(row["text"], today=TODAY)
    assert r.answer is not None and r.answer.id == row["expect"]
    # The story is what made the difference: counted as question words, it kept the
    # right entry under the threshold.
    assert confidence(r.features, story_weight=1.0) < search.DEFAULT_MIN_CONFIDENCE


def test_a_story_around_another_question_gains_nothing(
        index: Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """The story names the public-housing entry's words (租了房); the question is of a
    disability card, which the entry does not answer: it stays unanswered, though its
    story would have carried it past the threshold."""
    text = "我上个月从河南过来，在这边租了房，想问下残疾人证在哪里申请"
    assert index.search(text, today=TODAY).answer is None
    monkeypatch.setattr(search, "STORY_ASKED", 0.0)
    assert index.search(text, today=TODAY).answer is not None


@pytest.mark.parametrize("text", [
    # Complaints told as a story around a question: the complaint guard still decides.
    "楼下饭馆油烟太大，天天往我家窗户里灌，找谁能管管？",
    "物业收了停车费，车位还是天天被外人占，这钱不是白交了吗？",
    "我有北京的居住证，在这边住了好几年，能不能在北京考驾照？",
])
def test_complaints_and_other_questions_told_as_a_story_are_not_answered(
        index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None


def test_a_story_needs_clauses_that_ask_and_clauses_that_do_not() -> None:
    # A recogniser's text has no punctuation: one clause, nothing to tell apart.
    assert story("我钱包丢了身份证也在里面怎么补办") == NO_STORY
    assert story("身份证丢了怎么补办？在哪办？") == NO_STORY  # every clause asks
    assert story("身份证丢了，钱包也丢了。") == NO_STORY  # none does
    told = story("我昨天去菜市场，身份证丢了，身份证怎么补办？")
    assert "菜市场" in told.words and "身份证" not in told.words  # said in the question too
    assert "补办" in told.asked and "菜市场" not in told.asked


def test_a_caller_who_said_little_of_the_entry_gets_no_story_credit() -> None:
    """Around one or two of an entry's words the rest is the question, not a story."""
    f = {"words": 0.3, "sounds": 0.3, "words_told": 0.6, "sounds_told": 0.6, "margin": 0.5,
         "question": 1.0, "said": EVIDENCE_WORDS}
    assert said_of_entry(f) <= EVIDENCE_WORDS
    assert confidence(f) == confidence(f, story_weight=1.0)
    f["said"] = EVIDENCE_WORDS + 1.0
    assert confidence(f) > confidence(f, story_weight=1.0)


def test_the_story_rule_keeps_a_likely_story_for_the_confirmation_turn(index: Index) -> None:
    """A story whose question says nothing of its own that the entry has (这可怎么…) is
    still offered for confirmation, not answered."""
    r = index.search("我昨天去菜市场买菜，回来一摸兜发现身份证丢了，这可怎么补办", today=TODAY)
    assert r.answer is None and worth_confirming(r, 0.3) == r.hits[0]


def test_colloquial_moving_and_firing_read_as_the_entries_words(index: Index) -> None:
    """挪过来 an account is 转移 it, 把我开了 is 辞退 (config/kb_synonyms.toml); 挪用
    (embezzling) and a door that 开了 are neither."""
    assert "转移" in normalise("老家的医保能挪过来吗") and "转移" in normalise("公积金挪到新单位")
    assert "转移" not in normalise("维修资金被挪用了")
    assert "辞退" in normalise("老板把我开了") and "辞退" in normalise("干了三年被开了")
    assert "辞退" not in normalise("单元门开了一天没人关")
    r = index.search("在天津交的社保，能挪到北京来吗？", today=TODAY)
    assert r.answer is not None and r.answer.id == "kb021"
