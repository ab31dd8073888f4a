"""Twenty-ninth round (cls32): five kinds of calm call the rules handed over, read as usages.

Sentences of our own (about a third as a recogniser writes them: no punctuation, spaces, a
homophone), in the kinds the dev files' false hand-overs shared: a thing's leg, foot or
handle broken (not a person's), a flame that will not light (打不着火, a recogniser's 打部/打步),
insurance against fire, a person with dementia lost once and found (走丢过), and a past danger
whose aftermath is a thing still in use or a quarrel still going (还在用, 还在闹). Beside each,
a danger now sharing its words keeps its service. The rules alone (``classify``).
docs/classification.md, "Twenty-ninth round (cls32)".
"""

from __future__ import annotations

from tests.support.sweep import assert_every
from tests.ticketing.test_classify_urgent import assert_service

CALM: list[str] = [
    # A thing's leg, foot or handle.
    "我家餐桌腿摔断了，刚买三个月，商家说不保修",
    "搬家公司把我的椅子腿撞断了，不给赔",
    "眼镜腿摔断了，眼镜店说得换整个框",
    "床腿让孩子蹦断了 床板都塌了 家具城不管",
    "楼道的扶手让电动车撞断了，物业一直不修",
    "单元门把手让人砸断了，出入都得拿脚踢门",
    "凳 子 腿 摔 断 了 想 问 问 这 种 质 量 问 题 找 谁",
    # A flame that will not light: a supply or an appliance.
    "燃气灶打不着火，卡里明明还有钱",
    "热水器点不着火了，是不是燃气表没电池了",
    "煤 气 灶 打 部 着 火 了 表 上 显 示 余 额 还 有",
    "天然气灶打步着火 一拧就哒哒响 物业说不归他们管",
    # Insurance against fire.
    "小区的火灾保险是谁给上的，物业费里有没有这一项",
    "租房合同里写着让我买火灾险，这合理吗",
    # A person with dementia lost once, found since.
    "我姥爷有点痴呆，去年走丢过一次，想问问社区有没有定位手环",
    "我妈脑子不太清楚 以前走失过两回 能不能给办个防走失的卡",
    # A past danger whose aftermath goes on.
    "前天我们单元电梯把人困了二十分钟，后来放出来了，现在还在用，也没人来检修",
    "上周楼下两口子打架，警察来过了，现在还在吵，天天吵得我们睡不着",
]

LOUD: list[tuple[str, str]] = [
    ("我爸从梯子上摔下来了，腿摔断了，躺地上起不来", "120"),
    ("我儿子骑车撞断了胳膊，骨头都露出来了", "120"),
    ("他把腿摔断了，疼得直叫", "120"),
    ("我妈下楼梯没扶住扶手，腿摔断了", "120"),
    ("打不着火，一打火就冒黑烟，厨房着起来了", "119"),
    ("买了火灾险也没用，楼下现在着火了，烟都上来了", "119"),
    ("我爸有老年痴呆，早上出门走丢了，到现在还没找着", "110"),
    ("我 妈 老 年 痴 呆 走 失 了 三 个 钟 头 了", "110"),
    # "走丢，过了…" as a recogniser writes it (review80: 走丢过 read as a past silenced them).
    ("我家孩子在公园走丢过了半个多小时了到处找不着", "110"),
    ("孩子在超市走丢过了二十分钟了广播也找了没找着", "110"),
    ("电梯卡住了，我妈还在里面", "119"),
    ("上礼拜他就打过我，今天又拿着刀堵在我家门口", "110"),
]


def test_cls32_a_thing_a_policy_or_a_past_is_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


def test_cls32_a_danger_now_with_the_same_words_keeps_its_service() -> None:
    assert_every(LOUD, assert_service)  # each failing line named
