"""kb46: what an animal or a trade rules out — an animal is the goods of a shop's
complaint, the self-employed's insurance is not their licence, a utility is not another's,
and a day off asked of a payment is not an office's day.
docs/knowledge.md, "Thirty-sixth round (kb46)". The sentences are this round's own, not
lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.objects import ANY, Objects
from knowledge.search import Index, quantities_asked, states
from tests.knowledge.test_search_round26 import TODAY, assert_read_out


def test_an_entry_about_trade_speaks_of_any_animal_as_goods(objects: Objects) -> None:
    assert objects.mentioned("买东西被坑了去哪儿投诉商家12315", "买东西被坑了去哪儿投诉商家")["pets"] \
        == frozenset({ANY})
    # Any other entry speaks of the animals its text names, and no others.
    assert "pets" not in objects.mentioned("第一次办居住证需要什么条件", "第一次办居住证需要什么条件")


def test_an_animal_rules_out_registering_but_not_the_shops_complaint(objects: Objects) -> None:
    cat = objects.named("宠物店卖的猫病死了", caller=True)
    complaint = "买东西被坑了去哪儿投诉商家"
    permit = "第一次办居住证需要什么条件"
    assert objects.other_object(cat, objects.named(complaint, title=True),
                                objects.mentioned(complaint, complaint)) is None
    assert objects.other_object(cat, objects.named(permit, title=True),
                                objects.mentioned(permit, permit)) == "pets"


@pytest.mark.parametrize(("text", "entry"), [
    # A sick animal sold is a shop's complaint: the animal is the goods.
    ("从宠物店抱回来的布偶猫三天就病死了，老板说概不退换，我去哪投诉？", "kb013"),
    ("花鸟市场买的鹦鹉没两天就死了，卖鸟的不给退，去哪能投诉他？", "kb013"),
    ("网上买了条小狗，到家就查出犬瘟，卖家拉黑了我，这个怎么投诉？", "kb013"),
    # The self-employed's own insurance is not their licence: what is asked decides.
    ("我是干个体的，想自己交养老保险，在哪儿办？", "kb020"),
    ("开了个小超市，个体户，自己的社保怎么交", "kb020"),
    ("个体工商户想给自己交养老保险，去哪交", "kb020"),
    # The licence is still the licence.
    ("我想开家小卖部，个体户执照在哪办", "kb012"),
])
def test_what_is_asked_not_the_animal_or_the_trade_decides(index: Index, text: str,
                                                          entry: str) -> None:
    assert_read_out(index, text, entry)


def test_another_operation_of_a_business_is_neither_entry(index: Index) -> None:
    r = index.search("个体户每年的年报在哪里报", today=TODAY)
    assert r.answer is None or r.answer.id not in {"kb012", "kb020"}, (r.hits[:2], r.features)


@pytest.mark.parametrize("text", [
    "燃气的用户编号在哪儿能看到",
    "煤气费的户号去哪找",
])
def test_a_gas_customer_number_is_not_the_water_bills(index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    # kb47: the number is a member of the gas family no gas entry's title names, so the
    # gas bill's entry is ruled out too and the water bill's may rank first: it is neither
    # read out nor offered.
    assert r.answer is None or r.answer.id != "kb037"
    assert all(h.confidence == 0.0 for h in r.hits if h.id == "kb037"), (r.hits[:2], r.features)


@pytest.mark.parametrize(("text", "day"), [
    ("星期天能交电费吗", False),
    ("周末垃圾也得分类吗", False),
    ("周六营业厅开门吗", True),
    ("礼拜天派出所办不办身份证", True),
    ("节假日能去民政局领证吗", True),
])
def test_a_day_off_is_asked_only_of_an_office(text: str, day: bool) -> None:
    assert ("day" in quantities_asked(text)) is day


def test_a_span_of_working_days_states_no_opening_day() -> None:
    assert not states("一般十五个工作日左右可以领证", "day")
    assert states("工作日上午九点到下午五点办理", "day")


@pytest.mark.parametrize(("text", "entry"), [
    ("周日能交电费吗", "kb040"),
    ("周末能交水费吗", "kb037"),
])
def test_paying_on_a_day_off_is_read_out(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_paying_on_a_day_off_is_no_size_the_entry_lacks(index: Index) -> None:
    r = index.search("礼拜天可以交电费吗", today=TODAY)
    assert r.hits[0].id == "kb040" and not r.features.get("unquantified"), r.features


def test_an_office_asked_on_a_day_off_is_not_answered(index: Index) -> None:
    r = index.search("周日派出所给办居住证吗", today=TODAY)
    assert r.answer is None, (r.hits[:2], r.features)


def test_a_utility_is_named_by_its_service_not_by_a_computer(objects: Objects) -> None:
    assert objects.named("燃气费的户号在哪看", caller=True)["utility"] == frozenset({"燃气"})
    # 用电脑 is using a computer, not using power.
    assert objects.named("用电脑怎么交水费", caller=True)["utility"] == frozenset({"水"})
