"""The twenty-second round: more matters of step 12 (stop, restore, appeal, a lapsed
deadline, enforcement, reporting, rescheduling, a dispute, a swap), 还 before a modal that
ends the question, the step asked after "how" read as its first word, and a verdict asked
(这合理吗) as blame.

kb_fresh17's false answers shared the thing with their entry and asked another matter of
it: stopping a monthly withdrawal, restoring heating after stopping it, an award the
employer does not carry out. Probes written for this round (none from shared/ or
bench/data)."""

from __future__ import annotations

import pytest

from knowledge import search
from knowledge.search import (
    Index,
    asked_matters,
    complaint_words,
    confidence,
    denied_words,
    worth_confirming,
)
from tests.knowledge.test_search_round9 import TODAY


@pytest.mark.parametrize(("text", "matters"), [
    ("公积金按月提取能暂停吗", {"stop"}),
    ("异地就医备案能取消吗", {"stop"}),
    ("停暖以后还能恢复吗", {"restore", "stop"}),
    ("对劳动仲裁结果不服怎么办", {"appeal"}),
    ("错过了幼儿园报名还能报吗", {"lapse"}),
    ("仲裁裁决单位拒不履行怎么办", {"enforce"}),
    ("公租房轮候期间工作变了要申报吗", {"report"}),
    ("燃气安检没赶上能改期吗", {"reschedule"}),
    ("物业和业主有纠纷找谁调解", {"dispute"}),
    ("孩子派位的学校想调换怎么办", {"swap"}),
    # Words of the matters inside other words name none: 停车 is parking, 执行官 no
    # carrying out of an award.
    ("路边停车费在哪交", set()),
])
def test_the_new_matters_named(text: str, matters: set[str]) -> None:
    assert asked_matters(text) == matters


@pytest.mark.parametrize(("text", "near"), [
    ("公积金按月提取付房租的能暂停吗", "kb014"),
    ("异地就医备案了，不去外地了要取消去哪办", "kb028"),
    ("找到工作以后失业金要停发，去哪办", "kb026"),
    ("暖气报停了，年后想恢复供暖去哪办", "kb036"),
    ("燃气公司上门安检的日子我不在家，能改约吗", "kb043"),
    ("劳动仲裁的裁决单位不执行，去哪申请强制执行", "kb025"),
    ("对劳动仲裁的结果不服，找哪里", "kb025"),
    ("住公租房轮候期间工作变了，收入要去哪申报", "kb019"),
    ("小区电梯要用维修资金，业主不同意怎么办", "kb049"),
    ("错过了幼儿园报名还能报吗", "kb031"),
    ("违章复核期限已过，申诉去哪", "kb047"),
    ("孩子小学派位想调剂去哪申请", "kb032"),
])
def test_a_new_matter_the_entry_lacks_is_neither_answered_nor_offered(
        index: Index, text: str, near: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near and r.features["unmatched"] == 1.0
    assert r.answer is None and r.hits[0].confidence == 0.0
    assert worth_confirming(r, 0.3) is None
    # Without the rule the entry would have been read out or offered.
    assert confidence(dict(r.features, unmatched=0.0)) >= 0.3


@pytest.mark.parametrize(("text", "entry"), [
    # The entry speaks of the matter, in the caller's word or another of it.
    ("房子空着，暖气不想要了，能停掉吗", "kb036"),
    ("暖气几号停", "kb034"),
    ("对违章罚款有异议怎么申诉", "kb047"),
    ("网上买的东西商家不给退换，去哪投诉", "kb013"),
    ("买的手机有质量问题商家不给换货，去哪投诉", "kb013"),
    ("和单位有劳动争议怎么申请仲裁", "kb025"),
    ("单位不签劳动合同怎么办", "kb023"),
    ("个税年度汇算怎么自己申报", "kb011"),
    ("路边停车费收错了怎么申诉", "kb048"),
])
def test_a_new_matter_the_entry_speaks_of_still_answers(index: Index, text: str,
                                                       entry: str) -> None:
    assert asked_matters(text)
    r = index.search(text, today=TODAY)
    assert r.answer is not None and r.answer.id == entry and not r.features["unmatched"]


@pytest.mark.parametrize(("text", "matters"), [
    # A modal that ends the question has no verb of its own: 还 is the verb, "repay".
    ("房贷提前还可以吗", {"repay"}),
    ("公积金贷款能提前还不", {"repay"}),
    ("商贷提前还行吗", {"repay"}),
    ("贷款提前还可不可以", {"repay"}),
    # A modal with a verb after it: 还 is "still" (review22).
    ("办护照提前还要预约吗", set()),
    ("护照提前还可以预约吗", set()),
])
def test_still_before_a_modal_that_ends_the_question(text: str, matters: set[str]) -> None:
    assert asked_matters(text) == matters


@pytest.mark.parametrize(("text", "near"), [
    ("公积金贷款买的房提前还可以吗", "kb016"),
    ("买房提取了公积金，房贷提前还可以吗", "kb015"),
])
def test_repaying_early_asked_with_a_bare_modal_is_not_answered(
        index: Index, text: str, near: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.hits[0].id == near and r.features["unmatched"] == 1.0
    assert r.answer is None


def test_the_step_asked_is_the_first_word_after_how() -> None:
    # 失业 of 怎么申领失业保险金 is what the step is for, not the step: still denied.
    assert "失业" in denied_words("我没失业怎么申领失业保险金")
    assert "失业" in denied_words("我又没失业，怎么领失业金")
    # The step itself, not yet taken (review22): not denied.
    assert denied_words("还没申领失业保险金，怎么申领") == frozenset()
    assert denied_words("居住证还没签注，怎么签注") == frozenset()


def test_a_caller_who_is_not_unemployed_is_only_offered(index: Index) -> None:
    r = index.search("我没失业怎么申领失业保险金", today=TODAY)
    assert r.hits[0].id == "kb026" and r.features["denied"] == 1.0
    assert r.answer is None and r.hits[0].confidence <= search.UNASKED_CAP
    assert confidence(dict(r.features, denied=0.0)) >= search.DEFAULT_MIN_CONFIDENCE


@pytest.mark.parametrize("text", [
    "小区物业停车费一年涨了两回，这合理吗",
    "物业不让装修工人进小区，合不合法",
    "燃气公司让我自己出钱换表，这合法吗？",
])
def test_a_verdict_asked_is_blame(index: Index, text: str) -> None:
    assert complaint_words(text) & set(search.BLAME_WORDS)
    r = index.search(text, today=TODAY)
    assert r.answer is None and worth_confirming(r, 0.3) is None
