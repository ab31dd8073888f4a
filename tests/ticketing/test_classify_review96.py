"""Review96: emerg37's guards against threats of our own (docs/classification.md, "Review96").

Each sentence was written to slip past one of emerg37's guards, in the guard's own frame:
a past fall told to complain where the one who fell is still in danger now, told with none
of the present words the guard lists (至今, 打那以后, 眼下不…, 现在不…, 刚才都…, 这不刚,
一晚上); the gas company on the spot while a neighbour's door stays shut and nobody answers;
a rehearsal where the smoke is real (it chokes, the fog machine is off, sparks fly). Each was
handed over before emerg37 (f87ce966) and silenced by it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import ClassificationRules, load_rules
from ticketing.intake_model import SHIPPED_DIR, IntakeModel, ModelStore, understand

# A past fall told to complain (`[not_now] treated`), and the one who fell in danger now.
PAST_FALL_STILL_HURT: list[str] = [
    "上周公交急刹车，我妈摔了一跤磕着头了，打那以后就迷迷糊糊的，叫她都不怎么应，我要投诉这个司机。",
    "上礼拜公交急刹，我爸摔了头，至今昏迷不醒，我要投诉司机。",
    "前几天出租车司机猛一刹车，我奶奶磕了后脑勺，一晚上吐了三回，人叫不答应了，要投诉这个司机。",
    "上回公交急刹车我老伴摔倒了，眼下不会说话了，半边身子动不了，我要投诉。",
    "昨天公交急刹车我姥姥摔了，现在不省人事，呼吸很弱，给个说法。",
    "上周地铁里被人撞倒了，我爸磕破头了，刚才都喘不上气了，我要投诉地铁。",
    "上周三公交急刹，我怀孕七个月摔了一跤，肚子一阵阵地疼，下面见红了，我要投诉。",
    "前天公交车急刹我摔了腰，这不刚疼得满地打滚，脸都白了，冒冷汗，我要投诉司机。",
    "上个礼拜电动车把我爸撞倒了，那个人跑了，我爸头疼得厉害，眼睛都睁不开了，嘴也歪了，要追究。",
    "昨天公交急刹车我儿子磕到头了，半夜抽起风来了，口吐白沫，要投诉司机。",
    "昨天公交车急刹，我摔了一跤，现在没法喘气，胸口疼得厉害，要追究司机责任。",
]

# The gas company on the spot (`[not_now] made_safe`), and a home shut with someone inside.
GAS_COMPANY_DOOR_SHUT: list[str] = [
    "燃气公司的人已经来了可隔壁老太太家门关着敲了半天没动静味儿就是从她家出来的",
    "煤气公司的师傅到了楼上那家门一直敲不开里面住着一个独居老头",
    "燃气公司的人已经来了五楼那家门锁着里面的人叫半天叫不出来",
]

# A rehearsal (`smoke_made`'s stage words) where the smoke is no stage fog.
REHEARSAL_REAL_SMOKE: list[str] = [
    "排练的时候舞台上冒烟了不是干冰那味道呛得人直咳嗽孩子们都在台上",
    "排练厅里冒烟了烟雾机早就关了烟还一个劲往外涌嗓子呛得受不了",
    "彩排的时候音箱冒烟了还有火星子往外蹦",
    "正在排练节目呢幕布后面冒烟有股电焊的味孩子们咳得不行",
    # Choking smoke where only the rehearsal is named, no fog machine.
    "彩排的时候台上冒烟了呛得人直咳嗽孩子们都往外跑",
]

# The guards' calm twins: a past fall told with a complaint's own words, which `<hurt_since>` does not
# read as a hurt (不应该, 白了…一眼, 提醒, 不止一次, 后来): still none.
CALM: list[str] = [
    "上周公交急刹车我摔了一跤腿上擦破点皮流了点血司机不应该这样开车麻烦你们管管",
    "上礼拜公交急刹，我妈摔倒了，膝盖磕破了，司机还白了我们一眼，我要投诉这个司机。",
    "上次公交急刹把我摔了，手上划了个口子，司机不止一次这样了，我要投诉。",
    "昨天公交急刹车，一个大爷摔倒了，头磕破流血了，司机都没下车，后来是乘客扶起来的，我要投诉。",
    # The fog machine named: its fog chokes (emerg_own37's calm line, a first form read it).
    "和昨天一样台上的烟雾机一直冒烟 呛得人直咳嗽",
]


@cache
def _shipped() -> tuple[ClassificationRules, IntakeModel | None]:
    """The shipped rules and model, loaded once for the module."""
    return load_rules(), ModelStore(Path("/nonexistent"), shipped=SHIPPED_DIR).load_current()


@pytest.mark.parametrize("text", PAST_FALL_STILL_HURT)
def test_review96_a_past_fall_told_to_complain_with_the_one_hurt_in_danger_now_is_120(
        text: str) -> None:
    assert understand(text, *_shipped()).emergency == "120", _cues(text)


@pytest.mark.parametrize("text", GAS_COMPANY_DOOR_SHUT)
def test_review96_the_gas_company_on_the_spot_leaves_a_home_shut_with_no_answer_handed_over(
        text: str) -> None:
    assert understand(text, *_shipped()).emergency != "none", _cues(text)


@pytest.mark.parametrize("text", REHEARSAL_REAL_SMOKE)
def test_review96_a_rehearsal_s_real_smoke_is_119(text: str) -> None:
    assert understand(text, *_shipped()).emergency == "119", _cues(text)


@pytest.mark.parametrize("calm", CALM)
def test_review96_a_past_fall_told_to_complain_in_a_complaint_s_words_stays_none(
        calm: str) -> None:
    assert understand(calm, *_shipped()).emergency == "none", _cues(calm)
