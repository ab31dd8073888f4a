"""The fifteenth round: three kinds of evidence the entry does not have or the caller does.

- "May or may not" (能不能减免, 可不可以转让) asks whether an action may be done as 能…吗
  does: the verb that ends the clause is the action asked about (feature ``unacted``).
- The housing fund's withdrawals for another purpose (看病, 盖房) name another member of
  its family than the rent or purchase withdrawal (config/kb_objects.toml).
- Words that ask nothing and report nothing, all of them an entry's own (交水费), name
  that entry as a menu choice does: a question that may read as a complaint (0.75), not
  words that ask nothing (0.5). An event told (停电了), a negation or a complaint word
  keeps the old weight.

Probes written for this (none from shared/ or bench/data)."""

from __future__ import annotations

import pytest

from knowledge.search import DEFAULT_MIN_CONFIDENCE, Index, asked_actions, names_entry
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "actions"), [
    ("营业执照可不可以转让？", {"转让"}),
    # Read after the synonyms (提现 is written 提取).
    ("养老助残卡里的补贴能不能提现", {"提取"}),
    ("这个能否退", {"退"}),
    # The verb must end the clause: after an object it may be the entry's in other words.
    ("能不能拿公积金交房租", set()),
    ("能不能", set()),
])
def test_may_or_may_not_names_the_action(text: str, actions: set[str]) -> None:
    assert asked_actions(text) == actions


@pytest.mark.parametrize(("text", "entry"), [
    ("营业执照可不可以转让", "kb012"),
    ("养老助残卡里的补贴能不能提现", "kb009"),
])
def test_another_action_asked_may_or_may_not_is_never_answered(
        index: Index, text: str, entry: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.hits[0].id == entry and res.features["unacted"] == 1.0
    assert res.answer is None and res.hits[0].confidence == 0.0


def test_the_entry_speaking_of_the_action_still_answers(index: Index) -> None:
    res = index.search("居住证的有效期能不能延期", today=TODAY)  # kb002: 顺延
    assert res.answer is not None and res.answer.id == "kb002"


@pytest.mark.parametrize("text", [
    "公积金能不能取出来给孩子治病",
    "公积金里的钱能给我爸看病用吗",
    "想拿公积金回村里翻建老房子，能取吗",
])
def test_a_housing_fund_withdrawal_for_another_purpose_is_not_answered(
        index: Index, text: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.answer is None
    assert res.features["other_object"] == 1.0


@pytest.mark.parametrize(("text", "entry"), [
    ("交水费", "kb037"),
    ("打印社保缴费记录", "kb022"),
    ("办理养犬登记", "kb050"),
])
def test_an_entry_named_as_from_a_menu_is_answered(index: Index, text: str,
                                                   entry: str) -> None:
    res = index.search(text, today=TODAY)
    assert names_entry(res.features)
    assert res.answer is not None and res.answer.id == entry
    assert res.answer.confidence >= DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize("text", [
    "停电了",  # an event told: a report
    "电费没交",  # negated
    "家里暖气片漏水",  # the entry does not have every word
])
def test_what_reports_or_says_more_than_the_entry_keeps_its_weight(
        index: Index, text: str) -> None:
    res = index.search(text, today=TODAY)
    assert not names_entry(res.features)
    assert res.answer is None


def test_a_blame_word_only_the_story_has_tells_the_situation(index: Index) -> None:
    """The asking clause asks kb010's question in words of its own (老年卡): 天天 in the
    story is how the caller's mother lives, not a unit to send."""
    res = index.search("我妈下个月满六十，她天天坐公交去公园，老年卡在哪儿办？", today=TODAY)
    assert res.features["complaint"] == 0.0 and res.features["blame"] == 0.0
    assert res.answer is not None and res.answer.id == "kb010"


@pytest.mark.parametrize("text", [
    # Asking clauses with nothing of their own: a complaint told as a story stays one.
    "我们小区老是停水，天天没人管，这可咋整？",
    # The blame word in the asking clause itself.
    "家里老是停电，你们管不管？",
    # No clauses (a recogniser's text): nothing to tell apart.
    "我妈下个月满六十她天天坐公交去公园老年卡在哪儿办",
])
def test_complaint_words_count_where_the_question_is_or_cannot_be_told_apart(
        index: Index, text: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.features["complaint"] == 1.0
    assert res.answer is None
