"""Thirty-sixth round (emerg51): emergencies told late or understated, and figures of speech
read as danger.

Sentences of our own (bench/data/emerg_own51.tsv, committed before any rule changed), some
punctuated, most as a recogniser writes them: bare copper sparking in the rain with the wooden
eaves beside it smoking, a boiler's alarm sounding with its gauge at the end stop (119); cable cut
from a ladder by men who claim a utility, wear no uniform and throw it into a van, a buyer locked
in a dealer's shop by its staff and hiding in the toilet (110); a breaker that will not stay on
with an elder on an oxygen concentrator, tap water smelling of petrol in several homes, spoiled
meat about to be cooked for a kindergarten's lunch (urgent, no service). Calm: "我不是要报警" and
patrols after petty thefts from cars, a website "跟爆炸了似的", a heart that "is about to jump out"
at square-dance music, a B&B's fireplace whose smoke neighbours once took for a fire, a septic
tank a worker fainted in two years ago, someone who smoked while refuelling and drove off.
docs/classification.md, "Thirty-sixth round (emerg51)".
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify
from ticketing.degrade import degrade
from ticketing.intake_model import understand

OWN = Path(__file__).resolve().parents[2] / "bench" / "data" / "emerg_own51.tsv"

shipped = _emerg36.shipped


def _rows(path: Path = OWN) -> list[dict[str, str]]:
    """A round's own sentences (emerg52 reads its file with it too)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _urgent_calm(row: dict[str, str]) -> bool:
    return row["emergency"] == "none" and row["urgency"] == "urgent"


def test_emerg51_the_file_holds_every_family() -> None:
    rows = _rows()
    assert sum(row["emergency"] != "none" for row in rows) >= 20
    assert sum(_urgent_calm(row) for row in rows) >= 15
    assert sum(row["urgency"] != "urgent" for row in rows) >= 30


@pytest.mark.parametrize(("text", "service"), [
    (row["text"], row["emergency"]) for row in _rows() if not _urgent_calm(row)])
