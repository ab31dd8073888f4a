"""review140: kb47's rule that a title's 办理 teaches no step of its own (``steps_named``)
also took the step from a caller who names the procedure before 怎么办理 (狗的登记怎么办理)
and tells a hukou moved away only as their situation: the entry whose title teaches that
procedure was offered where it had been read. The sentences are this review's own."""

from __future__ import annotations

import pytest

from knowledge.search import Index, quantities_asked, steps_named
from tests.knowledge.test_search_kb47 import assert_not_read_out
from tests.knowledge.test_search_round26 import assert_read_out


@pytest.mark.parametrize(("text", "entry"), [
    ("我户口已经迁回老家了，人还在北京，养的狗登记怎么办理？", "kb050"),
    ("户口迁回原籍了 北京这边养狗的登记怎么办理", "kb050"),
])
def test_a_procedure_named_before_banli_is_still_the_step(index: Index, text: str,
                                                         entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize("text", [
    "户口迁回老家了 在北京养的狗登记怎么办理",
    "户口迁回去了，狗的登记要怎么办理",
])
def test_the_step_is_what_is_done(text: str) -> None:
    assert "登记" in steps_named(text)


@pytest.mark.parametrize("text", [
    # The move itself asked (kb47's own case): 办理 of it teaches no step beside it.
    "单位集体户的户口离职后要迁出 怎么办理",
    "离职了户口得从集体户迁走，要怎么办理？",
])
def test_the_move_itself_asked_is_no_step(index: Index, text: str) -> None:
    assert not steps_named(text) & {"办理", "迁出", "迁走"}
    assert_not_read_out(index, text, "kb006")


@pytest.mark.parametrize(("text", "entry"), [
    # Which districts a service is given in, or whose office: where to do it, which the
    # entry on doing it answers without naming a district (kb47's `district` zeroed it).
    ("哪些区可以办理异地就医备案", "kb028"),
    ("我住东城区，哪几个区能办异地就医备案？", "kb028"),
    ("哪些区的派出所能办居住证", "kb001"),
    ("哪几个区的劳动监察大队能投诉欠薪", "kb024"),
    ("哪些区能交路侧停车费", "kb048"),
    ("北京哪几个区能申请公共租赁住房", "kb019"),
])
def test_which_districts_a_service_is_given_in_is_where(index: Index, text: str,
                                                       entry: str) -> None:
    assert "district" not in quantities_asked(text)
    assert_read_out(index, text, entry)
