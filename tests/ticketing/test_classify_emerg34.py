"""Twenty-ninth round (emerg34): emergencies told by what happens, and the calm twins.

Sentences of our own (bench/data/emerg_own31.tsv, written before the rules were read, and a
few more written after to try the patterns on wordings the file does not hold; some as a
recogniser writes them). The miss classes: water still rising round people who cannot get
up or out (上不来, 水还在涨), earth caved in on a dig with a person buried (塌方, 埋进去), a body
drawn into a machine told in the passive (手被扶梯夹进去了), a child gone during an errand
(接个电话的工夫). The false classes: a missing child found since or a patient healed since
(还好…找着了, 现在康复了), whose "刚才" no longer undoes the resolution, and a question of
whether the health insurance pays. The rules alone (``classify``).
docs/classification.md, "Twenty-ninth round (emerg34)".
"""

from __future__ import annotations

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from tests.ticketing.test_classify_urgent import assert_service
from ticketing.classify import classify

LOUD: list[tuple[str, str]] = [
    # Water rising round people who cannot leave.
    ("地下室进水了，水已经到腰了，我奶奶腿脚不好上不来台阶，我在丰台区卢沟桥。", "119"),
    ("村里的河水漫过来了，我们一家五口困在房顶上，水还在涨，我在房山区青龙湖。", "119"),
    ("桥洞底下水一直在涨，有辆车熄火了，车里的人推不开门", "119"),
    ("我家在平房 院子里水已经没过膝盖了 我爸瘫在床上 我一个人背不动他上不去房顶", "119"),
    # Earth caved in on a dig.
    ("沟槽塌方了，埋进去一个干活的，就露着脑袋，在顺义区后沙峪。", "119"),
    ("工地基坑塌方了，底下有两个工人埋进去了", "119"),
    # A body drawn into a machine, the passive.
    ("孩子的手被扶梯夹进去了，扶梯还停不下来，商场里没人管。", "119"),
    ("师傅的手让搅拌机卷进去了 机器停了也拽不出来", "119"),
    # A child gone during an errand.
    ("我在商场接个电话的工夫，我闺女就不见了，到处都找不着", "110"),
    ("我上个厕所的功夫孙子就没影了，公园里人这么多", "110"),
    # A child gone now and not found keeps its hand-over beside the found-since twins.
    ("刚才孩子在超市一转眼不见了，找了十几分钟还没找着", "110"),
    # Found, but found in trouble: no resolution.
    ("刚才孩子一转眼不见了，最后找到了他，躺在河边不动了", "110"),
]

CALM: list[str] = [
    # Found since.
    "我孩子刚才在超市一转眼不见了，还好半分钟就找着了，建议超市别把玩具区放在出口边上。",
    "那个 我儿子刚才找不着了 后来在楼下小卖部找着了 没事了 就想说一下小区门口太乱了",
    "我家孩子刚才在小区里一转眼就不见了，好在五分钟后找到了，就想建议小区门口加个岗",
    "有一回我接个电话的工夫孩子就不见了，后来在门口找着了，想问问有没有儿童定位手表",
    # Healed since; the insurance asked.
    "我爸前年嘴歪到一边说话含糊，是脑梗，现在康复得差不多了，想问问慢病的药能不能在社区开。",
    "我闺女上周被开水烫了腿，在医院换了几次药，已经结痂了，想问问烫伤留疤医保能不能报。",
    "我 闺女 上周 被 开水 烫 了 腿 已经 结痂 了 想 问问 烫伤 留疤 医保 能 不能 报",
    "我妈前年中风，半边身子不听使唤，现在康复了，想问问康复训练医保能报吗",
    # The same words, not now.
    "去年我们小区地下室进水，水都到腰了，老人上不来，建议装个排水泵",
    "前几天修路的沟槽塌方了，好在没埋着人，现在还没回填",
    "上回孩子的手被扶梯夹进去过，现在扶梯还在用，建议装个防夹毛刷",
]


def test_emerg34_an_emergency_told_by_what_happens_is_handed_over() -> None:
    assert_every(LOUD, assert_service)  # each failing line named


def test_emerg34_the_same_words_resolved_or_past_are_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


def test_emerg34_a_sign_told_after_the_resolution_still_goes_on() -> None:
    # The resolution ends the story told before it, not a danger told after it: the call
    # stays urgent and handed over (which service is the older count of cues: the lost
    # child's 110 outnumbers the bleeding's 120 once the sign after makes the call go on).
    text = "孩子刚才走丢了，还好十分钟就找着了，可是他摔了一跤，现在头上血止不住"
    got = classify(text)
    assert got.urgency == "urgent" and got.emergency != "none", _cues(text)
