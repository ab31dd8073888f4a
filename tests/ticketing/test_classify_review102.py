"""review102 of clause42: which calls are "told without punctuation".

clause42 cut a past day's quiet stretch at an ``over_breaks`` word only in a text with no
clause break at all. A call typed by an agent in one run with a closing 。, and a recogniser's
call whose number clean-up wrote a decimal ("三十九点五度" → 39.5度: asr.cleanup.normalize,
what the IVR files), held a "break" and were read as main read them: the past day silenced the
coma told after 至今. A closing mark and a decimal point are no clause break.
"""

from __future__ import annotations

import pytest

from asr.cleanup import normalize
from tests.ticketing.test_classify_clause42 import CALM, _rules, _uncut
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

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
