"""review102 of clause42: which calls are "told without punctuation".

clause42 cut a past day's quiet stretch at an ``over_breaks`` word only in a text with no
clause break at all. A call typed by an agent in one run with a closing 。, and a recogniser's
call whose number clean-up wrote a decimal ("三十九点五度" → 39.5度: asr.cleanup.normalize,
what the IVR files), held a "break" and were read as main read them: the past day silenced the
coma told after 至今. A closing mark and a decimal point are no clause break.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from asr.cleanup import normalize
from tests.ticketing.test_classify_clause42 import CALM, _rules, _uncut
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import ClassificationRules, classify

RUN_ON = "上礼拜公交急刹我爸摔了头至今昏迷不醒我要投诉司机"


@pytest.mark.parametrize("text", [
    RUN_ON + "。",
    RUN_ON + "！",
    RUN_ON + "。。 ",
    # A recogniser's words as the IVR files them: 三十九点五 becomes 39.5.
    normalize("上礼拜 公交 急刹 我爸 摔了 头 至今 昏迷 不醒 体温 三十 九 点 五 度 我要 投诉 司机"),
    "去年我家着过火结果这次厨房油锅起火火苗窜到房顶了烧了1.5米高。",
])
def test_review102_a_closing_mark_or_a_decimal_is_no_clause_break(text: str) -> None:
    got = classify(text, _rules())
    assert got.emergency != "none", (text, _cues(text))
    assert classify(text, _uncut()).emergency == "none"


@pytest.mark.parametrize("calm", CALM)
def test_review102_a_calm_run_on_with_a_closing_mark_stays_quiet(calm: str) -> None:
    got = classify(calm + "。", _rules())
    assert (got.emergency, got.urgency != "urgent") == ("none", True), _cues(calm)


def test_review102_a_mark_inside_the_call_still_leaves_it_uncut() -> None:
    text = "我要投诉司机。上礼拜公交急刹我爸摔了头至今昏迷不醒。"
    assert classify(text, _rules()) == classify(text, _uncut())


# Told without punctuation, a past event and then (然后, 后来) more of the same past, or a
# danger named in another sense: clause42 cut at 然后/后来 and handed each over (none on the
# branch point). 然后 and 后来 go on telling the past; no threat of emerg_own42, rules or
# system, needs them (39 and 44 caught either way).
# The service clause42's cut handed each to.
GOES_ON: list[tuple[str, str]] = [
    ("去年楼道堆满杂物后来物业说再堆就容易着火让我们清理想问杂物谁来清", "119"),
    ("前年我家装修然后电线老化说是可能会短路起火想问旧小区改造有没有补贴", "119"),
    ("去年冬天暖气不热然后有人用电暖器说是容易着火想问今年供暖什么时候开始", "119"),
    ("上次停电然后电梯困人了这次停电想问几点来电", "119"),
    ("上礼拜菜市场有人吵架然后动刀了警察已经抓走了想问市场管理处管不管", "110"),
    ("去年这栋楼电线老化后来着火了烧了两户现在改造完了想问改造费用分摊", "119"),
]


def _clause42() -> ClassificationRules:
    """The shipped rules with clause42's ``over_breaks``, 然后 and 后来 among them."""
    rules = _rules()
    assert rules.not_now is not None
    words = re.compile("至今|到现在|结果|这次|后来|然后")
    return replace(rules, not_now=replace(rules.not_now, over_breaks=words))


@pytest.mark.parametrize(("calm", "was"), GOES_ON)
def test_review102_a_past_told_on_after_then_is_not_handed_over(calm: str, was: str) -> None:
    assert classify(calm, _clause42()).emergency == was
    assert classify(calm, _rules()).emergency == "none", _cues(calm)
    assert classify(calm, _rules()) == classify(calm, _uncut())
