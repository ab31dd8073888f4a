"""Review118: emerg49's recogniser homophones of the present (现再, 线在) read as "now" only
where they are one, not inside a word (公交线在, 警戒线在, 二号线在, 斑马线在, 兑现再, 提现再),
so a following told as past is not reopened by a line, a route or a cash-out. Sentences of our
own (not from any data file). docs/classification.md, "Thirty-fourth round (emerg49)".
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

shipped = _emerg36.shipped


HOMOPHONES = [
    # A past following, then a line, a route or a cash-out that only sounds like 现在.
    ("去年有个男的一直跟着我 那条公交线在我们小区门口有一站 想问问能不能改线路", "none"),
    ("上周有人一直跟着我 那道警戒线在小区门口还拉着 物业为啥不撤", "none"),
    ("上周有人一直跟着我哪道警戒线在小区门口还拉着物业为啥不撤", "none"),
    ("以前有个人老是跟着我 地铁二号线在我家附近 想问问末班车几点", "none"),
    ("前年有个男的总是跟着我 斑马线在学校门口被车压坏了 能不能重画", "none"),
    ("之前那个男的一直跟着我 那条生产线在我们厂 想问问厂里加班合不合法", "none"),
    ("之前有个男的一直跟着我 领导答应的补贴没兑现再去问也没用 想投诉", "none"),
    # The recogniser's present, still read as the present.
    ("之前那个人一直跟在我后面 现再还在楼下转悠", "110"),
    ("之前那个人一直跟在我后面线在就在我身后", "110"),
    ("之前那个男的老是跟着我 线在又跟着我到小区门口了", "110"),
]

FOLLOWED_UP = [
    # 跟踪 of a parcel, a case, a report or a claim: nobody followed (clean and run together).
    ("有人跟踪我的快递 显示已签收但我没收到", "none"),
    ("有人跟踪我的快递显示已签收但我没收到", "none"),
    ("我想问问怎么跟踪我的社保转移进度", "none"),
    ("电视台一直在跟踪报道我们小区的违建 想问问结果", "none"),
    ("有人在跟踪这个项目吗 工地停了半年了", "none"),
    ("我们一直跟踪这个案子 法院什么时候判", "none"),
    # A person followed, told the same way: still 110.
    ("有个人跟踪我女儿放学 现在还在学校门口转悠", "110"),
    ("有人一直跟踪我的女儿 她现在躲在同学家不敢出来", "110"),
    ("有人在跟踪我 我现在躲在超市里不敢出去", "110"),
]


@pytest.mark.parametrize(("text", "service"), HOMOPHONES + FOLLOWED_UP)
def test_review118_a_line_a_cash_out_or_a_parcel_is_no_present_following(
    shipped, text: str, service: str,
) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize(("text", "service"), [
    # A bill the caller owes, paid again because it did not arrive: no fraud (the model's
    # own 110 is asked before it is put through, so only the rules are held here).
    ("水费我已经转了两次了 他现在还让我转 说没收到", "none"),
    ("电费转了三次都没到账 营业厅现在还让我再转一次", "none"),
    ("暖气费我都汇了两回了 他们现在还催我交", "none"),
    # A counted transfer to a stranger with more asked now: still the fraud's mark.
    ("网上认识的男朋友 我已经转了四次钱了 他现在还让我转", "110"),
])
def test_review118_a_bill_paid_twice_is_no_fraud(text: str, service: str) -> None:
    assert classify(text, _emerg36.load_rules()).emergency == service, _cues(text)
