"""Twenty-fourth round (kb26): questions no entry answers are offered, not read out.

The caller names an entry's topic and asks what its answer never speaks of: what to do
about a wrong done to them (让人盗刷了，这咋办), whether a thing may still be done when its
time ran out (被辞退已经一年多了，还能申请仲裁吗), a procedure without a material it needs
(没有户口本，能办老年卡吗), an act jieba tags a place (上门), the thing asked before a time
word (基数每年啥时候调). docs/knowledge.md, "Twenty-fourth round (kb26)". The sentences are
this round's own, not lines of a bench file; each in the first direction is read out on
main.
"""

from __future__ import annotations

import pytest

from knowledge import search
from knowledge.search import (
    Index,
    asked_objects,
    capped,
    held_back,
    lapse_asked,
    materials,
    worth_confirming,
    wrongs_told,
)
from tests.knowledge.test_search_round9 import TODAY


def assert_offered(index: Index, text: str, entry: str, feature: str) -> None:
    """``entry`` is the best hit, capped by ``feature``: never read out, offered."""
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == entry, r.hits[:2]
    assert r.features[feature] == 1.0 and capped(r.features), r.features
    assert r.answer is None
    offered = worth_confirming(r, 0.3)
    assert offered is not None and offered.id == entry
    # Whatever threshold a deployment sets.
    assert index.search(text, today=TODAY, min_confidence=0.3).answer is None


