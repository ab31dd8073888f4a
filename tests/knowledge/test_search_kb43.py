"""kb43: needs told by the caller's situation — a hand-over told as done, an entry capped
for the thing asked giving its place to the next that names it, a day off asked of an
office, a size of the caller's own record they will look up, and callers' names (a dog
taken in, 看病的保险). docs/knowledge.md, "Thirty-fifth round (kb43)". The
sentences are this round's own, not lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import Index, asked_matters, asked_objects, quantities_asked
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out
from tests.knowledge.test_search_round32 import assert_unanswered


@pytest.mark.parametrize(("text", "told"), [
    ("二手房上个月刚过户，单位交的公积金现在怎么取？", False),
    ("房子已经过户完了，采暖费在哪交", False),
    ("买的旧房子过户了，暖气费交给谁", False),
    # Asked as the step, it is still the matter wanted done.
    ("营业执照能过户吗", True),
    ("个体户营业执照怎么过户给我弟弟", True),
])
def test_a_hand_over_told_as_done_is_no_matter_asked(text: str, told: bool) -> None:
    assert ("hand_over" in asked_matters(text)) is told


@pytest.mark.parametrize(("text", "entry"), [
    # Told as done, the hand-over no longer zeroes the entry the question asks.
    ("二手房上个月刚过户，单位交的公积金现在怎么取？", "kb015"),
    # 收养/小狗 name the dog licence's topic (config/kb_topics.toml).
    ("家里刚收养了一只小狗，要去哪登记？", "kb050"),
    # 看病的保险 is 医保 (config/kb_synonyms.toml): the residents' scheme for the jobless.
    ("我现在没有工作，看病的保险去哪儿交？", "kb030"),
    # A size of their own record the caller will look up: the entry that teaches looking
    # it up answers without stating a figure.
    ("我想查查我的车被拍了几回，驾照一共扣了多少分？", "kb047"),
])
def test_read_out_from_the_callers_situation(index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


def test_an_entry_lacking_the_thing_asked_gives_its_place_to_one_that_names_it(
        index: Index) -> None:
    # 买了套二手房 ranks the purchase drawing first; it has no 暖气费, the heating fee's does.
    assert_read_out(index, "买了套二手房，暖气费去哪交，是找原来的房东还是热力公司？", "kb035")


@pytest.mark.parametrize("text", [
    # A day off asked of an office whose entry states no days.
    "婚姻登记处礼拜六开门吗",
    "周日能去民政局领结婚证吗？",
    # Asked of the hotline, a price stays unanswered (查一下 is no lookup of one's own).
    "查一下停车费一小时多少钱",
    # Another entry than one that teaches looking up still needs its figure.
    "想查查我们楼维修资金账上还剩多少钱",
])
def test_near_questions_stay_tickets(index: Index, text: str) -> None:
    assert_unanswered(index, text)


def test_a_day_off_is_asked_only_as_the_whole_question() -> None:
    assert quantities_asked("婚姻登记处周末上不上班？") == {"day"}
    # When the cut comes: the caller asks where to look.
    assert quantities_asked("这周末是不是要停水，在哪能查到") == frozenset()


def test_a_preposition_before_the_question_word_leaves_the_thing_asked(index: Index) -> None:
    assert asked_objects("住房公积金的缴存比例由哪个部门来定？") == {"比例"}
    # No entry says who sets the ratio: never read out (the fund's entries are offered
    # at most, capped for 比例).
    assert index.search("住房公积金的缴存比例由哪个部门来定？", today=TODAY).answer is None
