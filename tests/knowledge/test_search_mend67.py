"""mend67 (review68's findings in kb29's merge; docs/knowledge.md, "Mends (twenty-seventh
round, mend67, review68)"). Precision over coverage: where a call may be a complaint it is
filed, not read an entry.

- A demand put to someone else (物业应该来修一下吧) is no guess put to confirm; the caller's
  own going (不用跑吧, 得本人去吧) still is.
- 那 for 哪 asks only where its clause is a question, not in a story (我昨天去那交，…).
- "Whoever I ask" (我问谁谁都说不知道) asks nobody.
- 丢了 of a job, 催 of a bill collector name no lost thing, no hurried request.
- A failed step with another way asked (…还是不行，能去派出所办吗) is the entry's question.
The lines are review68's (/tmp/review68), not a bench file's.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from knowledge.search import Index, is_question, worth_confirming
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out

CONFIRM_FROM = Settings().ivr.kb_confirm_from

DEMANDS = [
    "树枝挡着我家窗户好几个月了，园林的应该来修剪一下吧", "工资拖了半年了，劳动监察应该去处理一下吧",
    "小区停车乱收费，你们应该去查一下吧", "楼上漏水都泡了我家天花板了，物业应该来修一下吧",
    "垃圾都堆了三天了，总得来人清一下吧", "这井盖丢了多危险啊，你们要去看看吧",
]
STORIES = [
    "我昨天去那交，营业厅说电费户号不对", "上礼拜我去那交电费，排了一上午队，最后说不收现金",
    "租房提取公积金的事，我问谁谁都说不知道，踢皮球", "公租房的事我问谁谁都推，说不归他们管",
]


@pytest.mark.parametrize("text", [*DEMANDS, *STORIES])
@pytest.mark.parametrize("pauses", [True, False])
def test_a_demand_or_a_story_is_no_question(text: str, pauses: bool) -> None:
    said = text if pauses else "".join(c for c in text if c.isalnum())
    assert not is_question(said)


@pytest.mark.parametrize("text", [*DEMANDS, *STORIES])
def test_a_demand_or_a_story_is_neither_read_out_nor_offered(index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, r.hits[:1]


@pytest.mark.parametrize("text", [
    "我不用跑吧", "得本人去吧", "办护照得去一趟吧", "这事该问谁", "这个问谁啊",
    "结婚登记在那办。", "身份证丢了上那补啊，要带啥", "电费在那交？",
])
def test_the_callers_own_guess_or_where_still_asks(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize(("text", "entry"), [
    # 丢了 of a job, not a thing an office replaces.
    ("我工作丢了，失业金怎么领", "kb026"), ("工作丢了能领失业金吗", "kb026"),
    # 催 of a bill collector: the caller asks how to pay.
    ("物业催我交采暖费了，在哪交", "kb035"), ("供热公司催费了，采暖费能在网上交吗", "kb035"),
    # A failed step, another way asked: the entry says it (也可以…到居住地派出所办理).
    ("App上签注居住证一直还是不行，能去派出所办吗", "kb002"),
])
def test_the_question_is_read_its_entry_again(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize("text", [
    "投诉了一个多月了，这个能催吗", "我护照办了一个月了还没下来，能催吗", "结婚证丢了，能补不",
    "护照丢了咋办", "已经复核了还是不行，还能怎么办", "已经复核了还是不行，还能去哪",
])
def test_a_hurried_request_a_lost_thing_or_a_failure_is_still_not_read(index: Index,
                                                                        text: str) -> None:
    assert index.search(text, today=TODAY).answer is None
