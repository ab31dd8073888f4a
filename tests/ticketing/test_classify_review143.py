"""review143: emerg52's `[heard_as] spellings` read calm calls as danger.

A trade or work verb before 着货/着活 (补着货呢, 盘着货呢, 扣着货呢, 跑着活呢) is no fire; the
verbs cannot be listed (emerg52's list missed these and many more), so a fire's spelling is read
only after what burns or an adverb (饭馆着货了, 仓库着伙了, 万一着伙了). 打伙花 + a sum is money
spent together; 晕车 told after 抽出 is no fit. Sentences of our own: bench/data/review143_own.tsv
and below.
"""

from __future__ import annotations

import pytest

from tests.ticketing import test_classify_emerg36 as _emerg36
from tests.ticketing import test_classify_emerg45 as _emerg45
from tests.ticketing.test_classify_urgent import _danger_cues as _cues
from ticketing import classify as C
from ticketing.classify import classify

shipped = _emerg36.shipped

CALM = [
    "我在网上买的东西 卖家说仓库正在补着货呢 都半个月了还不发货 我要投诉",
    "超市晚上理着货呢 推车堵在消防通道上 我就想反映一下",
    "我们店里在盘着货呢 房东突然把电停了 这合理吗",
    "海关扣着货呢 说手续不全 我想问问去哪个部门办",
    "我正跑着活呢 乘客把手机落我车上了 想问问怎么交给失主",
    "我在超市推着货的时候 被一个小孩撞了一下 没啥事 就是想投诉超市通道太窄",
    "物流公司收着货了 但是一直不给我签收单",
    "那个商家说在配着货呢 结果三天都没发",
    "车间里清着货呢 老板说这个月工资晚几天发",
    "我们几个打伙花五百块包了个车 结果司机半路把我们扔下了",
    "出租车司机在车上抽出一根烟就点 我说我晕车他也不管 我要投诉",
]


@pytest.mark.parametrize("text", CALM)
def test_review143_a_calm_spelling_is_no_danger(shipped, text: str) -> None:
    assert classify(text, shipped[0]).urgency != "urgent", (text, _cues(text))
    _emerg45.assert_handed_or_kept(shipped, text, "none")


@pytest.mark.parametrize(("text", "service"), [
    ("喂喂 我家对面那个仓库着伙了 好大的烟 在回龙观", "119"),
    ("喂 那个 楼下小饭馆着活了 火苗都窜出来了 快来人啊", "119"),
    ("阳台着货了 窗帘都烧起来了 我家在三楼", "119"),
    ("刚才还好好的 突然着伙了 整个屋子都是烟", "119"),
])
def test_review143_a_fire_spelled_after_what_burns_is_handed_over(
    shipped, text: str, service: str,
) -> None:
    _emerg45.assert_handed_or_kept(shipped, text, service)


def test_review143_the_spelling_reads_after_a_place_not_a_verb() -> None:
    rules = _emerg36.load_rules()
    assert C._heard("阳台着货了", rules) == "阳台着火了"
    # A word's start, as a recogniser spaces words, is no verb's 着.
    assert C._heard("楼下饭馆 着货了", rules) == "楼下饭馆 着火了"
    assert C._heard("着伙了 快来", rules) == "着火了 快来"
    assert C._heard("仓库正在补着货呢", rules) == "仓库正在补着货呢"
    # The model alone hands this one to 110, on main too: only the spelling is held here.
    assert C._heard("快递站正在分着货呢", rules) == "快递站正在分着货呢"
    assert C._heard("我们打伙花五百块", rules) == "我们打伙花五百块"
