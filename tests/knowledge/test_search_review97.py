"""review97: kb40's move-up (an entry about the caller's object takes the place of a
best-ranked one about another) looks as deep for every ``limit``, and does not move up an
entry where the caller named the best one's object too (their question relates the two).
docs/knowledge.md, "Thirty-second round (kb40)", review97. The sentences are this review's
own, not lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import Index
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round32 import assert_unanswered


@pytest.mark.parametrize("text", [
    # The old-age card ranks first on 公交; the identity-card entries rank third to fifth.
    "身份证刷不出来了，坐公交进站刷不了",
    "坐公交身份证掉车上了，公交公司失物招领电话多少",
    "老年卡坐公交刷不了，身份证能代替吗",
])
@pytest.mark.parametrize("limit", [2, 3, 5, 20])
def test_every_limit_puts_the_same_entry_first_as_the_ivr(
        index: Index, text: str, limit: int) -> None:
    """The IVR asks for one hit, the console for 3, the API and the CLI for 5 by default
    (up to 20): the caller must meet the same best entry on each."""
    one = index.search(text, today=TODAY, limit=1)
    many = index.search(text, today=TODAY, limit=limit)
    assert many.hits[0].id == one.hits[0].id, (one.hits, many.hits)
    assert (many.answer and many.answer.id) == (one.answer and one.answer.id)
    assert many.features == one.features


@pytest.mark.parametrize("text", [
    # The caller names the drawing after a purchase (the best entry's object) and asks
    # whether it repays the loan: the loan entry tells how to apply for one.
    "买房以后提取公积金，还能用来还贷款吗",
    "买房时提取了公积金，剩下的能不能拿去还贷款",
    # 商转公 names the loan, 买的房子 the purchase: the drawing entry answers neither.
    "想把商业贷款转成公积金贷款，就是商转公，买的房子已经住了两年了怎么办",
])
def test_no_entry_moves_up_when_the_caller_named_the_best_ones_object_too(
        index: Index, text: str) -> None:
    # kb40's own cases, where the caller names only the loan or the identity card, still
    # move up: test_search_round40.
    assert_unanswered(index, text)
