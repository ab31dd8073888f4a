"""review112: kb42's rules read against complaints — 还没办 where the office is late, the
office an entry of redress sends the caller to failing them, and which entries are of
redress. docs/knowledge.md, "Thirty-fourth round (kb42)", "review112". The sentences are
this review's own.
"""

from __future__ import annotations

import pytest

from knowledge.search import Doc, Index, complaint_words
from tests.knowledge.test_search_round32 import assert_unanswered


@pytest.mark.parametrize("text", [
    # 还没办 with nothing after it: the office has not done it yet (the caller applied).
    "营业执照交了申请半个月还没办，去哪儿问问",
    "老年卡申请了俩月社区还没办，找谁",
    "派出所到现在还没办呢",
    # Said without a pause, as a recogniser writes it: the next clause is no object.
    "老年卡申请了俩月社区还没办找谁",
])
def test_not_yet_done_by_the_office_is_a_complaint(text: str) -> None:
    assert complaint_words(text) == {"还没"}


@pytest.mark.parametrize("text", [
    "营业执照交了申请半个月还没办，去哪儿问问",
    "老年卡申请了俩月社区还没办，找谁",
    # The office an entry of redress sends the caller to was tried and did nothing: the
    # caller's complaint is about it now, and reading the entry sends them back there.
    "商家不给退款，打了12315也没人管，现在怎么办",
    "工资拖着不给，劳动监察也不管，还能怎么办",
    "仲裁委拖着不给立案，怎么办",
])
def test_the_office_failing_the_caller_stays_a_ticket(index: Index, text: str) -> None:
    assert_unanswered(index, text)


def _entry(id_: str, title: str) -> Doc:
    return Doc(id=id_, title=title, category="other", answer="可以拨打热线或者在App上反映。",
               keywords=())


@pytest.mark.parametrize(("title", "redress"), [
    # A title naming a channel of complaint or a dispute: where a wronged caller turns.
    ("物业乱收费去哪儿投诉", True),
    ("和物业有纠纷怎么调解", True),
    # A title naming a broken thing or a nuisance teaches a repair or a rule: the wrong a
    # caller tells it (路灯坏了半个月了，一直没人修) is a complaint to file, as before kb42.
    ("路灯坏了找谁报修", False),
    ("装修噪音扰民怎么处理", False),
    ("楼道灯一直不亮怎么办", False),
])
def test_redress_is_a_title_naming_a_complaint_or_a_dispute(title: str, redress: bool) -> None:
    assert Index([_entry("x001", title)]).redress == [redress]
