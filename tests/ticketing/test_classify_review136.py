"""Review136: can emerg51's and urg48's guards silence a caller in danger?

Sentences of the reviewer's own (bench/data/review136.tsv), clean and as a recogniser writes
them (``ticketing.degrade``, seed 0). Three guards silenced danger told now: a fire only
believed that then showed itself in flames (`[not_now] frame_spans`), smashing that goes on with
a drunk's threat to the family beside a wall (`urgent.person_at_risk`'s `smashed_building`
guard), and a pump smoker who drove off leaving spilled fuel that caught (`[not_now] unhurt`).
docs/classification.md, "Review136".
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify
from ticketing.degrade import degrade
from ticketing.intake_model import understand

shipped = _emerg36.shipped


def _both_styles(text: str) -> tuple[str, str]:
    return text, degrade(text)


@pytest.mark.parametrize("text", [
    # The belief came first; flames are seen now (蹿火, 冒黑烟, 烧着, 火很大).
    "对门以为着火了是看错了 可现在他家窗户里往外蹿火",
    "我以为着火了是闻错了 这会儿门缝里一直往里冒黑烟",
    "我还以为着火了是我眼花 现在对面楼烧着了 火可大了",
])
def test_review136_a_fire_believed_then_seen_is_handed_to_119(text: str) -> None:
    assert classify(text, _emerg36.load_rules()).emergency == "119", _cues(text)


def test_review136_a_fire_believed_then_seen_in_recogniser_style(shipped) -> None:
    rules, model = shipped
    text = degrade("对门以为着火了是看错了，可现在他家窗户里往外蹿火，你们快来。")
    assert understand(text, rules, model).emergency == "119"


@pytest.mark.parametrize("text", [
    # Smashing that goes on beside a wall, with a threat to the family or a drunk at it.
    "我老公喝多了在家还在砸 墙都砸坏了 说要弄死我和孩子",
    "我爸喝醉了一直在砸 把墙砸了个坑 说要打死我妈",
    "前夫还在砸 隔断墙都砸开了 喊着要杀了我",
    # A breaker beside an oxygen machine someone breathes by (the guard added beside it).
    "电闸一推上去就跳 我妈在家吸着制氧机 喘不上来了",
    "家里漏保老跳 老爷子用的呼吸机停了 修电器的师傅说明天才来",
])
def test_review136_danger_beside_the_mended_guards_stays_urgent(text: str) -> None:
    assert classify(text, _emerg36.load_rules()).urgency == "urgent", _cues(text)


def test_review136_smashing_with_a_threat_keeps_the_hand_over_in_recogniser_style(
    shipped,
) -> None:
    rules, model = shipped
    text = degrade("我老公喝多了在家还在砸 墙都砸坏了 说要弄死我和孩子")
    assert understand(text, rules, model).emergency == "110"


@pytest.mark.parametrize("text", [
    # The smoker drove off; the fuel spilled is still there (the risk did not leave with him).
    "加油站有人边加油边抽烟 后来开走了 可地上洒的油着起来了",
    "加油站有个人一边抽烟一边加油 加完开走了 地上洒了一大片油 还有烟头",
])
def test_review136_spilled_fuel_is_not_the_smoker_gone(text: str) -> None:
    for said in _both_styles(text):
        matched = classify(said, _emerg36.load_rules()).matched
        assert not any(m.startswith("not_now.no_victim") for m in matched), matched


@pytest.mark.parametrize("text", [
    # Calm twins the mends must leave calm.
    "半夜一点了隔壁还在叮叮当当砸墙 吵得睡不着",
    "我家烧柴火炉 路过的人还以为我们家着火了 想问烟囱要多高",
    "加油站有个小伙子一边加油一边抽烟 加完就开走了 加油站也不管",
])
def test_review136_calm_twins_stay_calm(shipped, text: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, "none")


@pytest.mark.parametrize("text", [
    # A breaker beside an oxygen machine nobody breathes by.
    "店里鱼缸打氧气的泵一跳闸就停 晚上店里没人 鱼都快死了",
    "我们卖制氧机的门店晚上没人 空开老跳闸 想找个电工",
])
def test_review136_a_breaker_beside_no_life_support_is_not_urgent(text: str) -> None:
    for said in _both_styles(text):
        assert classify(said, _emerg36.load_rules()).urgency != "urgent", _cues(said)

