"""kb40: an entry about another object than the caller's ranks first on a word of its own
(二手房, 公交), and the entry about the caller's object just after it answers in its place.
docs/knowledge.md, "Thirty-second round (kb40)". The sentences are this round's own, not
lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import Index, asked_actions, worth_confirming
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out
from tests.knowledge.test_search_round32 import CONFIRM_FROM, assert_unanswered


@pytest.mark.parametrize(("text", "entry"), [
    # 二手房 is a keyword of 买房以后怎么提取公积金 (kb015), which ranks first and is about
    # drawing, not the loan the caller names.
    ("二手房能用公积金贷款吗，怎么申请", "kb016"),
    ("买二手房想用公积金贷款去哪申请", "kb016"),
    # 公交 is the old-age card's (kb010: 公交优待), which ranks first; the card lost is the
    # identity card.
    ("坐公交的时候身份证丢了，怎么补办？", "kb004"),
])
def test_the_entry_about_the_callers_object_answers_after_one_about_another(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_the_ranking_shows_it_first_even_when_one_hit_is_asked(index: Index) -> None:
    """The IVR asks for one hit: the entry ruled out must not be all it sees."""
    r = index.search("二手房能用公积金贷款吗，怎么申请", today=TODAY, limit=1)
    assert [h.id for h in r.hits] == ["kb016"]
    assert r.answer is not None and r.answer.id == "kb016"


def test_it_is_offered_when_it_is_only_likely(index: Index) -> None:
    r = index.search("我家老人坐公交把身份证丢了怎么补", today=TODAY, limit=1)
    hit = worth_confirming(r, CONFIRM_FROM)
    assert r.answer is None and hit is not None and hit.id == "kb004", (r.hits, r.features)


@pytest.mark.parametrize("text", [
    # No entry is about these cards: the old-age card stays ruled out and nothing after
    # it names the caller's object.
    "社保卡坐公交的时候丢了，怎么补办？",
    "驾驶证坐公交的时候丢了怎么补",
    "户口本坐公交丢了怎么补",
    "医保卡在公交上丢了咋补",
    # Ruled out for a matter or an act, not another object: the entries after it share
    # the topic and answer neither (转 of 社保 or 公积金 is not a change of kindergarten).
    "公积金贷款想提前还一部分，怎么办？",
    "孩子在公立幼儿园上了一年，想转到离家近的那家，怎么转？",
    # A pet the dog licence never names.
    "我家猫丢了去哪儿登记",
])
def test_nothing_after_an_entry_ruled_out_answers_another_object_or_matter(
        index: Index, text: str) -> None:
    assert_unanswered(index, text)


@pytest.mark.parametrize(("text", "entry"), [
    # 怎么才能 asks how as 怎么 does: jieba glues 才 and 能 into 才能 ("talent"), which was
    # read as the act asked after "how" that no entry speaks of (confidence 0) and as a
    # rare word no entry has.
    ("我妈常年住在老家，在那边看病怎么才能直接结算？", "kb028"),
    ("我要去外地住一阵子，在当地看病怎么才能直接刷医保？", "kb028"),
    ("公积金怎么才能提取出来付房租？", "kb014"),
    ("停车欠费了怎么才能补缴？", "kb048"),
    ("怎么才能办居住证？", "kb001"),
    ("孩子怎么才能报上幼儿园", "kb031"),
])
def test_how_only_then_can_asks_how(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_only_then_can_names_no_act(index: Index) -> None:
    assert "才能" not in asked_actions("在那边看病怎么才能直接结算")


def test_a_size_asked_with_only_then_can_stays_a_ticket(index: Index) -> None:
    assert_unanswered(index, "养老金要交够多少年才能领")
