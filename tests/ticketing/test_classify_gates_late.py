"""A rule's call-wide conditions (``unless_call``, ``when_call``, ``quiet_when_made_safe``,
a pattern's own ``unless_call``) are read once one of its cues is found in the text, not
before (docs/scaling.md, thirty-sixth round): the hits are what they were, and a rule that
finds no cue reads none of them."""

from __future__ import annotations

import re

import pytest

from ticketing import classify as C
from ticketing.classify import Rule, load_rules

SCALE = re.compile("滴答|一点点")
NIGHT = re.compile("晚上|夜里")


def _rule(**extra: object) -> Rule:
    return Rule(id="t.leak", target="water", weight=1.0, keywords=("漏水",),
                patterns=(re.compile("水管(爆|裂)了"),), categories=frozenset(),
                negatable=True, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(("extra", "text", "hits"), [
    ({}, "厨房漏水了，水管爆了", ["漏水", "水管爆了"]),
    ({"unless_call": SCALE}, "厨房漏水了，滴答滴答的", []),
    ({"unless_call": SCALE}, "水管裂了，滴答滴答的", []),
    ({"unless_call": SCALE}, "厨房漏水了，不是滴答的", ["漏水"]),  # the scale word negated
    ({"when_call": (NIGHT,)}, "厨房漏水了", []),
    ({"when_call": (NIGHT,)}, "晚上厨房漏水了", ["漏水"]),
    ({"pattern_unless_call": (SCALE,)}, "厨房漏水了，水管裂了一点点", ["漏水"]),
    ({"pattern_unless_call": (SCALE,)}, "水管裂了一点点，厨房漏水了", ["漏水"]),
    ({"pattern_unless_call": (SCALE,)}, "水管裂了", ["水管裂了"]),
    ({}, "厨房没有漏水", []),
])
def test_the_hits_are_what_the_conditions_allow(extra: dict[str, object], text: str,
                                               hits: list[str]) -> None:
    assert C._rule_hits(_rule(**extra), text, load_rules()) == hits


def test_a_rule_that_finds_no_cue_reads_no_call_wide_condition(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    real = C._said

    def counted(words: re.Pattern[str] | None, text: str, rules: object) -> bool:
        asked.append(words)
        return real(words, text, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(C, "_said", counted)
    # The scale word is there, 水 begins the keyword's screen; the rule's cues are not.
    assert C._rule_hits(_rule(unless_call=SCALE), "水龙头滴答滴答的", load_rules()) == []
    assert asked == []
    assert C._rule_hits(_rule(unless_call=SCALE), "漏水了，滴答滴答的", load_rules()) == []
    assert asked == [SCALE]


def test_a_texts_words_without_a_retraction_are_read_once_for_both_askers() -> None:
    # classify reads them for the category, intake_model.understand again for the model's.
    rules = load_rules()
    C._without_retracted.cache_clear()
    text = "嗯那个燃气，不是，是楼下配电室一直冒烟"
    first = C.without_retracted(text, rules)
    assert first is not None and "燃气" not in first
    assert C.without_retracted(text, rules) == first
    assert C._without_retracted.cache_info().hits == 1
