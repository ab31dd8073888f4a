"""kb27: an entry's answer (up to 2,000 characters) is read on the telephone in parts of
whole sentences (``ivr.kb_answer.answer_parts``), "继续收听请按3…" after each but the last;
SIP and Twilio read by the same rule (their calls: tests/ivr/test_dialogue_kb.py,
tests/twilio/test_twilio_parity.py). No socket here."""

from __future__ import annotations

import csv

import pytest

from config.settings import Settings
from ivr.decisions import AfterAnswer, after_answer
from ivr.kb_answer import answer_parts
from tests.conftest import SHARED

LIMIT = 120


def test_every_sample_answer_is_one_part_read_as_before() -> None:
    rows = list(csv.DictReader((SHARED / "kb" / "faq.tsv").open(encoding="utf-8"),
                               delimiter="\t"))
    limit = Settings().ivr.kb_part_chars
    assert [answer_parts(r["answer"], limit) for r in rows] == [[r["answer"]] for r in rows]


def test_a_long_answer_is_cut_only_after_whole_sentences_up_to_the_limit() -> None:
    sentence = "办理时需要带上身份证原件和复印件，到户籍所在地街道办事处的社保窗口提交申请。"
    answer = sentence * 12  # 456 characters, nearly two minutes of speech
    parts = answer_parts(answer, LIMIT)
    assert "".join(parts) == answer
    assert all(p.endswith("。") and len(p) <= LIMIT for p in parts)
    assert [len(p) for p in parts] == [3 * len(sentence)] * 4


@pytest.mark.parametrize("answer", [
    # A figure with a decimal point, a range and a thousands comma: never a place to cut.
    "补贴标准为每人每月1,320.5元，" + "按季度发放到社保卡，逾期未领取的可以补领，" * 6 + "详情咨询街道。",
    "服务热线12345全天受理，" * 12 + "谢谢。",
])
def test_a_sentence_longer_than_the_limit_is_read_whole(answer: str) -> None:
    """No sentence's end within the limit: the sentence whole (a half sentence, a number
    cut in two, misleads more than a long part)."""
    assert answer_parts(answer, LIMIT) == [answer]


def test_a_short_rest_is_read_with_the_part_before_it() -> None:
    """A key press to hear one short sentence costs more than hearing it."""
    long = "甲" * 100 + "。"
    assert answer_parts(long + "乙" * 20 + "。", LIMIT) == [long + "乙" * 20 + "。"]
    assert answer_parts(long + "乙" * 40 + "。", LIMIT) == [long, "乙" * 40 + "。"]


def test_closing_quotes_and_list_semicolons() -> None:
    answer = "第一步，登录“北京人社”App。" + "甲" * 80 + "；" + "乙" * 60 + "！"
    parts = answer_parts(answer, LIMIT)
    assert parts[-1] == "乙" * 60 + "！" and "".join(parts) == answer
    quoted = "请拨打“12345。”" + "丙" * 110 + "。"
    assert answer_parts(quoted, LIMIT) == ["请拨打“12345。”", "丙" * 110 + "。"]


@pytest.mark.parametrize("key,more,choice", [
    ("3", True, AfterAnswer.MORE), (None, True, AfterAnswer.MORE), ("", True, AfterAnswer.MORE),
    ("1", True, AfterAnswer.RESOLVED), ("2", True, AfterAnswer.TICKET),
    ("0", True, AfterAnswer.OPERATOR),
    # After the last part (or a whole answer) nothing is left: 3 and no key are "2".
    ("3", False, AfterAnswer.TICKET), (None, False, AfterAnswer.TICKET),
    ("1", False, AfterAnswer.RESOLVED),
])
def test_the_key_after_a_part(key: str | None, more: bool, choice: AfterAnswer) -> None:
    assert after_answer(key, more=more) is choice


@pytest.mark.parametrize("inside", [
    "https://rsj.beijing.gov.cn/query?type=1&id=2",  # a URL's query
    "010-12345678;8001",  # a number and its extension
    "12345!",  # said as written, then the sentence goes on
])
def test_an_ascii_mark_inside_a_url_or_a_number_is_no_place_to_cut(inside: str) -> None:
    """review55: the cut was also after ASCII ! ? ; and at line breaks, so a URL was cut at
    its ? and read in two parts; docs/ivr.md says 。！？；. An ASCII mark ends a sentence
    only before a space or the end."""
    sentence = f"可以登录或拨打{inside}查询办理进度，" + "甲" * 100 + "。"
    answer = "乙" * 60 + "。" + sentence + "丙" * 60 + "。"
    assert answer_parts(answer, LIMIT) == ["乙" * 60 + "。", sentence, "丙" * 60 + "。"]


def test_an_ascii_question_mark_before_a_space_or_the_end_is_a_sentence_end() -> None:
    assert answer_parts("甲" * 100 + "? " + "乙" * 100 + "?", LIMIT) == [
        "甲" * 100 + "?", "乙" * 100 + "?"]
    assert answer_parts("甲" * 100 + "\n" + "乙" * 100 + "。", LIMIT) == [
        "甲" * 100 + "\n" + "乙" * 100 + "。"]  # a line break alone cuts nothing
