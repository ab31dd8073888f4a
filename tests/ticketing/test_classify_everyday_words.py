"""[everyday_words] (config/classification.toml): a cue inside a longer everyday word, or
sharing characters with one, is not read. Keywords are plain substrings, so "写着火爆促销"
held 着火 and a shop's fire sale was handed to 119 (eleventh round, blind heldout-12).

Every sentence here was written for these tests. Each is checked both ways: the everyday
word with no danger, and the same characters in a danger now.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues, _floor
from ticketing.classify import _everyday

EVERYDAY = [
    "商场门口写着火爆促销，进去一看根本不便宜",
    "看着火车一趟趟开过去，道口的栏杆半天不抬",
    "我打人家电话人家也不接，楼上装修从早吵到晚",
    "步行街挂着跳楼价大甩卖的横幅，把盲道都挡住了",
    "这是我们流血流汗挣的钱，老板拖了三个月不给",
    "自行车轮胎漏气了，小区门口修车的要五十块",
    "这件事困扰我好几个月了，楼下饭馆的油烟太大",
    "楼外的落水管坏了，一下雨水就顺着墙往屋里渗",
    "这是老人的救命钱，被保健品公司骗走了",
    "他们这种做法就是道德绑架，逼着业主交钱",
    "网上有个爆炸性的消息说我们这片要拆迁，是真的吗",
]

DANGER = [
    ("楼下火锅店着火了，火很大", "119"),
    ("吃着火锅，桌子底下的气罐着火了", "119"),
    ("火车站广场有人打人，流了好多血", "110"),
    ("有人落水了，就在河边", "119"),
    ("我被困在电梯里了，出不来", "119"),
]


@pytest.mark.parametrize("text", EVERYDAY)
def test_a_cue_inside_an_everyday_word_is_not_read(text: str) -> None:
    assert _danger_cues(text) == []
    assert _floor(text)[1] == "none"


@pytest.mark.parametrize(("text", "service"), DANGER)
def test_the_same_characters_in_a_danger_now_are_read(text: str, service: str) -> None:
    assert _floor(text) == ("urgent", service)


def test_a_cue_that_holds_an_everyday_word_whole_is_read() -> None:
    """火车道口 holds 火车: the railway crossing is traffic's, as before."""
    from ticketing.classify import classify

    got = classify("火车道口的栏杆坏了，一直抬不起来")
    assert any(m.endswith(":火车道口") for m in got.matched)
    assert got.category == "traffic"


def test_a_one_character_everyday_word_is_refused() -> None:
    # One character would silence every cue holding it ("火" would end 着火 for good).
    with pytest.raises(ValueError, match="two characters"):
        _everyday(["火"], Path("classification.toml"))


@pytest.mark.parametrize("text", [
    "上个礼拜我被困在电梯里半个小时，想问问电梯年检归哪个部门管",
    "上个星期楼下饭馆着火了，外墙熏黑了一大片到现在没人清理",
])
def test_last_week_said_in_full_is_past(text: str) -> None:
    assert _floor(text)[1] == "none"
