"""Emerg49: review116's left list, with sentences of our own (not from any data file).

A following needs a person followed (跟踪我, 被人跟踪, 有人在跟踪), not the word in a trade
or a product; a fall the one who fell got up from (现在好了, 现在能走了) is over; the present
as a recogniser writes it (现再, 线在, 这回儿) is the present; a transfer counted with more
asked now is a fraud's mark with no fraud word. docs/classification.md, "Thirty-fourth round
(emerg49)".
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

shipped = _emerg36.shipped


FOLLOWED = [
    # A person followed, told with 跟踪 (clean and as a recogniser writes it).
    ("有个男的一直跟踪我 从地铁站出来就在后面 我现在躲在便利店里", "110"),
    ("我前夫最近一直跟踪我 今天又在我单位楼下蹲着 现在还没走", "110"),
    ("我感觉有人在跟踪她 我闺女刚打电话说那人现在还在她后面", "110"),
    ("有人跟踪我女儿 放学路上跟了一路 她现在躲在同学家不敢出来", "110"),
    # The word in a trade, a product or a follow-up: nobody followed.
    ("私家侦探公司在网上公开卖跟踪定位的服务 应该有人管管", "none"),
    ("我想咨询一下 快递的跟踪单号在哪里查", "none"),
    ("我们公司是做物流跟踪系统的 想问问申请补贴的流程", "none"),
    ("卖汽车跟踪器的小广告贴满了楼道 能不能管管", "none"),
    ("医生让我回去跟踪复查 想问问社区医院能不能做", "none"),
    ("老师说会跟踪孩子的学习情况 想问问转学手续怎么办", "none"),
]

FALLS = [
    # Up again after the fall: over, however the call says it.
    ("我奶奶去年摔了一跤 起不来 住了半个月院 现在好了", "none"),
    ("我奶奶去年摔了一跤 起不来 住了半个月院 现再好了", "none"),
    ("去年冬天我姥姥在楼下摔倒了 起不来 现在已经好了 小区那个台阶还是没修", "none"),
    ("我爷爷前年摔了一跤起不来 后来没事了 想问问老年卡怎么办", "none"),
    ("我妈上个月摔了一跤 起不来 现在能下地了 想问问康复器械能不能报销", "none"),
    # Down now, or down again today: the fall goes on.
    ("我奶奶刚才摔了一跤 起不来 现在还躺在地上", "120"),
    ("我爸去年摔过一次 后来好了 今天又摔了 起不来", "120"),
]


@pytest.mark.parametrize(("text", "service"), FOLLOWED + FALLS)
def test_emerg49_a_person_followed_now_and_a_fall_not_got_up_from(text: str, service: str) -> None:
    # The rules alone: the model had none of the calm ones either way.
    assert classify(text, _emerg36.load_rules()).emergency == service, _cues(text)


@pytest.mark.parametrize(("text", "service"), [
    # The present written 现再, 线在, 这回儿 after a past word: the following or the fight is now.
    ("之前那个人一直跟着我 现再还在我们小区门口转悠", "110"),
    ("上回那个男的又来了 一直跟在我后面 线在就在我身后", "110"),
    ("昨天就有个男的跟踪过我 今天他又跟着我 现再就在我后面", "110"),
    ("之前他就打过我 现再又拿着棍子在我家门口砸门", "110"),
    ("上个月他就来闹过 这回儿又拿着刀在楼道里砍门", "110"),
    # A following over, a wire or an aerial (电线在, 天线在) is no present.
    ("以前有人一直跟着我 现在已经搬家了 想问问户口迁移怎么办", "none"),
    ("之前有个男的跟踪过我 后来被抓了 现再想问问怎么申请保护令", "none"),
    ("去年我们楼电线着过火 电线在楼道里乱拉 想问问物业管不管", "none"),
    # A transfer counted and more asked now: a fraud going on, no fraud word said.
    ("我已经转了三次钱了 他现在还让我转", "110"),
    ("我前后转了四回钱 那边现在还在催我再转一笔", "110"),
    ("我已经转了两万了 他现在还让我继续转 说不转就拿不回来", "110"),
    ("我已经转了三次前了 他线在还让我转", "110"),
    # A payee the caller owes, or a refund asked: no fraud.
    ("我给装修公司转了三次钱了 他现在还让我转尾款 活都没干完 想投诉", "none"),
    ("物业费我已经交了三次了 他们现在还让我交 这合理吗", "none"),
    ("我已经转了三次钱了 他现在说给我退 想问问怎么查到账没有", "none"),
])
def test_emerg49_the_present_as_a_recogniser_writes_it(shipped, text: str, service: str) -> None:
    # emerg45's check: the rules name it, and no silenced cue's mark stops the system's.
    _emerg45.assert_handed_or_kept(shipped, text, service)