def test_emerg51_each_line_is_handed_to_its_service_or_stays(
    shipped, text: str, service: str,
) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees.
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [row["text"] for row in _rows() if _urgent_calm(row)])
def test_emerg51_a_danger_without_a_service_is_urgent(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # Sparks, then smoke from what they fall on.
    ("院墙上那根老电线破皮了 刮风下雨就冒火花 现在挨着的木头柴火垛冒起烟来了", "119"),
    ("您快来 楼外头挂的电线噼啪打火 火星子掉在下面的木头棚子上 棚子已经冒烟了", "119"),
    ("平房屋檐底下那个明线一直冒火星 椽子那块冒出黑烟来了 海淀区西北旺", "119"),
    # A boiler's gauge at its end stop while its alarm sounds.
    ("小区锅炉房警报器响了半天了 压力表指针打到头了 值班的师傅不知道去哪了", "119"),
    ("我们厂锅炉蜂鸣器一直叫 气压表都爆表了 没人管", "119"),
    ("锅炉那边报警灯闪着还嘀嘀响 压力表的针到红线了 烧锅炉的老张人找不着", "119"),
    # Cable cut and loaded by men whose company the caller doubts.
    ("有几个人在剪我们楼外面的光缆 说是移动公司的 可都穿着便装 剪下来就往三轮车上扔", "110"),
    ("路口几个人正在割电线杆上的电缆 自称供电所的 连个工牌都没有 割了就往面包车里塞", "110"),
    ("俩人蹬着梯子铰电话线 铰下来的线一卷卷往车上装 我问他们哪个单位的 他们说是电信的 看着不像", "110"),
    # Kept in by a group, hiding or a phone snatched at; a money frame word beside it.
    ("我在健身房要退卡 几个教练把门关了不让我走 还拽我手机 我躲进更衣室的卫生间了", "110"),
    ("驾校的人不让我出去 好几个人堵着门 要抢我电话 我现在藏在他们厕所里", "110"),
    ("我来二手手机店退货 他们三个人把卷帘门拉下来了 手机差点被抢走 我躲在洗手间里小声打的", "110"),
])
def test_emerg51_other_wordings_are_handed_over(shipped, text: str, service: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize("text", [
    "我们家电闸一合上就跳 黑了一宿了 我妈离不了制氧机",
    "漏保老跳 一晚上黑灯瞎火的 家里老人吸着氧 吸氧机停了",
    # The breaker told before a past day, the outage after it: the outage still counts.
    "家里总闸一合就掉 昨晚到现在都没电 老太太八十多了用着制氧机",
    "我们楼好几家的自来水都有汽油味 做饭都不敢用",
    "对门和我家水龙头放出来的水都是煤油味 孩子已经喝了",
    "托儿所的厨房正准备拿发臭的排骨给孩子做午饭",
    "学校食堂今天中午要用的鸡肉都馊了 厨师说马上下锅",
])
def test_emerg51_other_dangers_without_a_service_are_urgent(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize("text", [
    # Likenesses, a fire only believed, a heart's figure of speech, a phone at the pump.
    "社保网站今天跟爆炸了一样 怎么都登不上去",
    "抢号的系统像要炸了似的 一直转圈",
    "楼下广场舞音响太吵 我爸有心脏病 说心都快蹦出来了 能不能限制音量",
    "我家烧柴火炉 路过的人还以为我们家着火了 想问烟囱要多高",
    "加油站有个人一边加油一边打电话 后来开车走了 加油站不管",
    # The guards: a gauge broken long since, utility workers in uniform, a caller let go, one
    # home's tap, a meal eaten last week.
    "锅炉房的压力表早就坏了 报警器也老响 想反映一下让他们修",
    "供电局的师傅穿着工作服在剪旧电缆 往工程车上装 想问什么时候来电",
    "上次在车行退定金 他们不让我走 后来放我走了 想投诉",
    "我家水龙头的水有股汽油味 就我们一家 是不是管子的问题",
    "幼儿园上周拿过期的肉给孩子做饭 好几个孩子拉肚子 想举报",
])
def test_emerg51_calm_stays_calm(shipped, text: str) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, "none")


@pytest.mark.parametrize("text", [
    "我家水龙头的水有股汽油味 就我们一家 是不是管子的问题",
    "幼儿园上周拿过期的肉给孩子做饭 好几个孩子拉肚子 想举报",
    "锅炉房的压力表早就坏了 报警器也老响 想反映一下让他们修",
])
def test_emerg51_the_new_urgent_cues_keep_out_of_their_guards(text: str) -> None:
    matched = classify(text, _emerg36.load_rules()).matched
    assert not any(m.startswith(("urgent.tap_water_fuel", "urgent.spoiled_meal",
                                 "emergency.boiler")) for m in matched), matched


@pytest.mark.parametrize(("text", "service"), [
    # What was found after the belief, an attack beside the figure, a fire at the pump after the
    # smoker left, a beating going on: the new guards leave them.
    ("我以为着火了 出去一看真着火了 楼道里全是烟", "119"),
    ("我以为着火了，出去一看，真着火了", "119"),
    ("广场舞太吵了 我妈有心脏病 刚才心脏都快跳出来了 现在喘不上气 脸都白了", "120"),
    ("加油站有人一边加油一边抽烟 开走以后那个加油枪那儿着起来了", "119"),
    ("他们还在打人 拿着棍子", "110"),
])
def test_emerg51_danger_beside_the_guards_is_handed_over(text: str, service: str) -> None:
    assert classify(text, _emerg36.load_rules()).emergency == service, _cues(text)


def test_emerg51_sparks_are_no_blow() -> None:
    # `not_a_blow`, one list for urgent.person_at_risk and emergency.police_signs.
    matched = classify("电线皮掉了 下着雨一直在打火花", _emerg36.load_rules()).matched
    assert not any(m.startswith(("urgent.person_at_risk", "emergency.police_signs"))
                   for m in matched), matched


@pytest.mark.parametrize("text", [
    row["text"] for row in _rows() if "以为" in row["text"] and row["emergency"] == "none"])
def test_emerg51_a_fire_only_believed_stops_the_model_in_recogniser_style(
    shipped, text: str,
) -> None:
    # A span, not an everyday word: the silenced cue marks the call, so the model's hand-over
    # stops on the recogniser's text too (as an everyday word it left one line to the model's 119).
    rules, model = shipped
    assert understand(degrade(text), rules, model).emergency == "none"


@pytest.mark.parametrize("text", [
    row["text"] for row in _rows() if "化粪池" in row["text"]])
def test_emerg51_a_fainting_two_years_ago_is_no_urgency(text: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert got.urgency != "urgent" and got.emergency == "none", _cues(text)
