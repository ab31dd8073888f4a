"""review88: kb38's step 14 (a caller who names only a document asks how to get it) against
callers who hold the document and say so in words the ``[held]`` list lacks, and the
replacing words kept as one list with the ``reissue`` and ``lost`` matters.
docs/knowledge.md, "Review of the thirtieth round (review88)". The sentences are the
reviewer's own, not lines of a bench file.
"""

from __future__ import annotations

import pytest

from knowledge.search import (
    MATTERS_FILE,
    UNASKED_CAP,
    Index,
    held_only,
    holds,
    load_matters,
    normalise,
    tells_of,
)
from tests.knowledge.test_search_round9 import TODAY
from tests.knowledge.test_search_round26 import assert_read_out


@pytest.mark.parametrize("text", [
    # Told what happened to the permit: it is held, and no word says renewing it. kb38
    # read the first-time entry (kb001) out for the first three.
    "居住证到时候了怎么办",
    "居住证时间到了怎么办",
    "居住证办好了吗",
    # The identity card: kb38 filed them; the told event must not bring back the lost
    # card's entry or the heating season's (read out before kb38).
    "身份证时间到了怎么办",
    "身份证过几天就不能用了去哪弄",
])
def test_an_event_told_of_a_document_never_reads_the_entry_on_getting_it(
        index: Index, text: str) -> None:
    r = index.search(text, today=TODAY)
    assert r.answer is None, (r.hits[:3], r.features)
    assert r.features["unheld"] == 1.0
    first_time = [h for h in r.hits if h.id == "kb001"]
    assert all(h.confidence <= UNASKED_CAP for h in first_time)


@pytest.mark.parametrize(("text", "entry"), [
    # An event told of the caller, not the document: still a question of getting it.
    ("我在北京住了半年了居住证咋办", "kb001"),
    # Asked whether it is still valid: held, and the renewal answers (filed under kb38).
    ("居住证还有效吗", "kb002"),
    ("我那个居住证去年办的现在还有效吗", "kb002"),
])
def test_who_holds_the_document_is_told_apart_from_who_gets_it(
        index: Index, text: str, entry: str) -> None:
    assert_read_out(index, text, entry)


@pytest.mark.parametrize(("text", "told"), [
    ("居住证到时候了怎么办", True),
    ("身份证不知道扔哪儿了", True),
    # The event is the caller's, before the document is named.
    ("我来北京一年了，想办个居住证", False),
    ("我想办个居住证", False),
    # 了 of 了解 tells nothing.
    ("居住证了解一下", False),
])
def test_an_event_told_of_the_document(text: str, told: bool) -> None:
    assert tells_of(text, ("居住证", "身份证")) is told


def test_replacing_is_the_reissue_and_lost_matters_words() -> None:
    # One list: every word of the reissue and lost matters says a document is held, and
    # a title that names one teaches replacing it (被盗 and 遗失 were missing from kb38's
    # copy).
    matters = load_matters(MATTERS_FILE)
    for word in (*matters["reissue"], *matters["lost"]):
        assert holds(f"身份证{word}，怎么办"), word
        assert held_only(f"身份证{normalise(word)}怎么办"), word
    assert held_only("身份证被盗了怎么办") and held_only("护照遗失了怎么办")
    assert not held_only("护照怎么办理或者换发")