def assert_read_out(index: Index, text: str, entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == entry, (r.hits[:2], r.features)


@pytest.mark.parametrize(("text", "entry", "wrong"), [
    ("我的养老助残卡让人盗刷了，这咋办？", "kb010", "盗刷"),
    ("我家燃气卡让人偷着充了别人的表，怎么办？", "kb042", "偷着"),
])
def test_a_wrong_done_to_the_caller_the_entry_never_speaks_of_is_offered(
        index: Index, text: str, entry: str, wrong: str) -> None:
    assert wrong in wrongs_told(text)
    assert_offered(index, text, entry, "unspoken")
    assert held_back(index.search(text, today=TODAY))


@pytest.mark.parametrize(("text", "entry"), [
    # The wrong is the entry's own (证件被偷, 不签合同), or there is none, only a loss.
    ("身份证被偷了，怎么办？", "kb004"),
    ("老板不签劳动合同，我该咋办？", "kb023"),
    # kb29: a loss the entry never speaks of (kb042 tells how to pay and write the card,
    # not what to do when it is lost) is filed: tests/knowledge/test_search_round29.py.
    ("老年卡丢了，咋办？", "kb010"),
    # A step asked of its own besides the story: the story is no question.
    ("钱包让人偷了，身份证怎么补办？", "kb004"),
])
def test_a_wrong_the_entry_speaks_of_or_a_step_asked_is_still_read_out(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_only_a_bare_what_to_do_makes_the_story_the_question() -> None:
    # 找谁给剪剪, 咋弄到卡里: a step of their own after "what to do".
    assert wrongs_told("树枝让风刮断了，找谁给剪剪") == frozenset()
    assert wrongs_told("卡让人拿走了，钱怎么弄到卡里") == frozenset()
    # The caller made to act (让我签) is no wrong done by another.
    assert wrongs_told("单位让我签个协议，怎么办") == frozenset()


@pytest.mark.parametrize(("text", "entry"), [
    ("被辞退已经一年多了，还能申请仲裁吗？", "kb025"),
    ("失业保险金领完了还可以接着领吗？", "kb026"),
    ("孩子出生都三个月了，还能上户口吗？", "kb007"),
    ("个税汇算都过了六月了，还能办吗？", "kb011"),
])
def test_a_time_run_out_is_offered_where_the_entry_states_no_limit(
        index: Index, text: str, entry: str) -> None:
    assert lapse_asked(text)
    assert_offered(index, text, entry, "lapsed")


@pytest.mark.parametrize(("text", "entry", "lapse"), [
    # The entry names the limit and states a span (过期…一年, 有效期满前三个月内).
    ("居住证过期两个月了，还能签注吗？", "kb002", True),
    ("身份证到期一个月了，还能换吗？", "kb003", True),
    # 快到期, 快一年了: not run out yet.
    ("身份证快到期了，还能用吗？", "kb003", False),
])
def test_a_time_limit_the_entry_states_is_still_read_out(
        index: Index, text: str, entry: str, lapse: bool) -> None:
    assert lapse_asked(text) is lapse
    assert_read_out(index, text, entry)


def test_almost_a_year_is_no_time_run_out() -> None:
    assert not lapse_asked("我在北京住了快一年了，还能办居住证吗")


@pytest.mark.parametrize(("text", "entry"), [
    ("没有户口本，能办老年卡吗？", "kb010"),
    ("我们没有租赁合同，房屋出租能备案吗？", "kb018"),
    ("没有出生证明，孩子能报名上幼儿园吗？", "kb031"),
])
def test_a_material_the_caller_lacks_is_offered(index: Index, text: str, entry: str) -> None:
    assert_offered(index, text, entry, "lacks")


@pytest.mark.parametrize(("text", "entry"), [
    # The entry says it negated itself (没有单位的灵活就业).
    ("我没有单位，社保怎么交？", "kb020"),
    # One of two the caller may bring (工作或住房证明).
    ("我没工作，能办居住证吗？", "kb001"),
])
def test_a_lack_the_entry_allows_is_still_read_out(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_the_materials_are_the_items_to_bring_not_a_choice() -> None:
    got = materials("带上孩子的出生医学证明、父母双方身份证、户口本和结婚证，到派出所申报")
    assert {"户口本", "结婚证"} <= got
    assert materials("带身份证、近期证件照和工作或住房证明，到派出所申请") == {"身份证", "近期证件照"}


@pytest.mark.parametrize(("text", "entry"), [
    ("护照能上门办吗？", "kb005"),
    ("居住证能上门签注吗？", "kb002"),
])
def test_come_to_the_home_is_an_act(index: Index, text: str, entry: str) -> None:
    assert "上门" in search.acts_said(text)
    assert_offered(index, text, entry, "unspoken")


def test_the_thing_asked_before_a_time_word(index: Index) -> None:
    assert asked_objects("公积金基数每年啥时候调？") == {"基数"}
    assert_offered(index, "公积金基数每年啥时候调？", "kb017", "unasked")
    # The entry's own thing before the time word is still answered.
    assert_read_out(index, "供暖季每年从哪天开始？", "kb034")


def test_a_stem_is_the_syllable_unfolded(index: Index) -> None:
    # Folded (sh/s, -ng/-n), 申 of 申请 was the stem of 生活 and 剩饭 in the sorting entry.
    assert search._stem("申") != search._stem("生")
    i = [d.id for d in index.docs].index("kb044")
    assert index.unspoken(i, frozenset({"申领"}))
    # 交 and 缴 are still one stem.
    assert search._stem("交") == search._stem("缴")


def test_nobody_answering_is_blame(index: Index) -> None:
    r = index.search("在网上申请了公租房，三个月了都没人理，该怎么办？", today=TODAY)
    assert r.features["blame"] == 1.0
    assert r.answer is None and worth_confirming(r, 0.3) is None


@pytest.mark.parametrize(("text", "entry"), [
    # kb24 offered these: 执行的, 离家近的, 吃剩的 were read as acts asked.
    ("采暖费执行的是什么收费标准？", "kb035"),
    ("我想把医保定点医院换成离家近的那家，在哪儿改？", "kb029"),
    ("喝剩的奶茶该扔哪个垃圾桶？", "kb044"),
])
def test_a_verb_before_de_is_no_act_asked(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)
    assert not index.search(text, today=TODAY).features["unspoken"]


def test_a_verb_before_de_asks_nothing_but_one_after_it_does() -> None:
    assert "剩下" not in search.acts_said("剩下的想用公积金贷，得找哪儿办？")
    assert "分期" in search.acts_said("暖气费能分期交吗")
