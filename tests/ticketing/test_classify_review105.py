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
    # Onlookers round batons on sale, punctuated (told without commas the stall's 卖 quiets
    # it anyway).
    "菜市场口有个地摊，摆着甩棍和电棍，标着价，一群学生围着看。",
    "商场门口有家店橱窗里摆着棒球棍和甩棍，放学的孩子围着瞧。",
    # A prop or a toy named before the weapon: emerg45's everyday word read only a purpose
    # told after it (练武术, 拍戏), and "是在拍戏 演员拿着道具棍子" was 110.
    "工地门口围了一圈人在看热闹 是在拍戏 演员拿着道具棍子",
    "我儿子拎着个玩具刀在楼道里跑 邻居说吓着她家孩子了 这个归谁管",
]

# Someone of the household beaten now, told with a bare 在 or 现在, 把 before the blows or
# the household named loosely (他家里的). emerg45 read 又在/正在/还在/又/正 right before 打/揍/抽
# and a closed list of relatives after it (6 of 11 caught by the rules alone).
HOME_NOW = [
    "对门那家男的喝了酒在揍他家里的 砸东西的声音噼里啪啦的 孩子在门口哭",
    "那个男的现在把他老婆按在地上打 一边打一边骂 女的喊救命",
    "后院那家男的在揍他媳妇 女的哭喊着救命 邻居们都站着没人敢上去",
    "邻居家男的掐着他老婆脖子往死里打 我从窗户看见的 就现在",
]

HOME_CALM = [
    "我在打孩子的疫苗 想问社区医院几点下班",
    "他现在把他老婆的电话打爆了 想问怎么投诉骚扰",
    "上个礼拜邻居男的把他老婆打了 后来派出所调解了 我想问家暴怎么申请保护令",
]

# A stranger leading a child toward a car however the car is named ("往他车那边", "往面包车上",
# "往路边的车上", "往他车里"): emerg45 read only 往车上 right after the child (4 of 8).
CHILD_NOW = [
    "有个男的拿糖哄小孩 拉着我家孩子往他车那边走 我们现在把他拽住了 你们快来",
    "小区门口一个不认识的男的给孩子糖吃 硬把一个小女孩往面包车上拉 被几个家长按住了",
    "一个老太太领着别人家的孩子往路边的车上走 孩子一直哭喊 我们把她拦下来了",
    "一个陌生人拿零食引小孩往他车里钻 被孩子他爸一把揪住了 现在人还在我们手里",
]

CHILD_CALM = [
    "上个月小区有个陌生人给孩子发糖 后来警察查了是搞推销的 想问小区门禁怎么管",
    "学校组织防拐骗演练 有个老师扮成坏人拉小孩上车 想问这种演练家长能不能参加",
    "我哥抱着我儿子上车去公园了 我想问公园几点关门",
]

THREATS = [*FRAUD_NOW, *DRIVING_NOW, *ARMED_NOW, *HOME_NOW, *CHILD_NOW]
CALM = [*FRAUD_CALM, *DRIVING_CALM, *ARMED_CALM, *HOME_CALM, *CHILD_CALM]


@pytest.mark.parametrize("text", THREATS)
def test_review105_a_threat_of_ours_is_110_by_the_rules(rules, text: str) -> None:
    assert classify(text, rules).emergency == "110", _cues(text)


@pytest.mark.parametrize("text", CALM)
def test_review105_its_calm_twin_stays_calm(rules, text: str) -> None:
    assert classify(text, rules).emergency == "none", _cues(text)
