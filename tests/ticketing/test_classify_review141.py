"""Review141 of emerg53: a carer's blow found on a recording, or complained of to a provider,
is a report, not a beating going on (docs/classification.md, "Thirty-seventh round (emerg53)",
review141's note).

Sentences of our own (bench/data/review141_own.tsv, half as a recogniser writes them): a daycare
carer who pinched a child's face while feeding, "监控都拍下来了", the director calling it play,
was handed to 110 by `emergency.carer_beating_child`, whose "found afterwards" guard knew 才发现,
回放 and a carer dismissed but not a recording kept, a provider named or a complaint. A blow the
parent watches now stays 110.
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify
from ticketing.intake_model import understand

shipped = _emerg36.shipped

# Recorded, complained of, or the carer let go, and nothing told as going on now.
FOUND_AFTERWARDS = [
    "嗯 那个 我家宝宝在托班 喂饭阿姨掐孩子脸蛋 监控都拍下来了 园长非说是跟孩子玩 我要投诉 朝阳",
    "托育中心的阿姨给娃喂饭的时候掐他脸，录像拍得清清楚楚，园长说那是逗孩子，我要反映这个托育中心。",
    "我们家保姆掐孩子，摄像头都录下来了，我想报警，怎么弄。",
    "嗯 托育园 阿姨打孩子 视频都拍下来了 园长说逗他玩的 我想举报",
    "早教班阿姨扇我家宝宝 监控截图家长群都有 机构不认 投诉",
    "月嫂拧宝宝的腿 我看了监控录像 已经不用她了",
    "育儿嫂打孩子被监控拍下来了 家政公司说给换人 我想投诉家政公司",
]

# Going on now, watched on the camera: the police are nearer than the parent.
GOING_ON = [
    "保母在打孩子 我在看监控 拍下来了 快来人",
    "托班的监控家长能看直播，阿姨正在打我家孩子，园长电话打不通，快派人。",
    "阿姨正掐着孩子，我在摄像头里看着，快派人，孩子一岁。",
    "保姆刚才在客厅里掐我孩子的脖子，我在监控里看着呢，我现在往回赶，快来人，东城区。",
    "那个 监控里阿姨正在扇我闺女耳光 一下一下的 我在外地 家里就她俩 快报警 海淀",
]


# `emergency.surrounded_for_money` is the caller held: a crowd round a gate, touts at a metro
# exit or a scenic spot, workers stopping their boss's car, is no one detained (none, as before
# emerg53); the caller surrounded, or pushed and held inside the ring, stays 110.
CROWD_ROUND_A_PLACE = [
    "地铁口老围着一帮发传单的 拦着人要钱 不给不让走 天天这样 希望管管",
    "景区门口围着好几个拉客的，拦着不让走，非要给钱拍照，想投诉景区管理。",
    "小区门口围着一群讨薪的工人，说老板欠钱，拦着老板的车不让走，现在还在。",
    "菜市场门口总围着几个要钱的 拦着老人不让走 推来推去的 城管也不管",
]
CALLER_HELD = [
    "我到公司谈事，五六个人围着我要钱，推我，不让我走。",
    "那个 我们在医院被家属围住了要赔钱 推推搡搡 不让我们走 快来人",
    "五六个人围着要钱 推了我好几下 不让我走 在大兴",
    "一伙人让我拿钱 把我围在屋里 推我 不放我走",
]


CASES = ([(text, "none") for text in FOUND_AFTERWARDS + CROWD_ROUND_A_PLACE]
         + [(text, "110") for text in GOING_ON + CALLER_HELD])


@pytest.mark.parametrize(("text", "service"), CASES)
def test_review141_handed_over_only_when_it_goes_on_and_holds_the_caller(
    shipped, text: str, service: str,
) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)
    if text in FOUND_AFTERWARDS:
        assert classify(text, _emerg36.load_rules()).urgency != "urgent", _cues(text)


def test_review141_the_daycare_complaint_stays_education(shipped) -> None:
    rules, model = shipped
    got = understand(FOUND_AFTERWARDS[0], rules, model)
    assert (got.emergency, got.category) == ("none", "education")
