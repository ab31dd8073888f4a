"""kb45: knowledge answers a blind probe missed — the entry named by the clause that asks
only when the story ranks another first, whether a fee is charged or a figure went up
asked of an entry that states none, a verb split by its result, callers' names (a dog's
breed, a street tree, renovation rubble).
docs/knowledge.md, "Thirty-sixth round (kb45)". The sentences are this round's own, not
lines of a bench file.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from knowledge.search import Index, clause_things, quantities_asked, worth_confirming
from tests.knowledge.test_search_round26 import TODAY, assert_read_out

CONFIRM_FROM = Settings().ivr.kb_confirm_from


@pytest.mark.parametrize("text", [
    # The story (a flat bought) ranks the purchase drawing first; the clause that asks
    # names the heating fee only.
    "年初换了套二手房，这个冬天的取暖费可以在网上交吗？",
    "房子是去年买的二手的，今年的供暖费能用微信交吗？",
])
def test_the_asking_clause_names_the_entry_the_story_does_not(index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == "kb035", (r.hits[:3], r.features)


@pytest.mark.parametrize(("text", "kinds"), [
    ("补办身份证收费吗？要多少钱", {"money"}),
    ("换结婚证要不要钱", {"money"}),
    ("高龄津贴今年上调了没有？九十岁一个月给多少", {"change", "amount"}),
    ("养老补贴涨没涨", {"change"}),
])
def test_a_fee_or_a_rise_asked_is_a_size(text: str, kinds: set[str]) -> None:
    assert quantities_asked(text) == kinds


@pytest.mark.parametrize(("text", "entry"), [
    ("补办身份证收费吗？要多少钱", "kb004"),
    ("高龄津贴今年上调了没有？九十岁一个月给多少", "kb009"),
    ("老人的高龄补贴今年提高了吗", "kb009"),
])
def test_a_size_the_entry_does_not_state_is_not_answered(index: Index, text: str,
                                                          entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None, (r.hits[:2], r.features)
    assert r.hits[0].id != entry or r.features.get("unquantified"), r.features


def test_a_fee_the_entry_states_is_still_answered(index: Index) -> None:
    # kb048 says 电子收费 and how to pay; the line asks how, not whether, so no size.
    assert quantities_asked("路边停车费怎么交") == frozenset()


@pytest.mark.parametrize("text", [
    "刚从朋友那接了只哈士奇，要去哪儿登记？",
    "家里新添了一条拉布拉多，得办什么手续",
])
def test_a_dog_named_by_its_breed(index: Index, text: str) -> None:
    assert_read_out(index, text, "kb050")


@pytest.mark.parametrize("text", [
    "上个月刚买完房，我爱人的公积金也能一起取吗？",
    "我们办好房子的手续了 刚买完房 公积金怎么提",
])
def test_the_act_done_between_verb_and_object_is_the_entrys_word(index: Index,
                                                                 text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == "kb015", (r.hits[:3], r.features)


def test_done_with_nothing_after_is_no_split(index: Index) -> None:
    # 交完了 is the fee paid, not 交了 split: no respelling of 交完了.
    assert "交了" not in index.spelling.respell("暖气费交完了能开发票吗")


def test_what_a_renovation_takes_out(index: Index) -> None:
    assert_read_out(index, "装修换掉的旧门 怎么处理", "kb045")
    # 拆 is an act the entry never speaks of: offered, ranked first.
    r = index.search("厨房改造拆下来的旧窗户该往哪儿扔？", today=TODAY)
    assert worth_confirming(r, CONFIRM_FROM) is not None and r.hits[0].id == "kb045", r.hits[:2]


def test_a_street_tree_named_as_callers_name_it(index: Index) -> None:
    r = index.search("门口那排行道树的树杈戳到三楼窗户了，谁管？", today=TODAY)
    assert r.hits[0].id == "kb046" and r.hits[0].confidence >= CONFIRM_FROM, r.hits[:2]


@pytest.mark.parametrize(("clause", "things"), [
    ("今年的暖气费能在手机上交吗", {"暖气费"}),
    # Where or by what it is done is no thing asked; who it is for is.
    ("能在外地换吗", set()),
    ("政府给岁数大的人发的钱怎么领", {"政府", "岁数"}),
    ("怎么办理", set()),
])
def test_the_things_an_asking_clause_names(clause: str, things: set[str]) -> None:
    assert clause_things(clause) == things


@pytest.mark.parametrize(("said", "not_read"), [
    # review135: 不好交 is "hard to pay", never 不交 split by a result: the heating fee
    # paid with trouble read out the heating stop (不交暖气费 is kb036's keyword).
    ("暖气费在网上不好交怎么办", "不交"),
    ("电表不好用了", "不用"),
    ("合同不好签", "不签"),
])
def test_a_negation_with_a_result_is_no_split_verb(index: Index, said: str,
                                                   not_read: str) -> None:
    assert not_read not in index.spelling.respell(said)


def test_hard_to_pay_the_heating_fee_is_the_fee_not_the_stop(index: Index) -> None:
    # review135: a caller for whom paying is hard asks how to pay (kb035), not to stop.
    r = index.search("暖气费在网上不好交怎么办", today=TODAY)
    assert r.hits[0].id == "kb035", (r.hits[:3], r.features)
