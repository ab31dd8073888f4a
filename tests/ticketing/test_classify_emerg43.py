"""Thirty-second round (emerg43): a present told by a state, doors nobody opens, shafts.

Sentences of our own (bench/data/emerg_own43.tsv, written before the rules were changed), some
punctuated, some as a recogniser writes them. The misses: `<now>`'s `now_not` took 现在不…,
刚才都… and 这会儿没… for an over or a not ("现在不省人事", "刚才都喘不上气了", "这会儿没反应
了"), so a past event with the one hurt unresponsive now was silenced; a gas smell beside a door
nobody opens told in other words than 没人应 ("喊了好几声也不吭声", "门一直关着里面一点声音都没
有"); someone gone down a well, a cellar or a tank (下井, 下窖, 下池子) and 再也没上来; a shaft
named first and a child gone down it. docs/classification.md, "Thirty-second round (emerg43)".
"""

from __future__ import annotations

import pytest

from tests.support.sweep import assert_every
from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from tests.ticketing.test_classify_urgent import assert_service
from ticketing.classify import classify
from ticketing.intake_model import understand

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped

LOUD: list[tuple[str, str]] = [
    # A present told by a state after 不, 没 or 都 (`now_state`), a past before it.
    ("老太太上午从板凳上跌下来 当时还能说话 现在不省人事了", "120"),
    ("昨天下午孩子从滑梯上摔下来磕了脑袋，打那以后就吐了三回，这会儿怎么叫都没反应了。", "120"),
    ("我奶奶前天摔了一下 当时没在意 这会儿没反应了 眼睛也睁不开", "120"),
    ("我爸昨天被电动车撞倒磕了头，今天早上开始吐，现在没知觉了。", "120"),
    ("昨天晚上我爸在浴室滑倒了头磕在浴缸上后来吐了好几次这会儿没反应了", "120"),
    ("上礼拜我妈在菜市场滑了一跤头撞到台阶上 回来以后一直吐 现在没意识了 我要投诉市场", "120"),
    ("我爸前天夜里上厕所摔了一跤，磕着后脑勺了，从那以后就老想吐，这会儿叫他没反应了。", "120"),
    ("我爷爷下午还在下棋 这会儿不认人了 叫他也不答应", "120"),
    # A gas smell and a door nobody opens (`door_unanswered`).
    ("走廊里闻到煤气味 味道是从斜对门出来的 那家门紧闭着 喊了好几声也不吭声", "119"),
    ("对门独居的大妈家里有股液化气味，门从里面锁着，叫她也不出声。", "119"),
    ("隔壁一股天然气味，门一直关着，里面一点声音都没有。", "119"),
    ("我们单元三楼那户门缝里往外冒燃气味，敲门屋里一点动静都没有。", "119"),
    ("楼上那家一直有煤气味往下飘 门关得死死的 按门铃也没人开 老太太平时一个人在家", "119"),
    # Gone down a shaft and not come up.
    ("村里有个工人下井修水泵，下井以后就再也没上来，上面的人喊他也不应。", "119"),
    ("我们家大叔下菜窖拿白菜 下去半个钟头了再也没上来", "119"),
    ("养殖场的工人下池子清淤 下池子以后就没动静了", "119"),
    ("我老公下红薯窖取红薯，下窖以后再也没上来，叫也叫不应。", "119"),
    ("两个工人下污水井作业下井以后就再也没上来了", "119"),
    ("邻居大爷下地窖拿土豆 老半天了也没上来 喊他也没声", "119"),
    ("工地上有人下了检查井，到现在都没出来，井底下一点声音都没有。", "119"),
    # A shaft named, then a child gone down it: trapped (E2), not the fall's 120.
    ("村口那口枯井，邻居家孩子掉下去了，在下面一直哭。", "119"),
    ("我家小孙子掉到后院那口废井里了 只听见他在底下哼哼", "119"),
    ("村头那口废井里掉进去一个孩子 腿好像摔伤了 在下面哭", "119"),
    # Someone down with the gas company on site and nothing said of gas still escaping: the
    # ambulance's (made_safe quiets the gas; a smell growing or hissing is 119, emerg37).
    ("燃气公司的师傅到了 正在查 可我婆婆躺在厨房地上不动 屋里还有味儿", "120"),
]

