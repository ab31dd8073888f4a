"""Thirty-fourth round (emerg48): battery and chemical hazards now; danger words in play and in the past.

Sentences of our own (bench/data/emerg_own48.tsv, committed before any rule changed), some
punctuated, some as a recogniser writes them: a traction battery smoking, hissing or popping now
(an e-bike's in a corridor or a shed, an electric car's at a charging pile), whoever holds an
extinguisher or cannot reach the owner (119); a bang at a works then coloured smoke, or a tank
or a pipe leaking with an irritant smell and eyes and throats hurting (119); a landlord's group
throwing tenants' things out, pushing them and blocking the door (110). Their calm twins stay
with 12345: children playing firefighters shouting 着火了, an employer who "wants to jump more
than we do" in a wage complaint, wire burnt for its copper as a habit, a fall the family already
took home, a heat well's steam "like a fire", a stack's habit, a drill's coloured smoke, a battery
that swelled and was set aside. docs/classification.md, "Thirty-fourth round (emerg48)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.support.sweep import assert_every
from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from ticketing.classify import classify
from ticketing.intake_model import understand

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own48.tsv"

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped

# Written as a recogniser hears it with the landlord's word lost (房冬): no rule reads the
# landlord, the model hands it to 110. Left, and held to what it is.
LEFT_TO_MODEL = {"房冬带着一帮人 正往外扔我们东西呢 还推我 门让他们堵上了 我孩子还在里头 快来人"}


def _lines() -> list[tuple[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], row["emergency"]) for row in rows]


def test_emerg48_each_line_is_handed_to_its_service_or_stays(shipped) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees. One
    # sweep of the file's lines, each failing line named (tests/support/sweep.py).
    assert_every([line for line in _lines() if line[0] not in LEFT_TO_MODEL],
                 lambda line: _emerg45.assert_handed_or_kept(shipped, *line))


@pytest.mark.parametrize("text", sorted(LEFT_TO_MODEL))
def test_emerg48_a_lost_landlord_word_is_the_models(shipped, text: str) -> None:
    rules, model = shipped
    assert classify(text, rules).emergency == "none"
    assert understand(text, rules, model).emergency == "110"


@pytest.mark.parametrize(("text", "service"), [
    # Other packs, other signs, other places: the rule is the pack and its smoke or its pops.
    ("我们车库里有辆平衡车的电池呲呲往外喷白烟，屋里全是那个味儿。", "119"),
    ("快递站门口那个三轮车的电瓶盒子冒出黑烟来了 快递员都躲远了", "119"),
    ("充电桩上充着的那辆新能源汽车 电池那块鼓起来了 还一直噼啪响 往外冒火星", "119"),
    ("宿舍里有人的充电宝突然冒烟了，烫得没人敢碰，宿管不在。", "119"),
    ("楼道里电动车充着电 现在电池鼓包了 滋滋响 还冒火星子", "119"),
    ("电瓶车在院子里充电 突然砰砰的炸 冒出好大的烟", "119"),
    # A release at a works, told by other colours, other vessels, other harm.
    ("化工园区那边刚才轰的一声 天上全是黄褐色的烟 往我们村飘过来了", "119"),
    ("厂里有根管子裂了 呲呲往外喷气 刺鼻子得很 工友们眼睛都睁不开了", "119"),
    ("旁边那个农药厂的罐子在往外漏 一股臭鸡蛋的味儿 好多人头晕", "119"),
    ("厂区那边刚才闷响了一声 然后飘过来一股绿色的烟 大家都跑了", "119"),
    # Tenants put out by force, told in another order, by other words.
    ("房东带了三个人来 把我们的铺盖往楼下扔 还把我男朋友推倒了", "110"),
    ("二房东带了一伙人 正在撬我们的锁 东西往院子里扔 把我爸推倒了", "110"),
    ("房东领着几个人 不让我们出门 把我们的行李往楼下扔", "110"),
    # Calm: a pack asked about, smoke denied, once given or supposed, a cigarette's smoke, a stack.
    ("我的电动车电池有点鼓包了，还能骑吗，想问问去哪儿换。", "none"),
    ("上周我家电动车电瓶冒过烟 后来换了新的 想问问旧的能不能退", "none"),
    ("电池没冒烟也没响 就是充电的时候有点烫 这样正常吗", "none"),
    ("电车上有人抽烟 车厢里冒烟 司机也不管", "none"),
    ("新能源车不冒烟不烧油 为什么停车费还跟油车一样", "none"),
    ("电视上放了个电动车电池冒烟着火的视频 吓得我不敢在家充电了", "none"),
    # Smoke counted is a recurrence to report (U4), no fire now; one now told beside it fires.
    ("楼道里那个电动车电池冒了好几回烟了 物业不管", "none"),
    ("楼下电瓶车电池又冒烟了 这回冒得特别大", "119"),
    # Calm: a works' habit, a drill, a sewer, a rumour, a past leak.
    ("那个厂子每天下午烟囱冒黄烟 呛得人嗓子疼 好几年了没人管", "none"),
    ("园区搞演练 砰的一声之后冒了红色的烟 说是模拟的 提前也没通知", "none"),
    ("楼下水管子漏了 一股臭味 熏得人头晕 物业也不来修", "none"),
    ("工厂排污管往河里漏 一股臭鸡蛋味 熏得人头晕 好几年了", "none"),
    ("暖气管道漏了 冒白汽 一股铁锈味 呛得慌 物业不管", "none"),
    ("我们厂宿舍的水管子漏了 冒了一屋子水汽 呛得慌 后勤也不管", "none"),
    ("我们这儿的化工厂去年有个罐子漏了 一股刺鼻的味 现在还能住人吗", "none"),
    ("厂里同事结婚 放了彩色的烟 砰的一声 吓我一跳", "none"),
    # Calm: a landlord's threat, a past eviction, a renovation's furniture at the door.
    ("房东说不交钱就把我们东西扔出去 现在还没来 想问问他能这么干吗", "none"),
    ("前两天中介带人把我东西扔出去了 还推了我一把 现在我住朋友家 押金怎么要回来", "none"),
    ("房东带工人来装修 旧家具往外扔 把门口都堵了 我们进出不方便", "none"),
    ("我们公寓管家带着保洁阿姨把楼道里的杂物往外扔 说是消防检查", "none"),
    # Calm: a figure of speech, a game, a likeness, copper burnt.
    ("老板说他穷得都想跳楼了 我们的工钱一分没给 平谷区", "none"),
    ("老板天天说他想跳楼 但是工资一直拖着 我们咋办", "none"),
    ("小朋友们玩救火游戏 一个喊着火了 一个拿水管子喷 挺好玩的 就是水流了一地", "none"),
    ("孩子们在小区里玩救火游戏 喊着火了 一个劲跑", "none"),
    ("夏天太热了 太阳晒得跟着火了似的 想问问高温补贴怎么发", "none"),
    ("收废品的老头在院里烧电线取铜 冒烟 熏得人受不了 想举报", "none"),
    ("烧电线取铜的那伙人今天又来了 还冒黑烟 想举报", "none"),
])
def test_emerg48_the_rules_hold_for_other_wordings(shipped, text: str, service: str) -> None:
    rules, _ = shipped
    assert classify(text, rules).emergency == service


@pytest.mark.parametrize("text", [
    # A danger told beside the guards' words keeps its hand-over: the game's frame ends where
    # something real is told, the figure of speech gives way to a place of a jump, the copper
    # burner's smoke to a fire that spread.
    "孩子们在楼下玩消防员游戏 结果旁边车棚真着火了 冒黑烟",
    "老板欠了半年工资 说他比我们还想跳楼 现在我工友站在楼顶上要往下跳",
    "有人烧电线取铜 把旁边的草垛点着了 火越烧越大",
])
def test_emerg48_guards_let_a_real_danger_through(shipped, text: str) -> None:
    rules, _ = shipped
    assert classify(text, rules).emergency != "none"


def test_emerg48_the_file_holds_both_sides() -> None:
    lines = _lines()
    assert sum(service != "none" for _, service in lines) >= 60
    assert sum(service == "none" for _, service in lines) >= 60
