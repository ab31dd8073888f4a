"""Twenty-seventh round (kb29): questions ``is_question`` missed, and unanswerable questions
read out from an entry fitted to another matter of the same topic. docs/knowledge.md,
"Twenty-seventh round (kb29)". The sentences are this round's own (bench/data/kb_own29.tsv
and the calm complaints below), not lines of a bench file.

- 那 said or heard for 哪 (结婚登记在那办), a guess put to confirm (公积金转移不用跑吧, 得本人
  去吧), 归谁管: questions; a calm complaint with 那, 吧 or 哪 in it stays no question, and
  no entry is read or offered for it.
- A thing lost or stolen, an earlier request hurried, a late fee, a price called too high,
  a step taken that still failed (还是不行): an entry that never speaks of it answers
  another matter; not read out.
"""

from __future__ import annotations

import pytest

from config.settings import Settings
from knowledge.search import Index, is_question, worth_confirming
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out

CONFIRM_FROM = Settings().ivr.kb_confirm_from


@pytest.mark.parametrize("text", [
    "结婚登记在那办", "身份证快到期了，在那换", "养老助残卡丢了上那补", "电费在那交",
    "那个社保卡在那补办啊", "公积金转移不用跑吧", "新生儿上户口得本人去吧", "个税汇算能在网上办吧",
    "还得交钱吧", "这个能网上办吧", "这事儿归谁管",
])
def test_northern_and_slipped_questions_ask(text: str) -> None:
    assert is_question(text)


# Calm complaints with 那, 吧 (and two with 哪, questions by their word already on main):
# none may be read an entry or offered one.
CALM = [
    "我都去那办了三回了，每次都说材料不全", "窗口让我去那办，去了又让我回来", "这也太不方便了吧",
    "物业收这么多钱，说不过去吧", "垃圾堆在那好几天了没人清", "我家楼下的车天天停在那，堵着路",
    "都快一个月了，也该给个答复了吧", "楼上装修天天砸墙，这也不是办法吧",
    "我就是在那办的，结果证上名字写错了", "社区说得去街道办，街道又说不归他们管",
    "上回在那补的卡又坏了", "那边窗口一直没人，我在那等了一上午", "这事总得有人管吧",
    "停车收费也太乱了吧", "你们这服务热线也太难打通了吧", "每次去都让我跑好几趟，不能一次说清楚吧",
    "我在那交了钱也没给收据", "暖气片在那摆着一点都不热",
]


@pytest.mark.parametrize("text", CALM)
def test_a_calm_complaint_with_na_or_ba_is_no_question(text: str) -> None:
    assert not is_question(text)


@pytest.mark.parametrize("text", [*CALM, "你们工作人员那态度，哪像办事的",
                                  "排了一上午队，最后说不归他们管，这叫哪门子服务"])
def test_a_calm_complaint_is_neither_read_out_nor_offered(index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, CONFIRM_FROM) is None, r.hits[:1]


@pytest.mark.parametrize(("text", "entry"), [
    # Missed or read with less confidence on main: no question word.
    ("公积金转移不用跑吧", "kb017"), ("养老助残卡丢了上那补", "kb010"),
    ("新生儿上户口得本人去吧", "kb007"), ("个税汇算能在网上办吧", "kb011"),
    ("结婚登记在那办", "kb008"), ("电费在那交", "kb040"),
    # A loss the entry speaks of (丢, 偷, 补办) is still its question.
    ("我的身份证昨天弄丢了，去哪补？", "kb004"), ("老人的养老助残卡遗失了，在哪儿补办？", "kb010"),
])
def test_the_question_is_read_its_entry(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "entry", "feature"), [
    # Lost or stolen, against an entry on getting the thing the first time or paying.
    ("户口本丢了，给孩子上户口还能办吗", "kb007", "unmatched"),
    ("采暖费收据丢了能补开吗", "kb035", "unmatched"),
    ("养狗的犬证遗失了咋办", "kb050", "unmatched"),
    ("结婚证丢了去哪补", "kb008", "unmatched"),
    # A late fee, against an entry on paying the fee or the fine.
    ("燃气费晚交了有违约金吗", "kb042", "unmatched"),
    ("违章罚款交晚了，滞纳金能免吗", "kb047", "unmatched"),
    # An earlier request hurried.
    ("我在12315投诉的事到现在也没消息，能催办吗", "kb013", "unmatched"),
    # A price called too high: a verdict asked, as 合理吗.
    ("物业收的装修垃圾清运费太贵了，有没有收费标准", "kb045", "blame"),
    ("路边停车一小时收二十，是不是太贵了", "kb048", "blame"),
    # The step taken, and it still failed.
    ("违章复核了还是不行，还能找谁", "kb047", "unmatched_loose"),
])
def test_another_matter_of_the_topic_is_not_read_out(index: Index, text: str, entry: str,
                                                     feature: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == entry and r.features[feature] == 1.0, (r.hits[:1], r.features)
    assert r.answer is None
