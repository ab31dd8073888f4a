"""review123: kb43's rules read against callers' complaints (docs/knowledge.md,
"Thirty-fifth round (kb43)", review123). The sentences are the review's own, not lines
of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import Index
from tests.knowledge.test_search_kb43 import assert_read_out
from tests.knowledge.test_search_round32 import assert_unanswered


@pytest.mark.parametrize("text", [
    # The caller looked up their own record and tells what came of it: a complaint, not
    # the entry that teaches looking it up read out (_OWN_LOOKUP lifts no size's guard then).
    "我想查查这回扣了多少分，可是网上老是登不上",
    "想查一下这次扣了多少分，结果上面显示的跟罚单对不上",
])
def test_a_lookup_told_of_after_is_filed(index: Index, text: str) -> None:
    assert_unanswered(index, text)


def test_a_lookup_after_a_told_clause_is_still_read(index: Index) -> None:
    # What was told before the lookup is why the caller looks: still the lookup's entry.
    assert_read_out(index, "车被电子眼拍了两回，我想自己查一下扣了多少分", "kb047")

