"""review105 of emerg45: do its 110 rules hold for the next caller's wording?

Sentences of our own, written before any rule was read against them, most as a recogniser
writes them (no punctuation, numbers as words), each family told by other verbs, objects,
word order and tellers than emerg45's own. The rules alone must name the service: a hand-over
the model alone makes is asked before it is put through (docs/ivr.md). docs/classification.md,
"review105".
"""

from __future__ import annotations

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify, load_rules


@pytest.fixture(scope="module")
def rules():
    return load_rules()


# Money already sent to someone telling of a relative in trouble, the caller or a parent
# still being asked for more or still on the line. emerg45's fraud_ongoing read only 刚 before
# the transfer, only 让我/催我 after it, and only an official's or a platform's marks in the
# call: the "your son is hurt" script named none of them (1 of these 8 caught before).
FRAUD_NOW = [
    "刚才有人打电话说我儿子出车祸了在医院抢救 要我赶紧转钱 我已经转了一万 他现在还在电话里催我再转",
    "我妈接了个电话说我弟被人打伤了要交医药费 她已经汇了五千过去了 那边还让她继续打钱",
    "一个自称公安的人说我涉嫌洗钱 让我把钱转到一个账户 我已经转了八万 他说还要转",
    "我爸刚把两万块打给一个说是他儿子朋友的人 说儿子受伤了 现在那人还在微信上要钱",
    "冒充我儿子的人在电话里哭着说撞了人要私了 我已经转过去一万五了 他还要 我觉得不对劲",
    "对方说是医院的 说我女儿受伤住院 要先交押金 我刚转了六千 他们电话一直没挂",
    "有人说我儿子在外地打架被抓了要交保释金 我刚给他汇过去三万 现在他又打来要钱",
]

FRAUD_CALM = [
    "我接到一个诈骗电话说我儿子受伤了要钱 我没转 想举报这个号码",
    "去年我被骗了两万块 说是儿子出事了 报过案了到现在也没追回来 想问问进展",
    "有人打电话冒充我孙子要钱 被我识破了直接挂了 想问这个号码怎么举报",
    "我妈差点被骗 说我住院要钱 幸亏我及时打电话过去 钱没转出去",
    "房东说是要交押金 我已经转了三千 他又让我交物业费 想问合理不合理",
]


# A reckless or drunk driver still driving, told without a heading (还在开), with the car
# named in between (开着摩托车, 上了车) or with a manner emerg45's list lacked (乱窜). emerg45's
# driving_on asked for 现在…往…开 or for 上车/开车 right before 开走 (4 of 9 caught before).
DRIVING_NOW = [
    "一辆大货车在国道上来回乱窜 好几次差点撞到电动车 现在还在开",
    "饭店门口那个喝醉的男的上了车就开走了 我拦都没拦住",
    "一个酒鬼开着三轮车在菜市场里横冲直撞 撞倒了两个摊子 还在开",
    "有个人喝多了开着摩托车在马路上乱窜 一会儿左一会儿右的 就在我们村口",
    "那个人喝得站都站不稳 开着他那辆面包车走了 往镇上去了",
]

DRIVING_CALM = [
    "去年有个喝醉的开着三轮车在村里乱窜 撞坏了我家院墙 想问赔偿找谁",
    "刚才那辆车来回乱窜 后来被交警拦下了 我就是想表扬一下交警",
    "我们这段路经常有货车乱窜 还在开着远光灯 建议装个摄像头",
    "驾校的车在练车场里歪歪扭扭的开 就是教练车噪音太大",
    "他喝多了 还在饭店里跟人划拳 我想投诉饭店太吵",
]


# A group armed and closing people in, the weapon named as a baton or a bat (甩棍, 电棍, 橡胶
# 棍, 球棒) or told after the closing in ("围了一圈人 都拿着家伙 钢管啊棒子啊"). emerg45's
# armed_fight read its own shorter copy of the weapons, only before 围/堵 (6 of 9 caught).
ARMED_NOW = [
    "一伙人拿着甩棍把我们车间的工人堵在里面 说不签字就别想走 现在就在这儿",
    "厂里保安拿着电棍和橡胶棍把要工资的农民工围起来了 已经有人挨了一下",
    "老板的人抄着球棒把我们十来个工友围了 就在项目部门口 现在还没走",
    "工棚门口被堵住了 外面二十来个人手里全是钢管和棒子 喊着要我们滚",
]

ARMED_CALM = [
    "去年老板拖欠工资还叫人拿棍子吓唬我们 现在想问劳动仲裁怎么申请",
    "我们工地下周要搞防暴演练 保安拿着钢管和盾牌练习 想问要不要报备",
    "昨天看了部电影 一群人拿着钢管把工人围住了 想问这种讨薪的事该找谁",
    "小区门口围了一圈人在看下棋 有个大爷拿着拐棍 挡着路了",
]

THREATS = [*FRAUD_NOW, *DRIVING_NOW, *ARMED_NOW]
CALM = [*FRAUD_CALM, *DRIVING_CALM, *ARMED_CALM]


@pytest.mark.parametrize("text", THREATS)
def test_review105_a_threat_of_ours_is_110_by_the_rules(rules, text: str) -> None:
    assert classify(text, rules).emergency == "110", _cues(text)


@pytest.mark.parametrize("text", CALM)
def test_review105_its_calm_twin_stays_calm(rules, text: str) -> None:
    assert classify(text, rules).emergency == "none", _cues(text)
