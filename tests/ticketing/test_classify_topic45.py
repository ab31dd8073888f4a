"""Thirty-fifth round (topic45): a matter the caller sets aside, or the main one named.

"我们小区充电桩……算了那个先不说，主要是今天整栋楼停电了" is a power call, "结婚登记要预约吗？还有楼下
早点铺占道，算了这个回头再说，先说登记的事儿" a question about the registration: `[negation]
set_aside` drops the part set aside for the category (`without_retracted`, the reader of a
self-correction, for the rules' category and the model's), and nothing else. Sentences of our
own (bench/data/topic_own45.tsv, committed before any rule changed), clean and as a
recogniser writes them. docs/classification.md, "Thirty-fifth round (topic45)".
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from ticketing.classify import load_rules, rule_patterns, without_retracted
from ticketing.degrade import degrade
from ticketing.intake_model import understand
from ticketing.pattern_growth import growth_fault

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "topic_own45.tsv"

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def _labels() -> dict[str, tuple[str, str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {row["text"]: (row["category"], row["urgency"], row["emergency"]) for row in rows}


# (call, a word of the matter set aside, a word of the one the call is about)
DISMISSED = [
    ("我们小区充电桩老是坏……算了那个先不说，主要是今天整栋楼停电了，冰箱里的东西都要化了。",
     "充电桩", "停电"),
    ("我先问个事儿，结婚登记要预约吗？还有楼下早点铺占道，算了这个回头再说，先说登记的事儿。",
     "早点铺", "结婚登记"),
    ("楼下烧烤店晚上太吵了，这个回头再说，今天我家的暖气一点都不热，屋里才十三度。", "烧烤", "暖气"),
    ("物业乱收停车费的事另说，我家水龙头从昨天开始就没水了，做饭都没法做。", "停车费", "没水"),
    ("孩子学校的午饭太贵，算了这个先不提了，我们这条街的路灯坏了一个多月了。", "午饭", "路灯"),
    ("邻居家的狗天天叫，那个不重要，主要是我们这栋楼的燃气停了两天了。", "狗", "燃气"),
    ("那个快递柜收费的事儿咱先放一放，我们这片儿的公交车改线了。", "快递柜", "公交"),
    ("孩子发高烧，挂号的事先不说了，就问一下附近哪个医院晚上有儿科急诊。", "挂号", "儿科"),
    ("先不说停车费的事，我们楼今天一早就停电了，到现在还没来。", "停车费", "停电"),
]
SIGNPOSTED = [
    ("我们这儿问题挺多的，停车也乱，垃圾也多，别的不说了，就说这个暖气，屋里才十四五度。",
     "垃圾", "暖气"),
    ("之前也打过电话说过物业的事，我今天打电话是因为楼下小饭馆的油烟往我们家窗户里灌。", "物业", "油烟"),
    ("孩子放学回家说学校门口人多车多，我主要想反映的是我们这儿的公交末班车太早了。", "学校", "末班车"),
    ("我家住的是老房子，墙皮掉得厉害，我重点说一下小区外面马路上的下水井，天天往外冒污水。",
     "墙皮", "下水井"),
    ("社区组织的活动挺好的，表扬一下，我今天就说一件事，我们小区外面那个公厕一直锁着门。", "表扬", "公厕"),
    ("停车难是老问题了，我打这个电话主要是想问一下外地老人能不能办老年卡。", "停车", "老年卡"),
]
# As a recogniser writes them: no marks, a space between words, 不 说 了 apart.
HEARD = [
    ("嗯 我们 小区 那个 健身器材 坏了 算了 那个 先 不 说 主要 是 我们 楼 今天 一直 停水", "健身器材", "停水"),
    ("我 想 问 一下 办 居住证 的 事 哎 这个 回头 再说 先 说 我们 单位 不给 交 社保 的 事", "居住证", "社保"),
    ("楼上 装修 吵 这个 另说 我 今天 打电话 是 因为 家里 燃气 三天 都 没气 了", "装修", "燃气"),
    ("小区 垃圾 没人 清 楼道 灯 也 不亮 别的 不 说 了 就 说 这个 供暖 屋里 才 十二 度", "垃圾", "供暖"),
    ("我 之前 反映 过 噪音 的 问题 我 今天 打电话 是 因为 我们 家 暖气 不热 屋里 就 十五 度", "噪音", "暖气"),
    ("我们 楼下 路灯 也 坏 了 不过 我 主要 想 反映 的 是 快递 驿站 乱 收费", "路灯", "快递"),
]


@pytest.mark.parametrize(("text", "aside", "main"), DISMISSED + SIGNPOSTED + HEARD)
def test_topic45_the_category_reads_the_call_without_the_matter_set_aside(
        rules, text: str, aside: str, main: str) -> None:
    said = without_retracted(text, rules)
    assert said is not None and aside not in said and main in said, said


# Calm calls whose words only look like a matter set aside: the category reads all of them.
KEPT = [
    "楼道里的灯坏了好几天了，主要是老人腿脚不好，晚上下楼看不见。",  # 主要是: a reason
    "楼道灯不亮我本来想报修的，算了算了我自己修好了，就是想说物业太不负责了。",  # resolved
    "我家厨房有股煤气味，总阀我已经关了，别的先不说，你们赶紧派人来看看吧。",  # no matter of their own
    "我不说了，你们赶紧来人吧，我家老人在卫生间摔倒了，头上都是血。",  # no topic named
    "我主要是想让物业把小区里的落叶扫一扫，其他也没什么。",
    "他今天就说明天来修，结果又没来，我家暖气还是不热，屋里十五度。",  # someone else's words
    "我们楼的下水道堵了一个礼拜了，重点是物业一直推来推去不管。",
    "暖气不热已经一个礼拜了，屋里才十四度，我打电话就是为了这个事，你们能不能催一下。",  # points back
    "这事说来话长，算了不说了，反正就是楼上天天半夜剁东西，吵得睡不着。",
    "钱不钱的不重要，我就想让老板把医药费给报了，我在工地干活摔断了腿。",
    "那个煤气味儿先不说，不对，不能不说，我家厨房煤气味特别大，头都晕了。",
    "算了算了，我自己去物业问吧，本来想问问车位怎么租的。",
    "小区门口卖菜的占道这个回头再说吧，谢谢你们。",  # nothing follows but thanks
    "我主要是担心孩子的安全，学校门口那段路没有红绿灯，车开得飞快。",
    "别的都好说，就是这个物业费涨得太离谱了，一下涨了一倍。",
    "另说一句，你们热线的服务态度挺好的，谢谢。",
    "我打电话是想问社保卡怎么补办，外地的能不能在北京补。",  # a signpost opens the call
]


@pytest.mark.parametrize("text", KEPT)
def test_topic45_calm_words_that_set_nothing_aside_leave_the_call_whole(
        rules, text: str) -> None:
    assert without_retracted(text, rules) is None


# Danger in the part set aside is still read by the floor and the hand-over: only the
# category reads the call without it.
@pytest.mark.parametrize(("text", "urgency", "emergency"), [
    ("那个楼道里煤气味儿的事先不说了，主要是我家暖气不热，屋里才十四度。", "urgent", "none"),
    ("那个楼道里煤气味儿的事先不说了 主要 是 我家 暖气 不热", "urgent", "none"),
    ("先不说钱的事，人得先救，我爸在工地上从架子上摔下来了，现在躺着不动。", "urgent", "120"),
    ("那个电动车着火的事我先不提了，现在楼道里又冒烟了，呛得人出不来。", "urgent", "119"),
    ("煤气味的事回头再说，现在楼下有人拿刀追着砍人，就在我们单元门口。", "urgent", "110"),
])
def test_topic45_a_danger_set_aside_is_still_read_by_the_floor_and_the_handover(
        shipped, text: str, urgency: str, emergency: str) -> None:
    rules, model = shipped
    assert without_retracted(text, rules) is not None
    got = understand(text, rules, model)
    assert (got.urgency, got.emergency) == (urgency, emergency)


# Own lines the shipped system filed under the matter set aside before this round (seen).
FILED_RIGHT = [
    "我先问个事儿，结婚登记要预约吗？还有楼下早点铺占道，算了这个回头再说，先说登记的事儿。",
    "我是咱们小区的业主，之前也打过电话说过物业的事，我今天打电话是因为楼下小饭馆的油烟直接往我们家窗户里灌。",
    "前两天我在网上买了个东西一直没退款，但今天主要想反映的是我们单元的门禁坏了，谁都能进来。",
    "我们 楼下 路灯 也 坏 了 不过 我 主要 想 反映 的 是 快递 驿站 乱 收费 取 个 件 还要 一块钱",
    "先不说钱的事，人得先救，我爸在工地上从架子上摔下来了，现在躺着不动。",
]


# The same, as ticketing.degrade writes them (seed 0), where the words survive the recogniser.
HEARD_RIGHT = [
    "我先问个事儿，结婚登记要预约吗？还有楼下早点铺占道，算了这个回头再说，先说登记的事儿。",
    "我是咱们小区的业主，之前也打过电话说过物业的事，我今天打电话是因为楼下小饭馆的油烟直接往我们家窗户里灌。",
    "我先说一下我们家的情况，两个老人都八十多了，我打电话是因为我们这儿到社区医院的公交线被取消了，看病特别不方便。",
]


@pytest.mark.parametrize(("text", "heard"), [*((text, False) for text in FILED_RIGHT),
                                           *((text, True) for text in HEARD_RIGHT)])
def test_topic45_the_system_files_the_call_under_the_matter_it_is_about(
        shipped, text: str, heard: bool) -> None:
    rules, model = shipped
    category, urgency, emergency = _labels()[text]
    got = understand(degrade(text, seed=0) if heard else text, rules, model)
    assert (got.category, got.urgency, got.emergency) == (category, urgency, emergency)


def test_topic45_the_pattern_is_checked_for_growth_and_bounded(rules) -> None:
    found = dict(rule_patterns(rules))
    assert growth_fault(found["set_aside"]) is None
    # A long run of what the pattern reads costs little (redos39's worst texts): each is read
    # in well under a second, where an unbounded look back would take minutes.
    for run in ("这个" * 2000, "算了" * 2000, "，" * 4000, "我 " * 2000, "这个不重要" * 800):
        started = time.process_time()
        without_retracted(run, rules)
        assert time.process_time() - started < 1.0
