"""Review90 of the thirtieth round (emerg35): the figure of speech must not silence a threat.

`jump_figure` ([lists]) stops the cues of 跳楼 when "我都想跳楼了" is exasperation at a form
or a queue. emerg35 let it stop them for a caller who says the same words and where they are
(在二十楼, 窗户边, 河边), when (马上就跳), a farewell (别劝我) or a life not worth it (活着没
意思), and for another's words told (我妈说她都想跳楼了): all of them 110 before emerg35.
Sentences of our own, some as a recogniser writes them (no punctuation, spaced).
docs/classification.md, "Thirtieth round (emerg35)", review90.
"""

from __future__ import annotations

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

THREATS = [
    "我现在在二十楼，我都想跳楼了",
    "我都想跳楼了，活着没意思，你们别劝我",
    "我都想跳楼了，真的，我现在就在窗户边",
    "我都想跳楼了，马上就跳",
    "我 都 想 跳楼 了 现在 就 跳",
    "我真是想跳河了，现在就在河边",
    "我妈说她都想跳楼了",
    "我 妈 说 她 都 想 跳楼 了",
    "我都想跳楼了 我现在就在楼上 你们别管我了",
]

FIGURES = [
    "楼上天天漏水，物业也不管，我都想跳楼了",
    "排队排了三个小时还没办上，我们都想跳楼了",
    "这个APP注册了一上午都不行 我都想跳楼了 你们管不管",
]


@pytest.mark.parametrize("text", THREATS)
def test_review90_a_threat_in_the_figures_words_is_handed_to_110(text: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent" and got.emergency == "110", _cues(text)


@pytest.mark.parametrize("text", FIGURES)
def test_review90_the_figure_alone_stays_a_general_matter(text: str) -> None:
    got = classify(text)
    assert got.urgency == "general" and got.emergency == "none", _cues(text)
