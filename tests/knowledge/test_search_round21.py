"""The twenty-first round: the matter asked must be one the entry speaks of, and a caller
who denies the situation its title states is not answered from it.

kb_fresh15's false answers shared the thing with their entry and asked another matter of
it: repaying the loan the entry says how to apply for, the fine for sorting rubbish the
entry says how to sort, replacing an identity card that has not expired with the entry on
one that is about to. Probes written for this round (none from shared/ or bench/data)."""

from __future__ import annotations

import pytest

from knowledge import search
from knowledge.search import (
    Index,
    asked_matters,
    confidence,
    denied_words,
    load_matters,
    worth_confirming,
)
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "matters"), [
    ("住房公积金贷款能不能提前还清", {"repay"}),
    ("居住证不签注会被罚吗", {"fine"}),
    ("养老助残卡坏了刷不出来，去哪修", {"repair"}),
    ("营业执照想转让给亲戚怎么办", {"hand_over"}),
    # A single character only as a verb of its own, never inside another word.
    ("小区的树我自己修剪一下行吗", set()),
    ("我爸退休了想办老年卡", set()),
    # As said: 重新办 is no 补办 (the synonyms file would make it one).
    ("护照过期了想重新办一本", set()),
])
def test_the_matter_named(text: str, matters: set[str]) -> None:
    assert asked_matters(text) == matters


def test_the_shipped_matters_are_read() -> None:
    matters = load_matters(search.MATTERS_FILE)
    assert "罚款" in matters["fine"] and "提前还" in matters["repay"]


@pytest.mark.parametrize(("text", "near"), [
    ("用公积金贷款买的房，贷款想提前还清，怎么申请？", "kb016"),
    ("公积金贷款买房的钱能提前还款吗，去哪申请", "kb016"),
    ("养老助残卡刷不了了，社区能给修吗", "kb010"),
    ("个体户营业执照能转让给别人吗", "kb012"),
])
def test_another_matter_of_the_thing_is_neither_answered_nor_offered(
        index: Index, text: str, near: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near and r.features["unmatched"] == 1.0
    assert r.answer is None and r.hits[0].confidence == 0.0
    assert worth_confirming(r, 0.3) is None
    # Without the rule the entry would have been read out.
    assert confidence(dict(r.features, unmatched=0.0)) >= search.DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("text", "entry"), [
    # The entry speaks of the matter, in the caller's word or another of it.
    ("身份证丢了怎么挂失", "kb004"),
    ("换了单位公积金怎么转到新单位", "kb017"),
    ("交通违章的罚款在哪交", "kb047"),
    ("小区的树我自己修剪一下行吗", "kb046"),
])
def test_the_entrys_own_matter_still_answers(index: Index, text: str, entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == entry
    assert not r.features["unmatched"]


def test_the_words_denied() -> None:
    # 没过期 is respelt 没到期 first: the entries' word.
    assert "到期" in denied_words("身份证还没过期，能先换个新的吗")
    assert denied_words("身份证快过期了去哪换") == frozenset()


def test_a_situation_denied_that_the_title_states_is_only_offered(index: Index) -> None:
    r = index.search("身份证还没过期，能先换个新的吗", today=TODAY)
    assert r.hits[0].id == "kb003" and r.features["denied"] == 1.0
    assert r.answer is None and r.hits[0].confidence <= search.UNASKED_CAP
    assert confidence(dict(r.features, denied=0.0)) >= search.DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize(("text", "entry"), [
    # The entry denies it itself (没有单位的灵活就业).
    ("没有单位的人社保怎么自己交", "kb020"),
    ("身份证快过期了去哪换", "kb003"),
])
def test_a_situation_the_entry_states_still_answers(index: Index, text: str,
                                                   entry: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == entry
    assert not r.features["denied"]
