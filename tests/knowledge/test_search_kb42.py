"""kb42: questions in the caller's own words — a verb and its object split by 了 and a
measure word, the wrong told to an entry of redress, the act asked said with another word
of its matter, 还没 before the caller's own step, and callers' names for a thing.
docs/knowledge.md, "Thirty-fourth round (kb42)". The sentences are this round's own, not
lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import Index, complaint_words
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out
from tests.knowledge.test_search_round32 import assert_unanswered


@pytest.mark.parametrize(("text", "words"), [
    ("我还没办过护照，第一次办要带什么？", set()),
    ("家里的狗还没办证，现在办要带什么", set()),
    # The office's delay: 还没 before a result waited for.
    ("护照办了一个月还没办下来", {"还没"}),
    ("身份证补办了半个月还没办好", {"还没"}),
    ("暖气到现在还没来", {"还没"}),
])
def test_not_yet_before_the_callers_own_step_is_no_complaint(text: str, words: set[str]) -> None:
    assert complaint_words(text) == words


@pytest.mark.parametrize(("text", "entry"), [
    # 买了套房子 is 买房 said with 了 and a measure word: the purchase entry, not the
    # rent one that ranked first on 公积金 and 取出来 alone.
    ("我刚在通州买了套房子，公积金能取出来吗？", "kb015"),
    # 改 says the matter of 变更 (alter), which the designated-hospital entry speaks of.
    ("我的医保定点医院选错了一家，怎么改？", "kb029"),
    # The wrong told (他不给加班钱) is the situation the arbitration entry answers.
    ("和老板闹僵了，他不给加班钱，我想讨个说法，该走什么程序？", "kb025"),
    # Callers' names: 普惠园 (the kindergarten); 并过来 of a record is 转移 (synonyms).
    ("附近的普惠园怎么报名？", "kb031"),
    ("在河北交了五年社保，现在来北京上班了，能并过来吗？", "kb021"),
])
def test_read_out_in_the_callers_words(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_the_wrong_told_to_an_entry_of_redress_is_no_complaint(index: Index) -> None:
    r = index.search("和老板闹僵了，他不给加班钱，我想讨个说法，该走什么程序？", today=TODAY)
    assert r.hits[0].id == "kb025" and r.features["complaint"] == 0.0


@pytest.mark.parametrize("text", [
    # The step was taken and failed: a ticket, as before.
    "仲裁都赢了，公司还是不给钱，怎么办？",
    # Blame words still count against an entry of redress.
    "凭什么不给我加班费，我要仲裁找谁？",
    # 还没 waiting on the office stays a complaint.
    "居住证交上去一个月了还没办下来，还要多久？",
])
def test_near_misses_stay_tickets(index: Index, text: str) -> None:
    assert_unanswered(index, text)


def test_blame_still_counts_against_an_entry_of_redress(index: Index) -> None:
    r = index.search("凭什么不给我加班费，我要仲裁找谁？", today=TODAY)
    assert r.hits[0].id == "kb025" and r.features["complaint"] == 1.0