CALM: list[str] = [
    # Over, not a present: 不疼了, 都好了, 不吐了, 没事了.
    "我上周扭了脚，去医院看过了，现在不疼了，想问问工伤怎么报。",
    "孩子昨天发烧，刚才都好了，想问问社区医院几点开门。",
    "我爸前两天胃不舒服 吃了药现在不吐了 问一下医保卡怎么在药店用",
    "刚才都说了我不要办卡，那个推销员还一直打电话。",
    "现在不省心啊，孩子天天玩手机，想问问学校有没有人管。",
    "我家孩子一岁半 现在不会说话 想问问哪里能做语言康复",
    "前天我妈在小区台阶上摔了一跤，这会儿没事了，就是想问问台阶什么时候修。",
    "我爷爷前天摔了以后这会儿没什么反应 就是不爱说话 想问问老年大学怎么报名",
    "孩子昨天在幼儿园磕了头 吐了一次 去医院拍了片子说没事 我想找幼儿园要个说法",
    # No response from an office or a device.
    "我反映了好几次 物业到现在都没反应 楼道灯坏了",
    "手机摔了一下 现在没反应了 想问问哪里能修",
    # A faint smell at a home told away, a shut door with no gas.
    "对门那家出去旅游半个月了，楼道里有一点点煤气味，不太明显，想问问找谁来看看。",
    "隔壁邻居回老家过年了 门一直锁着 我闻着好像有点淡淡的煤气味 也不确定是不是",
    "对门那家天天关着门敲门也不开 他家的快递老放我门口 这事归谁管",
    "隔壁那户没人住，门一直关着，里面一点声音都没有，想问问房子能不能租。",
    # A shaft told as a job or long past.
    "我是做市政管道的，明天要下井作业，想问问有限空间作业证在哪考。",
    "下井作业要配几个监护人，有没有明文规定？",
    "煤矿工人下井以后上来要洗澡 澡堂的热水老是不热",
    "我老公在煤矿上班，每天下井八个小时，加班费一直没给。",
    "我爷爷那辈人下井以后就再也没上来过，那是几十年前的矿难了，想问问家属有没有抚恤。",
    "下池子清淤的活儿干完了人也都上来了 就是老板一直拖着不给钱",
    "村里那口废井一直没盖盖子 我怕孩子掉下去 请派人来封一下",
    "师傅下窖查线路一个钟头就上来了 可物业收了我们两百块钱",
]


@pytest.mark.parametrize(("text", "service"), LOUD)
def test_emerg43_an_emergency_is_handed_over(text: str, service: str) -> None:
    got = classify(text)
    assert got.urgency == "urgent" and got.emergency == service, _cues(text)


def test_emerg43_an_over_a_job_or_a_home_told_away_is_no_hand_over() -> None:
    assert_every([(calm, "none") for calm in CALM], assert_service)


@pytest.mark.parametrize(("state", "told"), [
    # `now_state`: each state after 不, 没 or 都 is a present, each over is not.
    ("现在不省人事", True), ("刚才都喘不上气了", True), ("这会儿没反应了", True),
    ("现在不疼了", False), ("刚才都好了", False), ("现在没事了", False),
])
def test_emerg43_a_state_after_the_present_word_is_a_present(state: str, told: bool) -> None:
    # A past fall told to complain (`treated`) keeps its cues only where a present is told.
    text = f"上周公交急刹车我妈摔倒了头磕破了 {state} 我要投诉这个司机"
    assert (classify(text).emergency != "none") == told, _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    ("我爸前天夜里上厕所摔了一跤，磕着后脑勺了，从那以后就老想吐，这会儿叫他没反应了。", "120"),
    ("隔壁一股天然气味，门一直关着，里面一点声音都没有。", "119"),
    ("两个工人下污水井作业下井以后就再也没上来了", "119"),
    ("邻居大爷下地窖拿土豆 老半天了也没上来 喊他也没声", "119"),
])
def test_emerg43_the_system_hands_each_to_its_service(shipped, text: str, service: str) -> None:
    rules, model = shipped
    assert understand(text, rules, model).emergency == service
