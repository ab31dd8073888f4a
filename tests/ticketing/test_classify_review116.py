"""Review116: do emerg47's luring, following, falls and fraud rules hold for other wordings?

Sentences of our own (written for the review, not taken from any data file). emerg47's new
cues (a following, a leg 折了) are silenced by the not-now guards it touched (`over`'s count,
`ahead`'s 这要), and a silenced cue marks the call and stops the model's hand-over: a count of
the caller's own tries (打了三次一二零, 绕了两回小区, 回头看了他好几次) or an exclamation
(这要出事了) beside a danger now lost the hand-over the model alone had made on main.
docs/classification.md, "Review116".
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing.classify import classify

shipped = _emerg36.shipped


@pytest.mark.parametrize(("text", "service"), [
    # A count of the caller's own tries (calls, knocks, turns, looks) is no past danger.
    ("我爸从梯子上摔下来 腿摔折了 我打了三次一二零都占线", "120"),
    ("我绕了两回小区 那个男的一直跟在我后面", "110"),
    ("有个男的一直跟着我 我回头看了他好几次 他也不走", "110"),
    ("有个男的一直跟着我 我拨了好几次我老公电话都没人接", "110"),
    ("我妈在厨房滑倒了 站不起来 我敲了好几次门邻居都不在", "120"),
    # A danger counted stays over, and a beating counted is one too.
    ("电梯上个月困了我两回 今天总算修好了 想投诉一下物业", "none"),
    ("前年我从梯子上摔下来胳膊骨折过 现在阴天还疼 想问问能不能算工伤", "none"),
    # 这要 said as an exclamation beside a danger now is no supposition.
    ("这要出事了 他拿着刀在楼道里砍人", "110"),
    ("这要出事了 有个男的一直跟着我 现在就在我身后", "110"),
    ("这要出大事了 煤气罐一直在漏气 呲呲响", "119"),
    # A supposition with its consequence asked stays quiet (emerg47's, heldout-5's).
    ("这要着火了可怎么办 楼道里堆满了杂物 物业也不管", "none"),
    ("小区门口那个井盖松了好几天了 这要出事谁负责啊", "none"),
    # A fee paid on a pretext (a prize, a part-time job) and more asked now: no 骗 said yet.
    ("说我中奖了先交税 我已经交了一千五 现在他们还在催我交两千的公证费", "110"),
    ("网上找的兼职 让我先交了三百的押金 付完了又让我交会员费 他还在微信上一直催我", "110"),
    ("手机上说我中了奖 让我交了五百的激活费 交完又让我交一千 电话还没挂", "110"),
    # A bill paid and another asked is no fraud.
    ("物业让我交了物业费 现在又让我交电梯维修费 这合理吗", "none"),
    ("健身房让我交了年卡的钱 现在又让我交私教费 不交就不给上课", "none"),
])
def test_review116_a_guard_silences_no_danger_now_and_a_pretext_marks_a_fraud(
    shipped, text: str, service: str,
) -> None:
    # emerg45's check: the rules name the service themselves, and the system agrees (a
    # silenced cue's mark would stop the model's hand-over).
    _emerg45.assert_handed_or_kept(shipped, text, service)


@pytest.mark.parametrize(("text", "service"), [
    # Blood told first, then its flow (血一直在流, 血还在往下淌).
    ("我爸摔了一跤 头磕在台阶上 血一直在流", "120"),
    ("我邻居切菜把手切了个大口子 血还在淌 按不住", "120"),
    ("我爸在地里摔了一跤 血一直在流 这要出人命了", "120"),
    ("我来例假了 血一直在流 想问问社区医院几点开门", "none"),
    # A following told with 尾随, 盯梢, 一路跟到, 跟了我…街.
    ("我下了夜班有个男的一直尾随我 从公交站跟到小区门口了 我现在在保安亭里不敢出去", "110"),
    ("那个 我感觉有人在盯梢我 从超市出来就在后面 我走快他也走快 现在我躲在一个饭店里", "110"),
    ("有个人一路跟到我们楼下 我女儿吓得跑上楼 他现在还在单元门口转悠", "110"),
    ("我一个人走夜路 后面有个男的跟了我三条街了 我停他也停 现在还在后面", "110"),
    ("前几天有个男的尾随我到小区门口 后来就走了 小区门禁老是坏 能不能让物业修一下", "none"),
    ("我们小区的流浪狗老是一路跟到单元门口 能不能管管", "none"),
    # A stranger leading a child off by the hand or in the arms, or telling it to come along,
    # held now (written after the rule, beside the review's own lines).
    ("有个不认识的大妈牵着我们小区一个小女孩往小区外面走 小女孩一直回头哭 我们几个邻居把她围住了", "110"),
    ("有个陌生人让我儿子跟他去看小狗 我正好出来看见 现在把他堵在楼道里了", "110"),
    ("有个冒充孩子姥爷的人要把我们班一个小朋友接走 我们门卫把他拦住了", "110"),
    ("那个人拉着别人家孩子往车那边走 孩子妈一把扯住她了 她还想挣开", "110"),
    ("公园里一个老头一直拉着我孙子的手往外走 孙子哭着喊奶奶 我追上去把人扯住了 他还想挣开跑", "110"),
    # The caller's own child led out, or a stranger held in a past told.
    ("我拉着孩子往外走 保安把我拦住了 说要登记 太耽误事了 想投诉", "none"),
    ("我抱着孩子往医院跑 路上被交警拦住了 想问问这种情况能不能放行", "none"),
    ("上周有个不认识的女的牵着一个小孩在我们楼下转悠 后来被保安拦住问了 原来是新来的保姆", "none"),
])
def test_review116_the_rules_read_the_situation_not_the_sentence(text: str, service: str) -> None:
    got = classify(text, _emerg36.load_rules())
    assert got.emergency == service, _cues(text)

