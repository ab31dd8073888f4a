"""The fourteenth round: a caller who names an entry's topic and asks how to do another
thing with it (注销 the licence the entry says how to get, 改 a name on a material the
entry lists). The action asked about -- the verb right after a "how" word -- is one the
entry never speaks of (not even its first character), so the entry is neither read out
nor offered for confirmation (feature ``unacted``: confidence 0, as for another object).
Also: before "how" and doing any procedure, the word is the thing asked about whatever
jieba tags it (低保怎么申请), and 这不…吗 blames. Probes written for this (none from
shared/ or bench/data)."""

from __future__ import annotations

import pytest

import knowledge.search as search
from knowledge.search import (
    UNASKED_CAP,
    Index,
    asked_actions,
    asked_objects,
    confidence,
    worth_confirming,
)
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "actions"), [
    ("个体户营业执照不干了，怎么注销？", {"注销"}),
    ("营业执照的经营范围怎么变更？", {"变更"}),
    ("身份证丢了咋补？", {"补"}),
    # Fillers before the verb are skipped (怎么自己交).
    ("社保怎么自己交？", {"交"}),
    # Doing any procedure names no action (怎么办理, 咋弄, 怎么申请).
    ("居住证到期了怎么办理？", set()),
    ("个税汇算在手机上咋弄？", set()),
    ("公租房怎么申请？", set()),
    # A preposition first: the action follows its object, which the entry may name its
    # own way (户口本上怎么把他添上).
    ("燃气卡充了钱，怎么往卡里写？", set()),
    ("孩子刚出生，怎么把他添到户口本上？", set()),
    # Only clauses that ask.
    ("营业执照要注销了。", set()),
    # Whether it may be done: the verb alone between 能 (可以) and 吗; not a verb with its
    # own object or place (能在网上交吗), nor what must be done (还要缴费吗: often a step
    # of the entry's own procedure, said in other words).
    ("护照丢了能补办吗？", {"补办"}),
    ("养老助残卡办了可以退吗？", {"退"}),
    ("电费能在网上交吗？", set()),
    ("报停以后还要缴费吗？", set()),
])
def test_asked_actions(text: str, actions: set[str]) -> None:
    assert asked_actions(text) == actions


@pytest.mark.parametrize(("text", "near"), [
    ("我的个体户营业执照不想要了怎么注销？", "kb012"),
    ("营业执照的经营范围怎么变更？", "kb012"),
    ("结婚证上的照片不清楚，怎么重拍？", "kb008"),
    # The newborn's entry lists the pages it gives, not how to replace a lost one.
    ("新生儿上户口，户口页丢了怎么补？", "kb007"),
    ("新生儿的出生医学证明弄丢了，能补办吗？", "kb007"),
])
def test_another_action_on_the_topic_is_not_answered(index: Index, text: str,
                                                     near: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near
    assert r.answer is None and r.hits[0].confidence == 0.0
    assert worth_confirming(r, 0.3) is None
    # Without the rule the entry would have been read out (the matter named, step 12 of
    # docs/knowledge.md, says the same of 注销, 变更 and 补办: both off).
    f = dict(r.features, unacted=0.0, unmatched=0.0, unspoken=0.0)
    assert confidence(f) >= search.DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("text", "expect"), [
    # The entry has the verb, or its first character (续 of 续签, 转 of 转移, 补 of 补领).
    ("换了工作，公积金怎么转到新单位？", "kb017"),
    ("居住证快到期了，怎么续？", "kb002"),
    ("身份证丢了怎么补？", "kb004"),
    ("电费在手机上怎么交？", "kb040"),
    ("供暖季快到了，家里空着的房子怎么报停？", "kb036"),
    ("燃气卡充了钱，怎么往卡里写？", "kb042"),
])
def test_the_entrys_own_action_is_answered(index: Index, text: str, expect: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == expect
    assert not r.features["unacted"]


@pytest.mark.parametrize(("text", "asked"), [
    # Before "how" and doing any procedure, the word is the thing asked about, whatever
    # jieba tags it: 低保 is tagged a verb.
    ("城里的低保应该怎么申请呢？", {"低保"}),
    ("我们是困难家庭，低保怎么办？", {"低保"}),
    # A negated verb is the story's state, no thing (不要了怎么办).
    ("旧床垫不要了怎么办？", set()),
    # After an action of its own the noun rule alone decides (丢了怎么补办: no noun).
    ("身份证丢了怎么补办？", set()),
])
def test_the_thing_before_how_and_any_procedure(text: str, asked: set[str]) -> None:
    assert asked_objects(text) == asked


@pytest.mark.parametrize("text", ["困难家庭的低保怎么申请？", "我们是困难家庭，低保怎么办？"])
def test_a_benefit_the_entry_never_names_is_not_answered(index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == "kb019"  # public rental housing, for families in hardship
    assert r.answer is None and r.hits[0].confidence == UNASKED_CAP
    assert confidence(dict(r.features, unasked=0.0, unspoken=0.0)) >= search.DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("text", "near"), [
    # kb44: the caller paid (交了): the heating stop, whose keyword 不交暖气费 denies
    # paying, ranks behind the fee's entry (DENIED_PRIOR); either is only near.
    ("供暖季都开始了，暖气费交了还不供暖，这不是白交吗？", "kb035"),
    ("小学入学信息采集的平台打不开，明天就截止了，这不耽误事吗？", "kb032"),
    ("公积金租房提取要等一个月才审核通过，这不拖人吗？", "kb014"),
])
def test_a_question_that_answers_itself_blames(index: Index, text: str, near: str) -> None:
    """这不…吗 asks nothing: the caller judges what was done to them (a ticket), however
    many of the entry's words the story says."""
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near
    assert r.features["blame"] and r.answer is None
    assert worth_confirming(r, 0.3) is None


@pytest.mark.parametrize("text", ["社保卡找不到了怎么补办？身份证倒是还在。",
                                  "户口本丢了怎么补？身份证还在手上。"])
def test_the_asking_clause_names_the_object(index: Index, text: str) -> None:
    """The story names the entry's document, the question another one: the question's is
    the caller's object (knowledge/objects.py), so the ID card entry is not offered."""
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == "kb004"
    assert r.features["other_object"] and r.answer is None
    assert worth_confirming(r, 0.3) is None


@pytest.mark.parametrize("text", ["钱包丢了，身份证和社保卡都在里面，身份证怎么补办？",
                                  "我身份证丢了，户口本还在家里，身份证去哪儿补？"])
def test_a_story_naming_another_object_leaves_the_question_alone(index: Index,
                                                                text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == "kb004"
    assert not r.features["other_object"]
