"""Twenty-second round (kb24): an entry is read out only if it speaks of the act asked.

The caller names the entry's topic and asks of an act its text never speaks of (pay in
instalments, lend it out, postpone): feature ``unspoken`` caps the entry at "did you mean"
(docs/knowledge.md, "Twenty-second round (kb24)"). The sentences are this round's own,
not lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge import search
from knowledge.search import (
    Index,
    acts_said,
    capped,
    confidence,
    held_back,
    worth_confirming,
)
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "near", "act"), [
    ("暖气费能分期交吗", "kb035", "分期"),
    ("失业金能延期领吗", "kb026", "延期"),
    ("公租房能出借给亲戚住吗", "kb019", "借给"),
    # (网上买的鞋商家不给退，我上哪儿说理去 was offered here for 说理; since kb30 说理 is
    # 投诉, which kb013 speaks of: read out, test_search_round30.)
])
def test_an_act_the_entry_never_names_is_offered_not_read_out(
        index: Index, text: str, near: str, act: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near and act in acts_said(text)
    assert r.features["unspoken"] == 1.0 and capped(r.features)
    assert r.answer is None
    # Offered, even where the caller said little of the entry (a short question).
    assert held_back(r)
    offered = worth_confirming(r, 0.3)
    assert offered is not None and offered.id == near
    # Without the rule the entry would have been read out.
    assert confidence({**r.features, "unspoken": 0.0}) >= search.DEFAULT_MIN_CONFIDENCE
    # Whatever threshold a deployment sets.
    assert index.search(text, today=TODAY, min_confidence=0.3).answer is None


@pytest.mark.parametrize(("text", "entry"), [
    # The act on a stem of the entry's own verb: 续签 of 续期, 申办 of 申请, 领取 of 申领.
    ("居住证快到期了怎么续签", "kb002"),
    ("个体户营业执照能网上申办吗", "kb012"),
    ("失业金怎么领取", "kb026"),
    # A verb that names no matter (提前), a story told before the question (刚搬家, 刚满),
    # a verb and its direction (拆下来 of 拆).
    ("身份证快到期了，能提前换吗", "kb003"),
    ("我刚搬家，电费在哪交", "kb040"),
    ("我爸刚满八十，高龄津贴怎么申请", "kb009"),
    ("旧沙发拆下来了怎么扔", "kb045"),
])
def test_a_paraphrase_whose_act_the_entry_covers_is_read_out(
        index: Index, text: str, entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert not r.features["unspoken"]
    assert r.answer is not None and r.answer.id == entry


@pytest.mark.parametrize(("text", "acts"), [
    # The clauses that ask, and a step asked anywhere (想退掉).
    ("我在北京上班了，暖气费能分期交吗", {"分期"}),
    ("我想退掉，怎么弄", {"退掉"}),
    # Modals, adverbs and negated modals glued by the dictionary leave one character.
    ("派出所会不会不受理", {"受理"}),
    ("能不能想开点", set()),
])
def test_the_acts_said_are_those_asked(text: str, acts: set[str]) -> None:
    assert acts_said(text) == acts


# Answerable questions of earlier rounds' tests that the rule now offers instead of reading
# out (its cost: the caller says yes to "您是想问…吗" with one key): 用来 (use for), 邻居
# (the dictionary tags it a verb), 报名 (the entry says 填报, 入学). 采暖费执行的是什么收费
# 标准 is read out again since kb26 (a verb before 的 is no act asked: test_search_round26).
@pytest.mark.parametrize(("text", "entry"), [
    # (公积金账户里剩的钱能用来付房租吗，怎么提取: 用来 names no act since kb30, read out
    # again: test_search_round30.)
    ("养狗登记 我替邻居问一下 咋办", "kb050"),
    ("我们不是北京户口孩子今年该上小学了怎么报名", "kb033"),
])
def test_earlier_answered_questions_the_rule_offers(index: Index, text: str,
                                                    entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None and r.features["unspoken"] == 1.0
    offered = worth_confirming(r, 0.3)
    assert offered is not None and offered.id == entry
