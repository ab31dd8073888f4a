"""mend67 (review68): a detail asked is read first only where a sentence states it plainly.

- Whether the caller may: the sentence names the act asked too (能补办吗 is not answered by
  who may get the card the first time, 违章能办吗 not by a condition to pay online).
- A wait asked after 了 with its result (护照办了多久能拿到) is still a wait asked.
- Two details asked, one stated plainly by no sentence (护照多少钱，多久能拿到: kb005 names no
  fee): read from the start, never the one alone as if it were all.
The questions are review68's. One rule for SIP and Twilio (``ivr.kb_answer.answer_reading``).
"""

from __future__ import annotations

import pytest

from ivr import prompts as P
from knowledge.details import details_asked
from tests.ivr.test_kb_two_details import ENTRIES, reading


@pytest.mark.parametrize(("entry", "question"), [
    ("kb010", "养老卡丢了，能补办吗"),  # not 本市户籍满六十周岁的老人可以办理… first
    ("kb047", "违章能办吗"),  # not 符合条件的可以直接在App上处理并缴纳罚款 first
    ("kb005", "护照多少钱，多久能拿到"),  # no fee stated: not the wait alone
    ("kb050", "养狗登记在那办，要多少钱"),  # no fee stated: not the place alone
    ("kb005", "护照多少钱，多久能拿到".replace("，", "")),
])
def test_read_from_the_start(entry: str, question: str) -> None:
    e = ENTRIES[entry]
    parts = reading(entry, question)
    assert parts[0][0] == P.kb_intro_text(e["title"]), parts[0]
    assert e["answer"].startswith(parts[0][1])


@pytest.mark.parametrize("question", ["护照办了多久能拿到", "申请了多久能批下来"])
def test_a_wait_asked_after_le_is_a_wait(question: str) -> None:
    assert details_asked(question) == ("duration",)


def test_the_wait_is_read_first_after_le() -> None:
    e = ENTRIES["kb005"]
    (intro, words), *_ = reading("kb005", "护照办了多久能拿到")
    assert intro == P.kb_detail_intro_text(e["title"], ["duration"])
    assert words.startswith("一般七个工作日")


@pytest.mark.parametrize("question", ["交了多少年社保", "护照过期好几年了"])
def test_a_span_told_is_still_no_wait(question: str) -> None:
    assert "duration" not in details_asked(question)


def test_whether_with_its_act_named_is_still_read_first() -> None:
    # kb026: 非本人意愿中断就业、失业保险交满一年的，可以申领失业保险金 names 领.
    assert reading("kb026", "失业保险交满一年能领吗")[0][1].startswith("非本人意愿中断就业")
    assert reading("kb026", "失业保险交满一年能领吗")[0][0] != P.kb_intro_text(
        ENTRIES["kb026"]["title"])
