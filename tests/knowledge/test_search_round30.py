"""Twenty-eighth round (kb30): a complaint, a nuisance or a lawsuit about an entry's
subject, read with the entry on how to do the thing; answerable questions said with the
caller's situation first and everyday verbs. docs/knowledge.md, "Twenty-eighth round
(kb30)". The sentences are this round's own (bench/data/kb_own30.tsv and the lines below),
not lines of a bench file.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from knowledge.search import Index, asked_matters, worth_confirming
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out

CONFIRM_FROM = Settings().ivr.kb_confirm_from


@pytest.mark.parametrize(("text", "matter"), [
    # Where to complain of a wrong done about the thing, against how to do it.
    ("幼儿园一学期收了三千多的赞助费，这是乱收费吧，找谁反映？", "complain"),
    ("物业多收了我两个月的采暖费，上哪儿说理去？", "complain"),
    ("养狗登记的时候被多收了一百块钱管理费，上哪儿说理去", "complain"),
    ("个税汇算的时候单位给我多报了收入，害我多交了税，去哪儿举报单位", "complain"),
    ("单位一直不给我交公积金，我想举报它", "complain"),
    # A nuisance: stopping it, against registering the dog or pruning the tree.
    ("楼下邻居家的狗天天半夜叫，吵得睡不着，这事找谁管？", "nuisance"),
    ("园林队修树枝大清早五点就开电锯，吵得全楼睡不着，找谁管", "nuisance"),
    ("垃圾站夏天臭得不行，找谁啊", "nuisance"),
    # Going to court after the step the entry teaches.
    ("劳动仲裁裁决我输了，我不服，还能去法院告吗？", "sue"),
])
def test_a_complaint_about_the_subject_is_neither_read_out_nor_offered(
        index: Index, text: str, matter: str) -> None:
    assert matter in asked_matters(text)
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, r.hits[:1]


@pytest.mark.parametrize(("text", "entry"), [
    # An entry that tells where to complain (投诉, 12315, 申诉) answers a complaint of its
    # own subject.
    ("我上周在网上买的衣服质量很差，商家不给退，去哪儿投诉？", "kb013"),
    ("老板三个月没发工资了，我该上哪儿告他？", "kb024"),
    ("路边停车收费员多收了我钱，能在哪儿申诉？", "kb048"),
])
def test_a_complaint_the_entry_tells_where_to_make_is_still_its_question(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)
