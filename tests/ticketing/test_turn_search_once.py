"""A text of many turns to the present reads each danger cue's pattern once, not once a turn.

review94: ``_happens`` searched every danger rule's pattern from each ``now_turn`` word to
the text's end (and each keyword and ``turn_talk`` to the clause's end): a call or a demand
of many turns ("以前…现在…" × 800, 4,000 characters) cost 4-5 CPU-s, with the square of its
length, whatever the patterns' structure (ticketing/pattern_growth.py cannot see a search
repeated by the code). The answer is the same as a fresh search from every position; the
characters the searches are handed grow with the text, not with its square.
"""

from __future__ import annotations

import re

import pytest

from ticketing import classify as classify_module
from ticketing.classify import classify


class _Counted:
    """A pattern that counts the characters each search may read (``endpos - pos``)."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern, self.read = pattern, 0

    def search(self, text: str, pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        end = len(text) if endpos is None else endpos
        self.read += max(0, end - pos)
        return self.pattern.search(text, pos, end)


@pytest.mark.parametrize("pattern", [r"着火|冒烟", r"(?<!没)着火", r"^喂", r"火$"])
def test_a_search_from_each_position_answers_what_a_fresh_search_does(pattern: str) -> None:
    compiled = re.compile(pattern)
    for text in ["喂现在着火了现在没着火现在冒烟", "现在" * 5 + "火", "着火", ""]:
        classify_module._searched.cache_clear()
        for endpos in (None, max(0, len(text) - 2)):
            for pos in [*range(len(text) + 1), 3, 0, len(text)]:  # forward, then back
                got = classify_module._search_from(compiled, text, pos, endpos)
                fresh = compiled.search(text, pos, len(text) if endpos is None else endpos)
                assert (got and got.span()) == (fresh and fresh.span()), (text, pos, endpos)


def test_the_turns_of_a_long_text_read_it_in_proportion_to_its_length() -> None:
    counted = _Counted(re.compile("着火"))
    reads = []
    for n in (400, 1600):
        text = "以前现在" * (n // 4) + "着火"
        counted.read = 0
        classify_module._searched.cache_clear()
        for pos in range(4, n, 4):  # every turn's end, as ``_turn_at`` asks
            classify_module._search_from(counted, text, pos)  # type: ignore[arg-type]
        reads.append(counted.read)
    assert reads[1] <= 4 * reads[0] + 16  # four times the text, four times the reading


def test_a_danger_told_after_many_turns_is_decided_as_before() -> None:
    # The decisions a fresh search gave: a present danger after a past one is found.
    assert classify("以前着过火，现在又着火了，火很大").emergency == "119"
    assert classify("以前现在，" * 50 + "上次着火了").emergency == classify("上次着火了").emergency
