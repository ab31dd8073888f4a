"""review98: emerg38's guards against threats of our own (docs/classification.md, review98).

Sentences written for this review, recogniser style (no punctuation, numbers as words), each
built to slip past one guard emerg38 added or widened: the caller's figure of a blast
(`blast_figure`) beside a real bang told in words `blast_real` did not hold; a fire feared
(`[not_now] feared`) beside one the caller found burning; a strong gas smell moved to
`emergency.gas_escaping`, which `made_safe` quiets, where the smell is a neighbour's, stays,
or makes someone ill, or where an unrelated 气 stood for the gas shut off (暖气停了).
Every one was handed over on main before emerg38 (f87ce966) and lost after it.
"""

from __future__ import annotations

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

LOST: list[tuple[str, str]] = [
    # `blast_figure`: a real bang told in words the figure's guard did not read.
    ("气得我要爆炸了 刚才楼下一声闷响 窗户都震得直晃", "119"),
    ("急得我要爆炸 隔壁厂房刚才炸开了 冒出一股黑烟", "119"),
    ("我真是要爆炸了 对门家的门都被崩飞了 屋里黑乎乎的", "119"),
    ("烦得我头要爆炸 楼下商铺的卷帘门被震飞了 有个人躺地上不动", "119"),
    ("我都快爆炸了 楼上那家刚才一声巨大的响声 窗框都掉下来了", "119"),
    # A blast told plainly beside the figure: the figure's guard read every 爆炸 of the call.
    ("吵得我脑袋要爆炸 楼下饭店刚才爆炸了", "119"),
    ("气得我都要爆炸了 结果对面那个厂真的爆炸了 好多人往这边跑", "119"),
    # A place's 头 or 心, no body part (桥头, 车头, 小心, 购物中心).
    ("我们这个村东边的桥头刚才爆炸了 一片黑烟", "119"),
    ("车头爆炸了 司机还在里面出不来", "119"),
    ("大家小心爆炸 化工厂那边冒黄烟了 味道特别刺眼", "119"),
    ("购物中心刚才爆炸了 好多人在喊", "119"),
    # `feared`: fear told, then the fire found burning a clause on (no comma: a recogniser's).
    ("我好害怕 下班回家以后发现厨房着火了 烟特别大", "119"),
    ("我很害怕 我们楼下这时候已经着火了 烟都上来了", "119"),
    # A strong gas smell that is a neighbour's, stays after the valve, or makes someone ill.
    ("隔壁一股煤气味 很冲 敲门没人应 我们家阀门关了", "119"),
    ("阀门关了 煤气味还很冲 我妈头痛得厉害", "119"),
    ("煤气味很冲 我把灶的阀门关了 可是味儿一点没散 越闻越冲", "119"),
    # A gas's 气得 is no anger ([everyday_words]' 冒火 of a feeling).
    ("燃气管子漏气得厉害 直冒火", "119"),
    # 暖气 is no gas shut off.
    ("煤气味很冲 楼里暖气都停了 我们出不去", "119"),
]


# Beside them the figure and the worry stay quiet: a noise complaint told with the figure, a
# fear of a fire with no fire found (emerg38's own calm lines are in its tests).
CALM: list[tuple[str, str]] = [
    ("楼上装修天天砸墙 吵得我脑袋都要爆炸了 想问问几点以后不让施工", "none"),
    ("电动车电池老化了 我好害怕以后充电的时候着火 哪里能换", "none"),
    # A thing knocked over is no one down (the figure's guard reads a person on the ground).
    ("气得我要爆炸 他把我家门口的垃圾桶都踢倒在地了", "none"),
    ("群里天天吵架 我心态爆炸了 想问问物业群能不能解散", "none"),
]


@pytest.mark.parametrize(("text", "service"), LOST + CALM)
def test_review98_a_guard_silences_its_figure_not_the_threat(text: str, service: str) -> None:
    got = classify(text)
    assert got.emergency == service and (service == "none" or got.urgency == "urgent"), _cues(text)
