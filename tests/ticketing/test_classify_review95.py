"""review95: hostile sentences against emerg36's guards for a fire, smoke or a dive made on purpose.

Each of these was handed over on main before emerg36 (5f7b311) and lost its hand-over to a
guard (`rite_fire`, `smoke_made`, `swim_fine`) or to the mark ``not_now.on_purpose``: a person
hurt, down or still told beside the purpose, in words the guards' own lists did not hold (躺在
地上, 不动了, 没动静, 翻白眼, 打滚, a fire on a person's body, a sofa alight, a swimmer frozen
stiff). Written as a recogniser writes them: no punctuation, numbers as words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import NO_RESCUE, classify, load_rules
from ticketing.intake_model import SHIPPED_DIR, ModelStore, understand

LOST: list[str] = [
    # A grave's fire that reached a person.
    "上坟烧纸的时候风一刮火苗子蹿我奶奶身上了 棉袄呼呼地烧 她在地上打滚",
    "十字路口烧纸的那个老大爷裤子让火给燎了 人还在冒烟 躺地上直哼哼",
    # Incense that set the furniture alight.
    "屋里给老人上香 香灰掉沙发上了 沙发着了 冒大烟",
    # A barbecue's fire on a child.
    "小区里烧烤 有人往炭上泼酒精 火扑到孩子身上 孩子身上冒烟 哭都哭不出声了",
    # Cooking or smoking meat, someone down or not answering.
    "邻居家做饭 厨房窗户一直冒烟 老太太躺在厨房地上不动了",
    "楼下炒菜冒烟 我妈在厨房里 怎么喊都没动静",
    "对面在熏腊肉 阳台一直冒烟 他家小孩躺在地上翻白眼",
    # A winter swimmer frozen stiff.
    "冬泳的阿姨冻得动弹不了 胳膊都僵了 在冰窟窿里靠着冰沿 一上一下的",
]


MODEL_ONLY = {LOST[1], LOST[3]}


@pytest.fixture(scope="module")
def shipped():
    return load_rules(), ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()


@pytest.mark.parametrize("text", LOST)
def test_review95_harm_beside_a_purpose_is_handed_over(shipped, text: str) -> None:
    rules, model = shipped
    got = classify(text, rules)
    assert got.urgency == "urgent", _cues(text)
    # Two of them (人还在冒烟, 孩子身上冒烟) were the model's hand-over on main, the rest the
    # rules' own: each must be one again.
    assert got.emergency != "none" or text in MODEL_ONLY, _cues(text)
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in got.matched), got.matched
    assert understand(text, rules, model).emergency != "none"


# Smoke from a thing that is no purpose's, told in a call that names a purpose elsewhere (a
# cigarette that set the grass smoking, a battery beside the smoked meat): `smoke_made` read the
# purpose's word anywhere and silenced every 冒烟 of the call, and the mark stopped the model's
# 119 (each the model's hand-over on main before emerg36).
ELSEWHERE: list[str] = [
    "抽烟的那个男的把烟头扔进加油站旁边的草里了 草冒烟了",
    "熏腊肉的那家阳台底下停的电动车在充电 电池鼓包了还冒烟",
]


@pytest.mark.parametrize("text", ELSEWHERE)
def test_review95_smoke_from_another_thing_is_no_purpose(shipped, text: str) -> None:
    rules, model = shipped
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in classify(text, rules).matched)
    assert understand(text, rules, model).emergency == "119"


def test_review95_grass_a_grave_fire_set_smoking_stays_urgent() -> None:
    # Urgent on main before emerg36 (urgent.fire's 冒烟), general under the rite's guard.
    # (No rule nor the model hands it over: left as it was.)
    text = "上坟烧纸把坟边上的干草烧得直冒烟"
    got = classify(text)
    assert got.urgency == "urgent", _cues(text)
    assert not any(m.split(":", 1)[0] in NO_RESCUE for m in got.matched), got.matched


# Everyday words that sound as emerg36's [heard_as] words were rewritten as them (a fire engine
# or an ambulance sent for a broadband bundle or a dizzy bus ride); a recogniser's own
# spellings of the words (农烟, 晕到 of a person down) still read.
HEARD: list[tuple[str, str]] = [
    ("楼道里刷的颜色太浓艳了 看着眼晕 想问问谁让刷的", "none"),
    ("我们家宽带被捆绑销售了 还给我开了个电视业务", "none"),
    ("坐车晕到现在 公交司机开车太猛了 我要投诉", "none"),
    ("街道办就命令我们三天之内搬走 连个书面通知都没有", "none"),
    ("楼道里全是农烟 我们家出不去了", "119"),
    ("我妈在家突然晕到了 叫也叫不醒", "120"),
]


@pytest.mark.parametrize(("text", "service"), HEARD)
def test_review95_a_word_sounding_as_a_danger_word(shipped, text: str, service: str) -> None:
    rules, model = shipped
    said = classify(text, rules)
    # The model's decision follows the rules' here: each of the four was the rules' hand-over.
    assert (said.emergency, understand(text, rules, model).emergency) == (service, service), (
        said.matched)


# A child face down in a swimming class: emergency.in_water's older guard named 游泳课 and
# 学游泳 bare, silencing the sport's trouble that `swim_fine` (which reads them with
# `swim_trouble`) now tells apart (a miss on main before emerg36 too).
@pytest.mark.parametrize("text", [
    "游泳课上有个孩子脸朝下漂在水上",
    "学游泳的那个小孩在池子里脸朝下漂着 一动不动 教练在看手机",
])
def test_review95_a_child_face_down_in_a_swimming_class_is_119(text: str) -> None:
    got = classify(text)
    assert (got.urgency, got.emergency) == ("urgent", "119"), _cues(text)
