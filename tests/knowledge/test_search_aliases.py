"""Thirty-third round (kb41): what callers call an entry when they do not know its official
name (config/kb_aliases.toml, by entry id). docs/knowledge.md, "Thirty-third round (kb41)".
The sentences are this round's own, not lines of a bench file; each alias answered has a
near miss of the same words that stays unanswered.
"""

from __future__ import annotations

import csv

import pytest

from knowledge.search import (
    ALIASES_FILE,
    FIELD_WEIGHTS,
    Doc,
    Index,
    complaint_words,
    load_aliases,
    normalise,
    with_aliases,
    with_topics,
)
from tests.conftest import SHARED
from tests.knowledge.test_search_round26 import assert_read_out
from tests.knowledge.test_search_round32 import assert_unanswered


def test_aliases_join_only_their_own_entry_in_a_field_of_their_own() -> None:
    aliases = {"kb014": ("住房基金", "单位给存的住房钱")}
    rent = Doc(id="kb014", title="租房住怎么提取公积金", category="other", answer="网上办。",
               synonyms=("房租提取",))
    other = Doc(id="kb040", title="电费怎么交", category="other", answer="网上国网。")
    got = with_aliases(rent, aliases)
    assert got.aliases == ("住房基金", "单位给存的住房钱")
    # The editor's synonyms and the text read to callers are unchanged.
    assert (got.title, got.answer, got.keywords, got.synonyms) == (
        rent.title, rent.answer, rent.keywords, rent.synonyms)
    assert with_aliases(other, aliases) == other
    # In the ranking an alias weighs as the answer does: a long list of them must not
    # outweigh the title, nor lengthen the entry as three copies would.
    assert FIELD_WEIGHTS["aliases"] == FIELD_WEIGHTS["answer"] < FIELD_WEIGHTS["title"]


def _faq() -> list[dict[str, str]]:
    with (SHARED / "kb" / "faq.tsv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_shipped_aliases_name_known_entries_and_say_no_complaint() -> None:
    """An entry's own words are its subject to the complaint guard: a complaint word among
    its aliases would let complaints about it be answered."""
    aliases = load_aliases(ALIASES_FILE)
    ids = {r["id"] for r in _faq()}
    assert len(aliases) >= 35 and set(aliases) <= ids
    assert {p: complaint_words(p) for ps in aliases.values() for p in ps
            if complaint_words(p)} == {}


def test_shipped_aliases_repeat_no_keyword_or_topic_phrase_of_their_entry() -> None:
    """One name in one place: a phrase the entry's keywords or config/kb_topics.toml already
    give it is not written again here (two copies drift)."""
    aliases = load_aliases(ALIASES_FILE)
    repeated = {}
    for r in _faq():
        doc = with_topics(Doc(id=r["id"], title=r["title"], category=r["category"],
                              answer=r["answer"], keywords=tuple(r["keywords"].split(","))))
        own = {normalise(p) for p in (*doc.keywords, *doc.synonyms)}
        if same := [p for p in aliases.get(r["id"], ()) if normalise(p) in own]:
            repeated[r["id"]] = same
    assert repeated == {}


@pytest.mark.parametrize(("text", "entry"), [
    # 公积金 called what it is to the caller: the housing money the employer pays in.
    ("单位给存的住房钱怎么转到新东家", "kb017"),
    # The marriage certificate by its colour.
    ("我想领红本本去哪办", "kb008"),
    # The residence permit by who gets it.
    ("外来务工人员想办个长住的证要什么条件", "kb001"),
    # The branches rather than the tree.
    ("楼下的枝杈挡住窗户了找谁剪", "kb046"),
])
def test_a_callers_name_for_the_entry_is_read_out(index: Index, text: str,
                                                  entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize("text", [
    "红本本丢了怎么补",          # another matter (reissue) of the marriage certificate
    "住房基金的密码忘了怎么办",  # no entry says how to reset a password
    "五险一个月交多少钱",        # a sum no social-insurance entry states
    "住房基金贷款利率太高了",    # a complaint, no question
])
def test_an_alias_does_not_answer_another_question_about_the_thing(index: Index,
                                                                   text: str) -> None:
    assert_unanswered(index, text)
