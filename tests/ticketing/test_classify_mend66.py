"""Twenty-seventh round (mend66): what review67 and the lead found in cls30's rules.

- An everyday word that ate a cue (``not_now.everyday_word``) cancels that cue, not the
  model's hand-over for the rest of the call: "工资卡在老板手里出不来 工人在塔吊上要跳" is the
  model's to hand over; "补偿款卡在区里出不来了" still is not.
- Money going to a fraudster now, or held by one, is B14 (urgent, 110): "我妈正要去银行给骗子
  转账", "钱卡在骗子那里出不来了" (no stuck matter, no trapping).
- A faint said with its 得…了 ("气得晕过去了") is a faint (E3).
- Lips blue out of doors are E3's sign again (cls30's lookbehind on 冻得 lost them); blue lips
  in a home without heating stay the heating's (U5: urgent, no hand-over).
- A smell after the valve was shut that grows or makes someone dizzy is gas escaping (B4,
  119) with the gas unnamed: `emergency.gas_valve_smell`.
- A plea for a service to come now ("快让救护车来") is present by itself: no past clause
  before it silences it, told with commas or without (a recogniser's one clause).
- `[heard_as]` no longer rewrites function words (一只, 一致 -> 一直; 外立面 -> 外里面).

Lines from review67 (/tmp/review67/lines.tsv and its report) and the lead's brief, clean and
recogniser-style (``ticketing.degrade``). docs/classification.md, "Mends (twenty-seventh round,
mend66, review67)".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import EVERYDAY_WORD, _heard, _normalize, classify, load_rules
from ticketing.degrade import degrade
from ticketing.intake_model import SHIPPED_DIR, IntakeModel, ModelStore, understand


@pytest.fixture(scope="module")
def shipped() -> IntakeModel:
    model = ModelStore(Path("/nonexistent-data-dir"), shipped=SHIPPED_DIR).load_current()
    assert model is not None
    return model


# The danger lies in a clause the rules cannot read; the money stuck ate only its own cue.
@pytest.mark.parametrize("text", [
    "工资卡在老板手里出不来 工人在塔吊上要跳",
    "老爷子这会儿在ATM跟前呢 电话里那人让他转账 说他补偿款卡在那儿出不来要交手续费",
])
@pytest.mark.parametrize("style", ["clean", "recogniser"])
def test_mend66_an_everyday_word_leaves_the_rest_of_the_call_to_the_model(
    text: str, style: str, shipped: IntakeModel,
) -> None:
    said = degrade(text) if style == "recogniser" else text
    got = understand(said, load_rules(), shipped)
    assert got.emergency != "none", got.matched


@pytest.mark.parametrize("text", [
    "补偿款卡在区里出不来了",
    "拆迁补偿款卡在区里出不来了，快两年了",
    "退休手续卡在人社局出不来了",
])
def test_mend66_a_matter_stuck_alone_is_still_no_hand_over(text: str,
                                                           shipped: IntakeModel) -> None:
    got = understand(text, load_rules(), shipped)
    assert any(m.startswith(EVERYDAY_WORD) for m in got.matched)
    assert got.emergency == "none"


LOUD: list[tuple[str, str]] = [
    # B14: money going to a fraudster now, or held by one.
    ("钱卡在那儿出不来 我妈正要去银行给骗子转账", "110"),
    ("退款卡在平台出不来，对方让我马上转钱解冻，我妈正在转", "110"),
    ("我的钱卡在骗子那里出不来了", "110"),
    # A faint that happened (E3).
    ("手续卡在那儿出不来 我爸急得晕过去了", "120"),
    ("补偿款卡在那儿出不来，我妈气得晕过去了", "120"),
    # Out in the cold, blue lips (E3).
    ("公交站有个老人冻得嘴唇发紫 站都站不稳了", "120"),
    ("路边有个流浪汉冻得脸发青 缩在那儿不说话", "120"),
    ("我爸在外头冻得嘴唇都紫了，人迷迷糊糊的", "120"),
    ("我妈在屋里冻僵了 嘴唇发紫 说不出话", "120"),
    ("家里没暖气 我爸冻得嘴唇发紫 叫不醒了", "120"),
    # A smell after the valve was shut that grows or makes someone dizzy, the gas unnamed (B4).
    ("阀门关了还是有味儿 越来越大 头晕", "119"),
    ("阀 门 关 了 还 是 有 股 味 儿 越 来 越 浓", "119"),
    # A plea now after a past clause.
    ("上礼拜我爸就说胸口疼 今天早上突然倒了 快让救护车来", "120"),
    ("上理拜我爸就说胸口疼今天早上突然倒了快让救护车来", "120"),
    ("上 礼 拜 我 爸 就 说 胸 口 疼 今 天 早 上 突 然 倒 了 快 让 救 护 车 来", "120"),
]


@pytest.mark.parametrize(("text", "service"), LOUD)
def test_mend66_a_danger_now_is_handed_over(text: str, service: str) -> None:
    got = classify(text)
    assert (got.urgency, got.emergency) == ("urgent", service), _cues(text)


@pytest.mark.parametrize("text", [
    # U5: blue lips in a home without heating are the heating's (docs/labelling.md E3).
    "家里没暖气 冻得孩子嘴唇发紫",
    "价里 没 暖气 冻得 孩子 嘴唇 发紫",
    "暖气不热，我妈冻得嘴唇都发紫了",
])
def test_mend66_blue_lips_in_a_cold_home_are_urgent_with_no_hand_over(text: str) -> None:
    got = classify(text)
    assert (got.urgency, got.emergency) == ("urgent", "none"), _cues(text)


@pytest.mark.parametrize("text", [
    # The fraudster's demand refused, a figure of speech, a plea told of and met.
    "补偿款卡住了让我转钱 我没理他 挂了",
    "累得快晕过去了，加班到现在也没人管",
    "关了阀门还是有味儿 不过小多了",
    "水阀关了还是有味儿越来越大",
    "上礼拜我家老人摔了 当时喊快叫救护车 后来没事了 想问问这种情况社区管不管",
    "上个月楼里有人晕倒 物业说快叫120 结果等了半天 想提个建议",
    "去年邻居家着火，消防车来了半个小时才到，能不能在小区里多设个消防栓",
])
def test_mend66_the_calm_lines_stay_calm(text: str) -> None:
    assert classify(text).emergency == "none", _cues(text)


@pytest.mark.parametrize("written", [
    "我一只手拿不了", "一支笔", "大家意见一致", "外立面改造", "孩子在里面", "一直没人管",
])
def test_mend66_heard_as_leaves_function_words_as_written(written: str) -> None:
    norm = _normalize(written)
    assert _heard(norm, load_rules()) == norm


@pytest.mark.parametrize(("text", "service"), [
    ("上礼拜我爸就说胸口疼，今天早上突然倒了，快让救护车来", "120"),
    ("上礼拜听说这边老出事，刚才我妈摔倒了起不来，快叫120", "120"),
    ("钱卡在那儿出不来，我妈正要去银行给骗子转账", "110"),
    ("公交站有个老人冻得嘴唇发紫，站都站不稳了", "120"),
])
def test_mend66_recogniser_style_keeps_the_hand_over(text: str, service: str,
                                                     shipped: IntakeModel) -> None:
    said = degrade(text)
    assert understand(said, load_rules(), shipped).emergency == service, said
