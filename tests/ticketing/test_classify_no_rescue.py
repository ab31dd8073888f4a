"""A hand-over to 110/119/120 needs someone to rescue now (twelfth round of issue 15).

- A habit ("天天", `[not_now] habit`) keeps the urgent floor's cues, as `still` does, but no
  longer wakes the hand-over cues that a past, a frame or a near miss silenced; such a cue
  still makes the call urgent.
- A text that says the one the danger came near is unhurt or out, or that it nearly
  happened (`[not_now] unhurt`, `hazard_only`), or whose hand-over cue the rules read as over
  or framed, carries a `NO_RESCUE` mark; with it the model's probability alone hands nothing
  over (`ticketing.intake_model.decide`), while a rule's hand-over cue still does.
- 晕过去 is fainting now, not the experiential 过 of "晕过一回".

Every sentence here was written for these tests. Each is checked both ways.
"""

from __future__ import annotations

import pytest

from ticketing.classify import NO_RESCUE, classify
from ticketing.intake_model import DECISION, decide, floored


def _marks(text: str) -> list[str]:
    return [m for m in classify(text).matched if m.split(":", 1)[0] in NO_RESCUE]


# --- a habit is no emergency now ---------------------------------------------------------

HABIT_CALM = [
    # A fire lane blocked every day; the ambulance that did not get in was last week.
    "我们楼下的消防通道天天停满了车，上礼拜有辆救护车就是没开进来",
    # Praise frames the call; the fight is the one the praised man broke up last time.
    "表扬一下我们社区的网格员，天天晚上在楼下巡逻，上次有人在小区里打架就是他给拉开的",
]


@pytest.mark.parametrize("text", HABIT_CALM)
def test_a_habit_does_not_wake_a_silenced_hand_over(text: str) -> None:
    got = classify(text)
    assert got.emergency == "none"
    assert got.urgency == "urgent"  # the floor's cue stands: the cause is still there (B9)


def test_a_hand_over_cue_a_habit_kept_live_keeps_the_call_urgent() -> None:
    """No floor cue but the silenced hand-over cue: urgent as before, not handed over."""
    got = classify("我们楼下那条路天天停满了车，上礼拜有辆救护车就是没开进来")
    assert (got.urgency, got.emergency) == ("urgent", "none")
    # A past danger whose cause is still there (B9) is the model's to weigh: no mark.
    assert _marks("我们楼下那条路天天停满了车，上礼拜有辆救护车就是没开进来") == []


def test_a_habit_with_a_danger_now_is_handed_over() -> None:
    assert classify("楼上那家天天打孩子，刚才又打起来了，孩子哭着喊救命，有人拿刀").emergency == "110"
    assert classify("我们楼下的消防通道天天停满了车，现在有个老人晕倒了叫不醒").emergency == "120"


# --- nobody to rescue: marks ------------------------------------------------------------

NO_RESCUE_TEXTS = [
    "路口两辆车撞了，人没事，车横在路中间，后面堵了一大串",
    "一辆货车在路口侧翻了，司机自己爬出来了，货撒了一地，后面的车还在往前挤",
    "小区门口的井盖没了，刚才有个老太太差点掉进去",
    # Said without commas, the past silences the fall: the rules heard a cue and read it over.
    "上个月我们工地上有个工友从架子上摔下来了腿摔断了，老板到现在也不露面",
]

RESCUE_TEXTS = [
    "不知道有没有人受伤，那辆车翻在沟里了",
    "路口两辆车撞了，有个人卡在车里出不来，腿上全是血",
    "饭馆着火了，人都跑出来了，火越烧越大",
    "地铁上有个人晕过去了叫不醒",
]


@pytest.mark.parametrize("text", NO_RESCUE_TEXTS)
def test_nobody_to_rescue_is_marked(text: str) -> None:
    assert _marks(text)


@pytest.mark.parametrize("text", RESCUE_TEXTS)
def test_someone_to_rescue_is_not_marked(text: str) -> None:
    assert _marks(text) == []


# --- the model alone hands nothing over where nobody is to be rescued ---------------------

PROBABILITIES = {"emergency": {"none": 0.4, "110": 0.1, "119": 0.45, "120": 0.05},
                 "urgency": {"general": 0.2, "urgent": 0.8},
                 "kind": {"complaint": 0.9, "inquiry": 0.1}}


def test_the_model_alone_does_not_hand_over_a_text_marked_no_rescue() -> None:
    marked = _marks("一辆货车在路口侧翻了，司机自己爬出来了，货撒了一地")
    got = decide(PROBABILITIES, marked, DECISION)
    assert got["emergency"][0] == "none"
    assert got["urgency"][0] == "urgent"  # the hazard stays urgent (U4)


def test_the_model_hands_over_a_text_with_someone_to_rescue() -> None:
    assert decide(PROBABILITIES, [], DECISION)["emergency"][0] == "119"


def test_a_rules_hand_over_stands_on_a_marked_text() -> None:
    """"人没事" of the driver does not stop 119 for a car on fire: the rules' floor."""
    ruled = classify("路口两辆车撞了，司机没事，可是车头着火了，火越来越大")
    assert _marks("路口两辆车撞了，司机没事，可是车头着火了，火越来越大")
    guess = decide(PROBABILITIES, ruled.matched, DECISION)
    assert floored(guess["urgency"][0], guess["emergency"][0], ruled)[1] == "119"


# --- 晕过去 is now ----------------------------------------------------------------------


def test_fainting_said_without_commas_is_handed_over() -> None:
    assert classify("有个人在地铁上突然晕过去了没有意识").emergency == "120"


def test_a_faint_that_happened_once_is_not() -> None:
    assert classify("我上个礼拜在地铁上晕过一回没有意识，想问问地铁上有没有急救药箱").emergency == "none"
