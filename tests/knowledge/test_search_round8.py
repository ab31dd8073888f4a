"""The eighth round: question forms and complaint forms a caller's words take, and what
callers call a few more topics. Shipped weights and threshold; phrasings written for this
(none from shared/ or bench/data)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from knowledge.search import (
    ANSWER_CREDIT,
    EVIDENCE_WORDS,
    Index,
    confidence,
    is_question,
    normalise,
    said_of_entry,
    worth_confirming,
)

TODAY = date(2026, 12, 2)
PROBES = Path(__file__).with_name("probes.tsv")


def _probe(text: str) -> dict[str, str]:
    with PROBES.open(encoding="utf-8") as f:
        return next(r for r in csv.DictReader(f, delimiter="\t") if r["text"] == text)


@pytest.mark.parametrize("text", [
    "电费单上写着用了这么多度电",  # 这么/那么/多么: degree, not a question's 么
    "我家平时根本用不了那么多",
    "这水多么脏",
    "要么你们派人来看看",
])
def test_degree_words_ending_in_me_ask_nothing(text: str) -> None:
    assert not is_question(text)


@pytest.mark.parametrize("text", ["这么多材料要准备什么", "那么去哪儿办呢", "电费怎么交"])
def test_a_real_question_word_beside_them_still_asks(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize("text", [
    "居住证去派出所办还是去街道办",  # the same verb closes both choices
    "公积金提取去银行办还是去管理中心办",
    "孩子医保在学校交还是回社区交",
])
def test_a_choice_closed_by_the_same_word_is_a_question(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize("text", [
    "交了暖气费还是不热",  # 还是 "still", before a negation
    "说了好几遍还是把账单寄来了",  # "still": nothing parallel closes it
    "修好了还是漏水",
])
def test_still_is_no_choice(text: str) -> None:
    assert not is_question(text)


@pytest.mark.parametrize("said", ["这是什么道理", "这是啥道理", "你们帮我催一下", "能不能催催"])
def test_asking_for_a_reason_or_a_hurry_is_blame(index: Index, said: str) -> None:
    r = index.search(f"暖气费交了还停暖{said}", today=TODAY)
    assert r.features["blame"] == 1.0


@pytest.mark.parametrize("text", [
    "这个月电费单上写着用了这么多度电，我家平时根本用不了那么多",
    "燃气费明明交过了还给我停气，这是什么道理",
    "孩子上户口的材料交上去一个月了，你们帮我催一下行吗",
])
def test_complaints_of_this_round_are_neither_answered_nor_offered(index: Index,
                                                                    text: str) -> None:
    assert _probe(text)["type"] == "complaint"
    r = index.search(text, today=TODAY)
    assert r.answer is None
    assert worth_confirming(r, 0.3) is None


@pytest.mark.parametrize(("said", "word"), [
    ("我们打算把证领了", "我们打算领证"),
    ("网上那家店家不给退", "网上那家商家不给退"),
    ("工钱没给", "拖欠工资"),
    ("我该去哪儿告他", "我该去哪儿投诉"),
])
def test_spoken_phrases_of_this_round(said: str, word: str) -> None:
    assert normalise(said) == word


@pytest.mark.parametrize("text", [
    "想租政府给困难家庭的那种便宜房子，得什么条件",
    "出国用的那个本子过期了上哪换",
    "我们下个月想把证领了，去哪儿领",
    "想开个小铺子卖早餐，先得办什么照",
    "我爸退休去外地养老了，北京的医保在那边能用吗",
    "老板工钱没给，我去哪儿告他",
])
def test_callers_words_of_this_round_are_answered_from_their_entry(index: Index,
                                                                   text: str) -> None:
    row = _probe(text)
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == row["expect"]


@pytest.mark.parametrize("text", ["离婚手续去哪儿办要预约吗"])
def test_questions_no_entry_answers_of_this_round(index: Index, text: str) -> None:
    assert _probe(text)["expect"] == ""
    assert index.search(text, today=TODAY).answer is None


@pytest.mark.parametrize("text", ["离婚手续去哪儿办要预约吗", "驾驶证到期了怎么换",
                                  "免费体检在哪里做", "领养老金要带什么材料"])
def test_a_short_question_that_left_out_its_topic_is_not_offered(index: Index,
                                                                 text: str) -> None:
    """Under the threshold and short: the caller asked of something the best entry is not
    about, and "did you mean <title>?" would offer the neighbouring topic."""
    assert _probe(text)["expect"] == ""
    r = index.search(text, today=TODAY)
    # In the band, yet: the ninth round's object rule sets 领养老金's confidence to 0
    # (养老金 against the 高龄津贴 entry); this rule must hold without it.
    assert r.answer is None and confidence({**r.features, "other_object": 0.0}) >= 0.3
    assert said_of_entry(r.features) <= EVIDENCE_WORDS
    assert worth_confirming(r, 0.3) is None


def test_a_story_that_says_much_of_its_entry_is_still_offered(index: Index) -> None:
    r = index.search("我去年在天津那边的公司上了三年班交了社保今年换到北京这边的单位了"
                     "之前交的社保能转到北京来吗", today=TODAY)
    assert r.answer is None and r.hits[0].id == "kb021"
    assert said_of_entry(r.features) > EVIDENCE_WORDS
    assert worth_confirming(r, 0.3) == r.hits[0]


def test_what_was_said_counts_answer_only_words_at_their_credit() -> None:
    f = {"said": 3.0, "said_answer": 2.0}
    assert said_of_entry(f) == pytest.approx(3.0 - (1 - ANSWER_CREDIT) * 2.0)
    assert said_of_entry(f, answer_credit=1.0) == pytest.approx(3.0)
    assert said_of_entry({}) == 0.0
