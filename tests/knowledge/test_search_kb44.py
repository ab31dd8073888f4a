"""kb44: the wrong entry read out, and needs still missed — an entry whose keyword names
an act only denied (不交暖气费) ranked before the entry of the act, 该 ("should") before
the question word hid the thing asked, a need the caller denies (不是要贷款) named an
object, and a shop (店里, 商店) was no 商家. docs/knowledge.md, "Thirty-fifth
round (kb44)". The sentences are this round's own, not lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import (
    _OBJECTS,
    Doc,
    Index,
    affirmed_acts,
    asked_objects,
    denied_acts,
    denies_act,
)
from tests.knowledge.test_search_round26 import assert_read_out


@pytest.mark.parametrize(("phrase", "act"), [
    ("不交暖气费", "交"),
    ("不供暖", "供暖"),
    # No one lives there: the negation of the doer denies the act too.
    ("没人住", "住"),
    # A noun that opens with 不, and a negation inside the phrase, deny no act.
    ("不动产权证", None),
    ("商家不退款", None),
])
def test_a_keyword_that_opens_by_denying_an_act(phrase: str, act: str | None) -> None:
    assert denies_act(phrase) == act


def test_an_act_the_title_names_itself_is_not_only_denied() -> None:
    stop = Doc(id="x1", title="房子没人住能不能申请停暖报停", category="c", answer="a",
               keywords=("报停", "不交暖气费"))
    paid = Doc(id="x2", title="暖气费怎么交", category="c", answer="a",
               keywords=("不交暖气费",))
    assert denied_acts(stop) == {"jiao"}
    assert denied_acts(paid) == frozenset()


@pytest.mark.parametrize(("text", "affirmed"), [
    ("这套房子的暖气费怎么交", True),
    ("暖气费交到哪儿", True),
    ("今年暖气费能不交吗", False),
    ("暖气费可以不交吗", False),
    ("房子没人住，暖气费不想交", False),
])
def test_the_act_said_without_a_negation(text: str, affirmed: bool) -> None:
    assert ("jiao" in affirmed_acts(text)) is affirmed


@pytest.mark.parametrize("text", [
    "我家房子的暖气费该去哪儿交",
    "这套房子今年的暖气费怎么交",
    "我们家这套房子的取暖费该去哪儿缴啊",
])
def test_paying_the_heating_of_a_house_is_the_fee_entry(index: Index, text: str) -> None:
    # kb036's keyword 不交暖气费 and title's 房子 ranked the heating stop first (0.81).
    assert_read_out(index, text, "kb035")


@pytest.mark.parametrize("text", [
    "今年暖气费能不交吗",
    "房子一直空着没人住，暖气费可以不交吗？",
])
def test_not_paying_the_heating_is_still_the_stop_entry(index: Index, text: str) -> None:
    assert_read_out(index, text, "kb036")


def test_should_before_the_question_word_is_not_the_thing_asked() -> None:
    assert asked_objects("我家房子的暖气费该去哪儿交") == {"暖气费"}
    assert asked_objects("社保卡该找谁办") == {"社保卡"}


@pytest.mark.parametrize(("text", "entry"), [
    # The needs the caller denies (不是要提取, 也不贷款) name no 公积金 operation: they ruled
    # out the transfer entry as "another object" (贷款 against 转移).
    ("公积金不是要提取也不是要贷款，就是换了单位，账户怎么接上", "kb017"),
    ("我没买房，一直租房子住，公积金的钱能拿出来用吗", "kb014"),
])
def test_a_need_the_caller_denies_names_no_object(index: Index, text: str,
                                                  entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "named"), [
    ("公积金不是要贷款", frozenset()),
    ("公积金也不贷款", frozenset()),
    # Asked X不X, the operation is named.
    ("公积金要不要贷款", frozenset({"贷款"})),
    ("公积金能不能贷款买房", frozenset({"贷款"})),
])
def test_the_operations_a_caller_denies_are_not_named(text: str, named: frozenset[str]) -> None:
    assert _OBJECTS.named(text, caller=True).get("housing_fund", frozenset()) == named


@pytest.mark.parametrize("text", [
    # 店里, 商店 are the 商家 that will not refund (config/kb_synonyms.toml).
    "楼下小卖部买的饮料过期了，店里不给退钱，这个归谁管？",
    "在商店买的电热水壶用一次就坏了商店不给退款我找谁",
])
def test_a_shop_refusing_a_refund_is_the_consumer_complaint(index: Index, text: str) -> None:
    assert_read_out(index, text, "kb013")
