"""Thirty-second round (clause42): a call told without punctuation that opens with a past day.

A recogniser writes no punctuation, so a call is one clause, and ``[not_now] over`` (上礼拜,
上次, 去年…) silenced all of it: "上礼拜公交急刹我爸摔了头至今昏迷不醒我要投诉司机" and "…跟上次
一样台上喷火结果把一个伴舞的头发点着了" were none, 120 and 119 with commas (review96).
``[not_now] over_breaks`` ends the stretch a past day frames where a recogniser's call turns to
what happened since (至今, 结果, 这次…) and a danger is told after it; a call holding any clause
break is read by its clauses as before. Sentences of our own: bench/data/emerg_own42.tsv
(written before the rule), and the calm ones below, written after it to try the cut.
docs/classification.md, "Thirty-second round (clause42)".
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import ClassificationRules, classify, load_rules
from ticketing.intake_model import SHIPPED_DIR, IntakeModel, ModelStore, understand

# Told without punctuation: a past day first, a danger now after a turn word. None on main.
LOUD: list[tuple[str, str]] = [
    # review96's two.
    ("上礼拜公交急刹我爸摔了头至今昏迷不醒我要投诉司机", "120"),
    ("这次演唱会跟上次一样台上喷火结果把一个伴舞的头发点着了", "119"),
    # As Vosk spaces its words.
    ("上礼拜 公交 急刹 我爸 摔了 头 至今 昏迷 不醒 我要 投诉 司机", "120"),
    # emerg_own42.
    ("上个星期我们小区门口就撞过一次人结果又有辆货车把一个骑电动车的压在车轮底下了", "119"),
    ("前年我家就着过一回火这次是厨房油锅起火把抽油烟机都烧着了火苗窜到房顶了", "119"),
    # emerg_own42 as ticketing.degrade (seed 0) writes it: 眼下 heard 咽下.
    ("前 几天 窝 爷爷 说 腿 肿 没 在意 结果 咽下 喘不上 气醉唇 发紫", "120"),
]

# The same calls with commas: the rules read them so on main already.
PUNCTUATED: list[tuple[str, str]] = [
    ("上礼拜公交急刹，我爸摔了头，至今昏迷不醒，我要投诉司机。", "120"),
    ("这次演唱会跟上次一样台上喷火，结果把一个伴舞的头发点着了。", "119"),
    ("上个星期我们小区门口就撞过一次人，结果又有辆货车把一个骑电动车的压在车轮底下了。", "119"),
]

# Told without punctuation, the danger over: after the turn word nothing is happening, or
# another past word frames what follows it (后来又漏了一回, 又着过一次). Quiet on main too.
CALM: list[str] = [
    "上礼拜我爸骑车摔了一跤去医院看了没事结果后来又摔了一回现在好了想投诉物业路面不平",
    "去年我们家着过一回火结果后来又着过一次现在都修好了想问问保险",
    "上个月电梯困过人后来维保公司修好了至今没再出过问题就想问问年检",
    "昨天那个工地塌过一回结果砸伤了两个工人都送医院了想问问工地有没有责任",
    "去年我儿子在游泳池溺过一次水至今还怕水想问问游泳馆该不该赔",
    "上个月我们这儿着过火然后物业给换了灭火器想问问灭火器多久换一次",
    # emerg_own42's calm twins.
    "上次燃气公司说管道没问题结果后来又漏了一回换了新管子到现在都正常想问问换管子的钱谁出",
    "前年我家着过一回火是厨房油锅起火后来换了新的抽油烟机至今再没出过事",
    "昨天我就闻到一股焦糊味后来发现是楼下烧烤店的到现在也没人管想投诉一下油烟",
    "上礼拜我家厨房着过火至今还没装修好想问问保险公司不赔怎么办",
    "上次公交急刹我奶奶摔了头结果去医院缝了两针现在拆线了要投诉司机",
    "昨天下午那个工地的基坑塌过一点结果没伤着人今天已经回填了就是想投诉他们夜里施工",
]


@cache
def _rules() -> ClassificationRules:
    return load_rules()


@cache
def _uncut() -> ClassificationRules:
    """The shipped rules without ``over_breaks``: what main read."""
    rules = _rules()
    assert rules.not_now is not None and rules.not_now.over_breaks is not None
    return replace(rules, not_now=replace(rules.not_now, over_breaks=None))


@cache
def _shipped() -> tuple[ClassificationRules, IntakeModel | None]:
    return _rules(), ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()


@pytest.mark.parametrize(("text", "service"), LOUD)
def test_clause42_a_danger_told_after_a_past_day_without_punctuation_is_handed_over(
        text: str, service: str) -> None:
    got = classify(text, _rules())
    assert (got.emergency, got.urgency) == (service, "urgent"), _cues(text)
    # The cut does it: without it the past day silences the whole call.
    assert classify(text, _uncut()).emergency == "none"


@pytest.mark.parametrize(("text", "service"), LOUD[:2])
def test_clause42_the_system_hands_review96s_calls_over(text: str, service: str) -> None:
    assert understand(text, *_shipped()).emergency == service, _cues(text)


@pytest.mark.parametrize(("text", "service"), PUNCTUATED)
def test_clause42_a_call_with_commas_is_read_by_its_clauses_as_before(
        text: str, service: str) -> None:
    assert classify(text, _rules()) == classify(text, _uncut())
    assert classify(text, _rules()).emergency == service


@pytest.mark.parametrize("calm", CALM)
def test_clause42_a_danger_over_stays_quiet_after_the_turn_word(calm: str) -> None:
    got = classify(calm, _rules())
    assert got.emergency == "none", _cues(calm)
    assert got.urgency != "urgent", _cues(calm)
    assert understand(calm, *_shipped()).emergency == "none", _cues(calm)


def test_clause42_one_comma_anywhere_leaves_the_clause_uncut() -> None:
    # A text with a break is a writer's: its clause is its own, whatever words it holds. The
    # unpunctuated call is cut; the same words after one comma are read as main read them.
    text = "我要投诉司机，上礼拜公交急刹我爸摔了头至今昏迷不醒"
    assert classify(text, _rules()) == classify(text, _uncut())
    assert classify(text.split("，")[1], _rules()).emergency == "120"
