"""Thirty-fourth round (emerg47): emergencies missed and false hand-overs, told in everyday words.

Sentences of our own (bench/data/emerg_own47.tsv, committed before any rule changed), some
punctuated, some as a recogniser writes them. Hand-overs the rules now name: a child lured away
by a stranger whom the family holds now, a woman followed home now (110); a fee paid to a
fraudster who asks for more (110); an old person down at home who cannot get up, told by a
neighbour through the door; a fall into a pit with a leg broken (折了) or bleeding told by
its flow (哗哗流血, 血哗哗的); a worker's finger cut off or a bone showing (120). Calm calls the
rules no longer hand over: a locked fire exit feared (这要着火了人往哪跑), a lift that trapped the
caller twice before (又困了一回), a lantern's or a firecracker's fire stamped out (踩灭了).
docs/classification.md, "Thirty-fourth round (emerg47)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.support.sweep import assert_every
from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own47.tsv"

# The shipped rules and model, loaded once a module (emerg36's fixture).
shipped = _emerg36.shipped

# Lines the rules leave to the model or the operator (docs/classification.md, "Left"): a
# recogniser's homophone that loses the word, a fall into a ditch handed to 119 (trapped) before
# 120, a past fall whose ditch is still unfenced (`ongoing`), a fire named with no supposing word
# before its question, a loss long past or a driver gone that only the model hands to 110,
# straw smoke only the model hands to 119.
LEFT = {
    "有一伙人拿着刚管子把我们拆迁队的工人围起来了 现在就在这儿 人还越来越多",
    "路边那个施工的坑没有围挡，我爸骑电动车连人带车摔进去了，腿上全是血，动不了，快叫救护车。",
    "我们村修路挖的沟没拉警戒线 我老伴掉沟里了 腿摔骨折了 一动就疼 你们快派个车来",
    "去年冬天我妈掉进路边沟里把腿摔骨折了 现在能走路了 那条沟到现在还没围上 这事归谁管",
    "小区地库的安全出口被新能源车充电桩挡住了，门只能开一条缝，着火了往哪逃？",
    "我是不是被骗了啊，去年在游戏里转了一千二买号，号到现在也没给我，人也找不着了。",
    "去年我儿子玩游戏让人骗了，买装备转了三千多，后来人就把他拉黑了，这钱还能追回来吗？",
    "我闺女刚才坐黑车被司机赶下车了，好在她已经自己走回学校了，那个车牌我记着呢，想举报。",
    "网约车司机把我丢在服务区就开走了，行李还在他车上，我现在已经到亲戚家了，行李咋要回来？",
    "地里有人烧稻草，烟都飘到马路上了，我们在路边卖菜的呛得直咳嗽，眼睛都睁不开。",
}


def _lines() -> list[tuple[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], row["emergency"]) for row in rows]


def test_emerg47_each_line_is_handed_to_its_service_or_stays(shipped) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees. One
    # sweep of the file's lines, each failing line named (tests/support/sweep.py).
    assert_every([x for x in _lines() if x[0] not in LEFT],
                 lambda line: _emerg45.assert_handed_or_kept(shipped, *line))


# Each rule varied beyond the file: other tellers, places and words for the same situation,
# and the calm twin beside each (written after the file, not scored before the rules changed).
@pytest.mark.parametrize(("text", "service"), [
    # A child lured and held now.
    ("超市门口有个老太太拿饼干骗我孙子跟她出去 我一把拽住她了 她还想跑", "110"),
    ("有个不认识的男的要把幼儿园一个小朋友领走，我们几个家长把他拦在大门口了。", "110"),
    ("上礼拜有个男的拿玩具哄小孩跟他走 让保安撵跑了 想问问小区能不能多装几个摄像头", "none"),
    # Followed now, by a person or a vehicle; not an animal.
    ("有个骑摩托的男的一路跟着我女儿从学校到胡同口 我女儿现在躲在小卖部里不敢出来", "110"),
    ("一条大黄狗一直跟着我走了好几条街 有点吓人 这种流浪狗归谁管", "none"),
    # A fee paid to a fraudster who asks again.
    ("我是不是上当了 说帮我办贷款 我付了三千的服务费 他现在又让我交五千的保证金", "110"),
    ("物业让我交了全年的物业费 现在又让我交停车费 这合理吗", "none"),
    # Down at home and cannot get up.
    ("对门奶奶在厨房滑倒了 我在门口喊她 她说腰使不上劲站不起来", "120"),
    ("我爸老是早上起不来床 说浑身没劲 想问问挂哪个科", "none"),
    # A break or a bleeding told plainly.
    ("楼下小孩从滑板车上摔下来 胳膊摔折了 疼得直哭", "120"),
    ("车间一个师傅让冲床把两根手指头压断了 血哗哗的", "120"),
    ("前年我从梯子上摔下来胳膊骨折过 现在阴天还疼 想问问能不能算工伤", "none"),
    # A fire exit locked, feared; a fire now beside it.
    ("楼道的防火门让人用铁丝拧死了 这要起火了上面的人都下不来", "none"),
    ("防火门锁着 现在楼里已经冒烟了 我们下不去", "119"),
    # Smoke inside a building people are in, or told before the gap it comes out of.
    ("车间里冒出好多黑烟 好几个工人还在里头", "119"),
    ("烟从隔壁店铺的门缝里一个劲往外钻 一股糊味 卷帘门锁着", "119"),
    ("楼下饭馆烧烤 烟从窗户往外冒 呛得我们没法开窗", "none"),
    # Trapped before, counted; trapped now.
    ("医院那部电梯上周又卡了两回 每次都关半小时 病人都不敢坐了", "none"),
    # A small fire put out by hand; one that would not go out.
    ("有人扔的烟头把绿化带的干草点着了 我拿脚跺灭了 想问问这种事该找谁", "none"),
    ("鞭炮把楼下的纸箱子点着了 我们踩了半天踩不灭 火越来越大", "119"),
])
def test_emerg47_the_rules_read_the_situation_not_the_sentence(
    text: str, service: str,
) -> None:
    got = classify(text, _emerg36.load_rules())
    assert got.emergency == service, _cues(text)


@pytest.mark.parametrize(("text", "urgency"), [
    # The only way out shut against people stays urgent (U4) with the fire feared no cue.
    ("那个 我们这个地下室就一个出口还上了锁 这要着火了人往哪跑啊", "urgent"),
    ("这个小饭馆只有一道门 后门焊死了 这要起火了里头的人咋出去", "urgent"),
    # Not a lock that will not open.
    ("我家就一个门 钥匙丢了锁打不开 能帮忙找个开锁的吗", "general"),
])
def test_emerg47_a_way_out_shut_is_urgent_without_a_fire(text: str, urgency: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == (urgency, "none"), _cues(text)


@pytest.mark.parametrize("text", [
    # A following told with a past word before it (当时, 之前) and a now after it: the new cue
    # must not be silenced, or its mark would stop the model's 110 as well.
    "当时我就觉得不对劲 有个人一直跟着我 现在都到我家楼下了",
    "有个人一直跟着我好几站了 之前在车上就盯着我看 我现在下车了他也下了",
    # A rumour told first, then what the caller sees now (`ahead_ends`).
    "听说这一片有变态 我现在就发现有个男的一直跟着我",
    # A count of the caller's own moves between (换了两次车, 绕了三圈), then 还跟着: the
    # following goes on; the count is no past following (the lead, a recogniser's line).
    "有个男的一直跟着我 我在地铁上换了两次车 他还跟着",
    "一个骑电动车的一直跟着她 她绕了三圈小区 那人还跟着呢",
])
def test_emerg47_a_following_told_after_a_past_word_or_a_rumour_goes_on(shipped, text: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, "110")


def test_emerg47_the_file_holds_both_sides() -> None:
    lines = _lines()
    assert sum(service != "none" for _, service in lines) >= 50
    assert sum(service == "none" for _, service in lines) >= 50
