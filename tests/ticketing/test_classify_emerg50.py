"""Thirty-fifth round (emerg50): emergencies told by signs, and calm lines read as danger.

Sentences of our own (bench/data/emerg_own50.tsv, committed before any rule changed), some
punctuated, most as a recogniser writes them: a driver slumped over the wheel who does not stir
or answer a knock, vomiting after a pill or a meal with cold limbs or failing speech (120); a
relative held in a pyramid-selling den, "布让他出来", who got word out in secret (110); a snake
coiled in a yard with a small child at home, a hornet nest by a kindergarten with a child stung,
people staying in a riverbed after a release was announced (urgent, no hand-over by the rules).
Calm: a gas water heater asked about with a risk heard of, an ambulance that came late last
month, a tooth socket oozing in the evening, a tenant locked out with her things inside (none).
docs/classification.md, "Thirty-fifth round (emerg50)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify
from ticketing.intake_model import understand

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own50.tsv"

shipped = _emerg36.shipped

# A danger to come with nobody hurt or trapped yet (U4): the rules make these urgent and name no
# service. A snake coiled or a riverbed after a release with no harm told is marked nobody to
# rescue ([not_now] unhurt), so the model hands these over no more; a nest whose sting is told,
# or a snake "一动不动" (harm_told's 不动), is the model's to weigh (110, 119, 120, asked before it
# is put through: docs/ivr.md). A taxi driver who woke is the model's 110 as on main (no rule
# reads it, so no mark stops the model).
MODEL_ALONE = {
    "出租车司机在车里趴方向盘上睡觉，我敲了一下他就醒了，还冲我嚷嚷，想投诉他拒载，首都机场。",
    # Held yesterday and still: 昨天 quiets the clause, the model names 110 (left).
    "我儿子说去外地打工 昨天偷偷发信息说被传销的关着 布让他出来 每天有人看着 在顺义 我现在咋办",
}


def _rows() -> list[dict[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _urgent_calm(row: dict[str, str]) -> bool:
    return row["emergency"] == "none" and row["urgency"] == "urgent"


@pytest.mark.parametrize(("text", "service"), [
    (row["text"], row["emergency"]) for row in _rows()
    if not _urgent_calm(row) and row["text"] not in MODEL_ALONE])
def test_emerg50_each_line_is_handed_to_its_service_or_stays(
    shipped, text: str, service: str,
) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees.
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [row["text"] for row in _rows() if _urgent_calm(row)])
def test_emerg50_a_danger_to_come_is_urgent_with_no_hand_over(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize("text", [
    row["text"] for row in _rows() if _urgent_calm(row)
    and any(word in row["text"] for word in ("蛇", "长虫", "放水", "泄洪", "开闸"))
    and "一动不动" not in row["text"]])
def test_emerg50_nobody_in_it_yet_is_no_one_to_rescue(shipped, text: str) -> None:
    rules, model = shipped
    got = understand(text, rules, model)
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize("text", [
    # Harm told beside the snake or the water: no mark, the rules' cue or the model decides.
    "院子里盘着一条蛇 刚才把我孙子腿上咬了一口 现在腿肿得老粗 孩子直哭",
    "广播说上游放水 河滩上还有人没撤 刚才有个孩子被冲走了",
])
def test_emerg50_harm_beside_a_danger_to_come_is_not_marked(text: str) -> None:
    matched = classify(text, _emerg36.load_rules()).matched
    assert not any(m.startswith("not_now.no_victim") for m in matched), matched


@pytest.mark.parametrize("text", sorted(MODEL_ALONE))
def test_emerg50_left_to_the_model(shipped, text: str) -> None:
    rules, model = shipped
    assert classify(text, rules).emergency == "none"
    assert understand(text, rules, model).emergency == "110"


@pytest.mark.parametrize(("text", "service"), [
    # Slumped over the wheel, other words, either order, a homophone's wheel (方像盘).
    ("望京SOHO地库里有辆车 司机歪在方向盘上 我拍窗户他不吭声 车还着着呢", "120"),
    ("敲了半天车窗都没反应 一看那司机耷拉着脑袋趴在方向盘上", "120"),
    ("加油站边上停着辆车 开车的小伙子趴在方像盘上 叫了好几声都不答应", "120"),
    # Vomiting that goes on, then cold limbs or failing speech.
    ("我叔吃了个偏方药酒 吐了一晚上 现在四肢冰凉 跟他说话他就含含糊糊的", "120"),
    ("老太太吃了摊上买的凉皮 吐个不停 浑身发冷 舌头都不听使唤了", "120"),
    # Held by a group: other dens, 不让 as written and as heard.
    ("我表妹让传销的给扣着呢 不让回家 她偷偷给我打了个电话 在固安", "110"),
    ("我堂弟被人骗到黑作坊里去了 他们布让他走 他悄悄给我发了个位置", "110"),
    # A person or a pet shut in: still 119 beside the things.
    ("车钥匙锁在车里了 孩子还在车里 天这么热 门打不开", "119"),
    ("我家孩子锁在屋里头出不来 煤气还开着", "119"),
    # A poisoning now after hearsay; a real bleed after a tooth pulled.
    ("邻居说可能煤气中毒了 现在叫不醒", "120"),
    ("拔完牙一直在流血 满嘴都是血 止不住", "120"),
])
def test_emerg50_signs_told_are_handed_over(text: str, service: str) -> None:
    assert classify(text, _emerg36.load_rules()).emergency == service, _cues(text)


@pytest.mark.parametrize("text", [
    # The guards: a collision's driver (the police's scene), car sickness, a den escaped.
    "孩子晕车一直吐 手脚冰凉",
    "我弟弟前年被传销的关着 布让出来 后来自己跑出来了 想举报",
    # Things shut in, not people; a risk heard; streaks of blood; an ambulance late last month.
    "房东换了锁 我们的行李都锁在里头了 今晚没地方住 通州",
    "听别人说这种热水器容易煤气中毒 我们家一直用着没出过事 能换个强排的吗",
    "拔牙那儿还在冒血丝 明天能去复诊吗",
    "上月我妈突然喘不上气 打了急救电话 救护车半个多钟头才到 人是救过来了 这个时间正常吗",
    # A snake gone, a nest taken down, a release asked about.
    "去年我家院子里盘过一条蛇 后来抓走了 今年想问问怎么防",
    "幼儿园窗户外的马蜂窝把孩子蜇了以后 园里已经找人摘了 想问问费用谁出",
    "河边有人在钓鱼 听说上游过两天要放水 想问问有没有通知",
])
def test_emerg50_calm_stays_calm(text: str) -> None:
    assert classify(text, _emerg36.load_rules()).emergency == "none", _cues(text)


@pytest.mark.parametrize("text", [
    "我家院里的水缸后头盘着一条蛇 我孙女才一岁 在炕上睡觉呢",
    "小学操场边那棵树上有个马蜂窝 下课有学生让蜇了 老师说还有蜂在飞",
    "水库那边开闸了 河滩上还有几个放羊的老汉没撤",
])
def test_emerg50_other_dangers_to_come_are_urgent(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


def test_emerg50_a_moon_or_a_street_is_no_past_month() -> None:
    # 上月 is a past day (`past_days`), not inside 晚上月亮 or a word that ends in 上.
    rules = _emerg36.load_rules()
    assert classify("晚上月亮挺好 楼下突然有人晕倒了 叫不醒", rules).emergency == "120"
