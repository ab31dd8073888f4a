"""Thirty-second round (emerg37): past or minor events handed over, threats still missed.

Sentences of our own (bench/data/emerg_own37.tsv, written before the rules were read, and
more written after the first measurement to try each family and each guard; a third as a
recogniser writes them). The false hand-overs: a bus that braked last week and an elder
who fell, told to complain of the driver; a gas smell with the gas company on the spot; a
stage's smoke told "跟彩排一样台上…" (一样台 read as 阳台). The misses: a diver gone under
好一阵子 with no 露脸; a person on fire; people on ice that cracks round them; a vehicle
smoking after a small crash where nobody was hurt. docs/classification.md, "Thirty-second
round (emerg37)".
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import SILENCED, ClassificationRules, classify, load_rules
from ticketing.intake_model import SHIPPED_DIR, IntakeModel, ModelStore, understand

# The misses of main that a rule now reads (main: no rule's hand-over).
LOUD: list[tuple[str, str]] = [
    # A dive with no coming up, told by a while and by the face (never_miss_rescue).
    ("我们几个在水库游泳，老张一个猛子扎下去好一阵子了还没露脸，水面上一点动静都没有。", "119"),
    ("我们在野塘里游泳，我哥一猛子扎下去，好一阵子了，没露脸。", "119"),
    ("朋友在潭里潜水，下去得有好一阵子了，一直没上来，绳子那头也没动静，在门头沟区。", "119"),
    ("有个人跳进河里捞手机，下去到现在都没上来，得有两三分钟了。", "119"),
    ("野泳的那个小伙子一头扎下去 水面冒了几个泡 就再没露面", "119"),
    ("冬泳的老刘下水以后一直没漏脸 冰窟窿里就剩几个气泡了", "119"),
    ("我爸下河摸鱼，钻到水下好一阵子没上来了。", "119"),
    ("有个小伙子从桥上跳水，跳下去以后就没露头，到现在都一两分钟了。", "119"),
    ("有个孩子在泳池里扎下去好一会儿没浮上来 我看他一动不动趴在池底", "119"),
    # A person on fire (emergency.fire): 119 before 120.
    ("烧烤摊老板倒酒精的时候火窜到身上了 衣服还在烧 人在地上打滚", "119"),
    ("一个男的身上全是火 从楼里冲出来了", "119"),
    # People on ice that cracks or breaks round them (never_miss_rescue).
    ("湖中间的冰面咔嚓咔嚓裂开好几道口子，三个学生困在那块冰上不敢动，离岸挺远。", "119"),
    ("河上的冰已经裂了缝，有个老头在上面钓鱼，那条缝把他围在中间了，他回不来了。", "119"),
    ("冰面开始往下塌了，两个孩子还在湖心，脚底下全是裂纹，我们不敢上去救。", "119"),
    ("什刹海冰面上有个大爷 冰在他周围裂开了 他趴在冰上一动不敢动 冰缝越来越大", "119"),
    ("后海冰面咔嚓一声裂了一大块 冰上还站着两个人 那块冰往湖中间漂", "119"),
    ("冰面上站着一个老人，周围的冰都碎了，他在一块浮冰上。", "119"),
    # A small crash, nobody hurt, and now a vehicle smoking (emergency.smoke): the unhurt
    # mark stops only the model.
    ("追尾了没人受伤，可前车冒起黑烟了，车里还有个孩子。", "119"),
    ("刚刮了旁边的车 没人受伤 可我车底下一直在滴油 发动机那儿冒烟了 还有股焦味", "119"),
]

# What the guards must not silence, each told as its calm twin is: a past fall told to
# complain, and the one who fell still down or ill now; a small crash and now a fire, a
# leak or someone shut in; a gas company on the spot and the smell growing; a likeness
# before a stage and a real balcony (这样台, as a recogniser writes 这阳台).
GUARDED: list[tuple[str, str]] = [
    ("上周公交急刹车我妈摔倒了，头磕破了，现在躺在地上起不来，我要投诉司机", "120"),
    ("上礼拜公交急刹把我爸摔了 他躺床上叫不醒了 我要投诉", "120"),
    ("上礼拜公交车急刹车我妈摔了，到现在还躺在床上起不来，叫也不怎么答应，我要投诉。", "120"),
    ("昨天公交急刹车把老太太摔了 到现在还在地上躺着起不来 公交公司也不给个说法", "120"),
    ("前天公交急刹我爸摔了头 刚才突然吐了 人有点迷糊 我要投诉司机", "120"),
    ("刚才公交急刹车 一个老大爷摔倒了 满脸是血 我要投诉这个司机", "120"),
    ("公交车急刹车，我妈摔倒了，头磕破了流了好多血，我要投诉这个司机", "120"),
    ("两辆车在路口刮了一下，本来没什么事，可现在一辆车的车头开始冒烟了，还有火苗。", "119"),
    ("两车蹭了一下，本来没人受伤，结果一辆车着火了，里面司机还没出来。", "119"),
    ("两个车剐了一下 司机下来吵着吵着动手了 一个拿扳手砸人头上了 在流血", "110"),
    ("刚才俩车蹭了一下，谁也没受伤，可是那辆拉液化气罐的三轮翻了，有个罐子在呲呲漏气。", "119"),
    ("轻轻追尾了一下 可前车的车门卡死了 里面有个孩子打不开门出不来 车里还冒烟", "119"),
    ("燃气公司的人已经来了，可是煤气味越来越大，有个老人晕倒了", "119"),
    ("燃气公司的人在查呢 楼道里煤气味还是很冲 呲呲地响", "119"),
    ("楼上这样台着火了 火苗子往外窜 烟都进我们家了", "119"),
    ("那样台往外冒黑烟", "119"),
    ("楼上阳台说是在排练节目 可现在窗帘都烧起来了 火苗往外窜", "119"),
    ("彩排的时候后台突然冒黑烟 一股焦糊味 演员都往外跑", "119"),
    ("跟彩排一样台上又冒烟了 可这回是真着火了 幕布都烧起来了", "119"),
]

# Calm calls the rules handed over on main, or that a first form of a new pattern read.
CALM: list[str] = [
    # A past fall told to complain of the driver (B8).
    "上周三公交车急刹车，一个老大爷摔倒了，头磕破了流了不少血，司机看都不看一眼，我要投诉这个司机。",
    "上周公交司机急刹车，我旁边一个大爷摔倒了，满脸是血，司机都没下车看看，这种司机必须处理。",
    # 一样台 is a likeness and a stage, not 阳台.
    "跟彩排一样台上又冒烟了",
    "这次演唱会跟上次一样台上喷火喷烟的 坐前排都能闻到味 建议控制一下",
    # Came up at last; a child gone downstairs to play.
    "我老公每天在潭里练潜水，一下去好一阵子才露脸，他说能憋两分多钟，我想问问这里让不让潜水。",
    "我们几个在游泳馆比谁憋气长 他扎下去好一阵子才上来 把救生员都吓了一跳 救生员挺负责的 表扬一下",
    # Ice that melts or cracks while people skate or fish: a hazard (urgent), nobody on it
    # cut off.
    "湖上的冰都开始化了，边上还有裂缝，我看有几个人还在冰上钓鱼，建议公园赶紧立个牌子拦一下。",
    "西城区什刹海那边冬天冰场开放，冰面上有的地方已经裂了，还有人在上面滑，管理员不知道去哪儿了。",
    # A likeness, a fever: no person on fire.
    "我急得浑身像着了火似的，这个证到底怎么办",
    # A small crash with no smoke.
    "撞了一下车没冒烟，人也没事，就是保险杠掉了",
]


@pytest.mark.parametrize(("text", "service"), [*LOUD, *((calm, "none") for calm in CALM)])
def test_emerg37_the_rules_hand_over_a_threat_and_no_past_or_everyday_call(
        text: str, service: str) -> None:
    got = classify(text)
    assert got.emergency == service, _cues(text)
    assert service == "none" or got.urgency == "urgent"


def test_emerg37_a_past_fall_told_to_complain_is_not_urgent_either() -> None:
    # B8: a danger that is over is general; the guard quiets the floor's cues too.
    text = CALM[0]
    got = classify(text)
    assert got.urgency == "general", _cues(text)
    assert any(m.startswith(f"{SILENCED}:") for m in got.matched)


@cache
def _shipped() -> tuple[ClassificationRules, IntakeModel | None]:
    """The shipped rules and model, loaded once for the module."""
    return load_rules(), ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()


@pytest.mark.parametrize(("text", "service"), GUARDED)
def test_emerg37_the_guards_leave_a_danger_now_handed_over(text: str, service: str) -> None:
    assert understand(text, *_shipped()).emergency == service, _cues(text)


@pytest.mark.parametrize("calm", [
    # Each the shipped system's hand-over on main (the model's, or a rule's).
    "上周三公交车急刹车，一个老大爷摔倒了，头磕破了流了不少血，司机看都不看一眼，我要投诉这个司机。",
    "上次公交急刹车把我摔了 腿上划了个大口子流血了 到现在公交公司也没给说法",
    "我闻着楼道里有股煤气味，燃气公司的人已经来了，正在查呢。",
    "跟彩排一样台上又冒烟了",
])
def test_emerg37_the_system_hands_no_past_or_everyday_call_over(calm: str) -> None:
    assert understand(calm, *_shipped()).emergency == "none", _cues(calm)


@pytest.mark.parametrize("calm", [
    # A gas smell handled by the gas company is still urgent (B3): the mark stops the
    # hand-over, not the floor.
    "我闻着楼道里有股煤气味，燃气公司的人已经来了，正在查呢。",
    # A tree about to fall over a road after a storm is U4 (urgent), no one hurt or
    # trapped yet (E4): no hand-over.
    "昨晚风太大，小区门口一棵树被刮得斜在马路上方，随时可能倒下来，车都不敢从底下过。",
    "暴雨以后路边一棵大树歪了，马上就要倒了，底下有好几个人在避雨。",
])
def test_emerg37_a_hazard_with_nobody_down_stays_urgent_without_a_hand_over(
        calm: str) -> None:
    got = understand(calm, *_shipped())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(calm)
