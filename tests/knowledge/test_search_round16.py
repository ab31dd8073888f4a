"""The sixteenth round: the word after "how" is the action asked, whatever jieba tags it.

jieba tags 过户, 销户 and 转学 nouns and 更正 an adverb, so "怎么销户" named no action and an
entry on the housing fund's transfer answered a caller who asks how to close the account.
Probes written for this (none from shared/ or bench/data)."""

from __future__ import annotations

import pytest

from knowledge.search import Index, asked_actions
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "actions"), [
    ("个体户营业执照怎么过户", {"过户"}),
    ("公积金账户怎么销户", {"销户"}),
    ("个税汇算的收入填错了怎么更正", {"更正"}),
    # An adverb before the verb says how it is done: the verb is the action.
    ("暖气费怎么直接交", {"交"}),
    # Doing any procedure, or a preposition first: no action named, as before.
    ("个体户营业执照怎么办理", set()),
    ("怎么把户口添上", set()),
])
def test_the_word_after_how_is_the_action_whatever_its_tag(
        text: str, actions: set[str]) -> None:
    assert asked_actions(text) == actions


@pytest.mark.parametrize(("text", "entry"), [
    ("个体户营业执照怎么过户", "kb012"),
    ("公积金账户怎么销户", "kb017"),
    ("个税汇算的收入填错了怎么更正", "kb011"),
])
def test_another_action_tagged_a_noun_is_never_answered(
        index: Index, text: str, entry: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.hits[0].id == entry and res.features["unacted"] == 1.0
    assert res.answer is None and res.hits[0].confidence == 0.0


@pytest.mark.parametrize(("text", "entry"), [
    ("出租的房子怎么备案", "kb018"),
    ("燃气卡怎么充值", "kb042"),
])
def test_the_entrys_own_action_tagged_a_noun_still_answers(
        index: Index, text: str, entry: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.answer is not None and res.answer.id == entry
