"""review128: a need asked as a choice (需不需要贷款, 有没有贷款, 打不打算贷款) or stressed
(特别想贷款) is no need denied; kb44's ``_DENIED_BEFORE`` read them as 不/没/别 before the
need, so the loan went unnamed and the purchase drawing was read out for a loan question.
The sentences are the review's own, not lines of a bench file."""

from __future__ import annotations

import pytest

from knowledge.search import _OBJECTS, Index
from tests.knowledge.test_search_round26 import assert_read_out


@pytest.mark.parametrize(("text", "read"), [
    ("买房子需不需要贷款公积金怎么用", True),
    ("买房子特别想贷款公积金怎么用", True),
    ("买房打不打算贷款都能用公积金吗", True),
    ("公积金有没有贷款额度", False),
    ("区别贷款和提取", False),
])
def test_a_need_asked_as_a_choice_or_stressed_is_named(index: Index, text: str,
                                                      read: bool) -> None:
    assert "贷款" in _OBJECTS.named(text, caller=True).get("housing_fund", frozenset())
    if read:
        assert_read_out(index, text, "kb016")


@pytest.mark.parametrize("text", ["公积金没有贷款", "我不需要贷款", "别贷款了"])
def test_a_need_denied_stays_unnamed(text: str) -> None:
    assert "贷款" not in _OBJECTS.named(text, caller=True).get("housing_fund", frozenset())
