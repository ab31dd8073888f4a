"""The thirteenth round: a caller who names an entry's topic and asks about another thing
of it (the heating fee's invoice against how to pay the fee). The thing asked about -- the
noun before the question word -- is one the entry never speaks of, so the entry is never
read out directly: its confidence is capped under the threshold (``UNASKED_CAP``), where
the IVR may still offer it for confirmation. Probes written for this (none from shared/ or
bench/data)."""

from __future__ import annotations

import pytest

import knowledge.search as search
from knowledge.search import UNASKED_CAP, Index, asked_objects, confidence
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "asked"), [
    ("采暖费交完了，发票怎么开？", {"发票"}),
    ("公积金的缴存比例是多少", {"比例"}),
    ("物业收这么多停车费，这合理吗？", {"合理"}),
    # What is asked of any procedure is no object (要带什么材料, 要多长时间).
    ("居住证签注要带什么材料？", set()),
    ("补办要多长时间？", set()),
    # A clause that asks nothing names no asked object; nor does a verb.
    ("我家暖气费发票丢了。", set()),
    ("身份证丢了怎么补办？", set()),
])
def test_asked_objects(text: str, asked: set[str]) -> None:
    assert asked_objects(text) == asked


@pytest.mark.parametrize(("text", "near"), [
    ("采暖费交完了，发票怎么开？", "kb035"),
    ("交了采暖费，发票在哪儿开？", "kb035"),
])
def test_another_thing_of_the_topic_is_not_answered(index: Index, text: str,
                                                    near: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near
    assert r.answer is None
    assert r.hits[0].confidence == UNASKED_CAP
    # Without the rule the entry would have been read out.
    f = dict(r.features, unasked=0.0)
    assert confidence(f) >= search.DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("text", "expect"), [
    ("采暖费能在手机上交吗？", "kb035"),
    ("我换工作了，公积金怎么转到新单位？", "kb017"),
    ("居住证签注要带什么材料？", "kb002"),
])
def test_the_entrys_own_question_is_answered(index: Index, text: str, expect: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == expect
    assert not r.features["unasked"]


def test_the_cap_leaves_a_lower_confidence_alone() -> None:
    f = {"words": 0.4, "sounds": 0.4, "margin": 0.0, "question": 1.0, "complaint": 0.0}
    assert confidence({**f, "unasked": 1.0}) == confidence(f) < UNASKED_CAP
