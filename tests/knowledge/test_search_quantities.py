"""The fifteenth round, second part: a caller who asks only a size of a topic (a price, a
rate, how long, when, how many) is answered by an entry that states a figure of that
kind, or not at all (feature ``unquantified``): the entry that shares the topic and states
none (how to pay the gas bill, how to apply for unemployment pay) answers a neighbouring
question. A caller who also asks how, where or whether is answered as before.

Probes written for this (none from shared/ or bench/data)."""

from __future__ import annotations

import pytest

from knowledge.search import Index, quantities_asked, states
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "kinds"), [
    ("燃气费一方多少钱", {"money"}),
    ("住院报销比例是多少", {"rate"}),
    ("医保能报百分之多少", {"rate"}),
    ("补办下来得等多久", {"duration"}),
    ("一般要多少个工作日", {"duration"}),
    ("养老金每个月几号发", {"date"}),
    ("每个月能补贴多少", {"amount"}),
    # Announcing the question asks nothing of its own.
    ("请问最低工资标准是多少", {"amount"}),
    ("失业金一个月能领多少钱，能领几个月", {"money", "duration"}),
    # Also asks how or whether: the entry that says how answers.
    ("失业金怎么申请，一个月能领多少钱", set()),
    ("公积金能贷多少，去哪儿申请", set()),
    # Counts nothing (好几年) or asks nothing at all.
    ("公租房住了好几年了，能不能买下来", set()),
    ("交了好几百的电费", set()),
])
def test_a_question_asking_only_a_size_names_its_kind(text: str, kinds: set[str]) -> None:
    assert quantities_asked(text) == kinds


@pytest.mark.parametrize(("text", "kind", "stated"), [
    ("在北京居住满半年", "duration", True),
    ("一般十五个工作日左右可以领证", "duration", True),
    ("一般几天就能拿到", "duration", True),
    # A date's month and the year after are no length of time.
    ("每年三月到六月底办理", "duration", False),
    ("到第二年三月十五日", "duration", False),
    ("每年十一月十五日开始", "date", True),
    ("单位缴存比例为12%", "rate", True),
    ("每立方米2.61元", "money", True),
    # A hotline's number and a month state no amount.
    ("每年三月到六月底办理，可拨打12366", "amount", False),
    ("审核通过后按月发放到社保卡里", "money", False),
])
def test_an_entry_states_a_figure_of_the_kind(text: str, kind: str, stated: bool) -> None:
    assert states(text, kind) is stated


@pytest.mark.parametrize(("text", "entry"), [
    ("天然气多少钱一方", "kb042"),
    ("失业保险金每个月发多少钱", "kb026"),
    ("专项附加扣除能扣多少", "kb011"),
    ("维修基金一户交多少钱", "kb049"),
])
def test_a_size_the_entry_states_no_figure_of_is_never_answered(
        index: Index, text: str, entry: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.hits[0].id == entry and res.features["unquantified"] == 1.0
    assert res.answer is None and res.hits[0].confidence == 0.0


@pytest.mark.parametrize(("text", "entry"), [
    ("居住证要在北京住多久才能办", "kb001"),  # 满半年
    ("护照办下来要多久", "kb005"),  # 七个工作日
    ("暖气几号停", "kb034"),  # 三月十五日
    # Asks how as well: the entry says how, and is read.
    ("失业金怎么申请，每个月能领多少钱", "kb026"),
])
def test_an_entry_stating_the_figure_or_saying_how_still_answers(
        index: Index, text: str, entry: str) -> None:
    res = index.search(text, today=TODAY)
    assert res.features["unquantified"] == 0.0
    assert res.answer is not None and res.answer.id == entry
