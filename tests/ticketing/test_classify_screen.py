"""The classifier's screen by first characters (``Rule.starts``, docs/scaling.md,
twenty-ninth round): a rule none of whose cues can begin anywhere in a text is not asked
of it. The screen may only ever skip work, never a hit: these tests check the characters
``_match_starts`` lists against every match of every shipped pattern in the labelled
training texts, and that classifying with the screen gives what it gave without."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.conftest import REPO
from ticketing import classify as C
from ticketing.classify import ClassificationRules, Rule, load_rules
from ticketing.intake_model import read_labelled

# Labelled training files only (the held-out files are evaluation data, never read here).
TRAINING = [REPO / "data" / "intake" / name for name in ("train.tsv", "train-23.tsv")]


def _texts() -> list[str]:
    return [row.text for path in TRAINING if path.exists() for row in read_labelled(path)]


def _rules(rules: ClassificationRules) -> list[Rule]:
    return [*rules.category_rules, *rules.urgency_rules, *rules.emergency_rules,
            *rules.kind_rules, *rules.sub_category_rules, *rules.kind_over_model]


@pytest.mark.parametrize(("pattern", "starts"), [
    ("着火", "着"),
    ("a?b", "ab"),
    ("(?:头上|脸上|满头)(全|都)?是血", "头脸满"),
    ("(?<![水暖])(阀门|总阀)关", "阀总"),  # a look-behind matches no character
    ("(?=[甲乙])[甲乙丙]", "甲乙丙"),  # a look-ahead neither: the class that follows does
    ("[a-c]d|e", "abce"),
    ("(?:ab|)c", "ac"),  # an empty alternative: what follows the group may begin it
    ("x{0,2}y", "xy"),
    ("^漏水", "漏"),
    ("(?>老|小)人", "老小"),
    (r"(a)\1", "a"),  # a back-reference after a group: the group begins the match
])
def test_the_first_characters_of_a_pattern(pattern: str, starts: str) -> None:
    assert C._match_starts(re.compile(pattern)) == frozenset(starts)


@pytest.mark.parametrize("pattern", [
    ".{0,3}不醒",  # any character
    "[^，。]{0,4}味",  # a negated class
    r"\d+号楼",  # a category
    "(?i)fire",  # case ignored
    "(?i:f)ire",
    "x*",  # may match the empty string
    "(?=a)",
    r"(?:(a)|b)?\1c",  # a back-reference that may come first
    "(a)?(?(1)b|c)",  # a conditional
    "[\u4e00-\u9fff]火",  # a class too wide to list
])
def test_a_pattern_whose_first_characters_are_not_told_is_not_screened(pattern: str) -> None:
    assert C._match_starts(re.compile(pattern)) is None


def test_a_rule_is_screened_by_its_keywords_and_patterns_first_characters() -> None:
    rule = Rule(id="t.r", target="t", weight=1.0, keywords=("停水", "没水"),
                patterns=(re.compile("(水管|水表)(爆|坏)"),), categories=frozenset(),
                negatable=False)
    assert rule.starts == frozenset("停没水")
    unscreened = Rule(id="t.u", target="t", weight=1.0, keywords=("停水",),
                      patterns=(re.compile(".{0,2}漏"),), categories=frozenset(),
                      negatable=False)
    assert unscreened.starts is None
    assert unscreened.pattern_starts == (None,)


@pytest.mark.slow
def test_every_match_of_every_shipped_pattern_begins_with_a_character_it_lists() -> None:
    rules = load_rules()
    screened = [(rule, pattern, starts) for rule in _rules(rules)
                for pattern, starts in zip(rule.patterns, rule.pattern_starts, strict=True)
                if starts is not None]
    # Most patterns are screened; one that is not costs speed, not correctness.
    assert len(screened) >= 0.9 * sum(len(rule.patterns) for rule in _rules(rules))
    texts = _texts()
    assert len(texts) > 3000
    matched = 0
    for text in texts:
        # The forms classify asks the rules of: as said, normalised, the words heard.
        norm = C._normalize(text)
        for form in {text, norm, C._heard(norm, rules)}:
            for rule, pattern, starts in screened:
                for m in pattern.finditer(form):
                    matched += 1
                    assert m.group(0), (rule.id, pattern.pattern, form)
                    assert form[m.start()] in starts, (rule.id, pattern.pattern, form)
    assert matched > 1000  # the check saw the patterns at work, not only misses


@contextmanager
def _unscreened(rules: ClassificationRules) -> Iterator[None]:
    # The rules and the copies without their guards that ``_guarded_cue`` asks, which
    # carry screens of their own.
    screened = list({id(r): r for rule in _rules(rules) for r in (rule, rule.unguarded)}
                    .values())
    kept = {}
    for rule in screened:
        kept[id(rule)] = (rule.starts, rule.pattern_starts)
        rule.__dict__["starts"] = None
        rule.__dict__["pattern_starts"] = (None,) * len(rule.patterns)
    try:
        yield
    finally:
        for rule in screened:
            rule.__dict__["starts"], rule.__dict__["pattern_starts"] = kept[id(rule)]


@pytest.mark.slow
def test_classifying_with_the_screen_gives_what_it_gave_without() -> None:
    rules = load_rules()
    texts = _texts()[::4]
    screened = [C.classify(text, rules) for text in texts]
    with _unscreened(rules):
        plain = [C.classify(text, rules) for text in texts]
    assert screened == plain
    # The screen skipped rules: most calls hold no first character of most rules.
    skipped = sum(rule.starts.isdisjoint(text) for text in texts for rule in _rules(rules)
                  if rule.starts is not None)
    assert skipped > len(texts) * len(_rules(rules)) // 2


def test_a_rules_screen_is_read_off_its_patterns_once_not_once_a_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A call with a fire or smoke word and no danger asks each guarded danger rule what it
    would hear without its guards (``_guarded_cue``). That rule without them was made anew
    a call, and every pattern of it parsed again for its screen: 221 parses, ~17 ms of CPU,
    for every such call (docs/scaling.md, thirty-second round)."""
    rules = load_rules()
    texts = ["楼下烧烤摊天天晚上冒烟，油烟味呛得家里没法开窗", "小区里有人在楼道抽烟，烟头乱扔"]
    guarded, parsed = [], []
    real_guarded, real_starts = C._guarded_cue, C._match_starts

    def counted_guarded(text: str, r: ClassificationRules) -> str | None:
        guarded.append(text)
        return real_guarded(text, r)

    def counted_starts(pattern: re.Pattern[str]) -> frozenset[str] | None:
        parsed.append(pattern)
        return real_starts(pattern)

    monkeypatch.setattr(C, "_guarded_cue", counted_guarded)
    monkeypatch.setattr(C, "_match_starts", counted_starts)
    first = [C.classify(text, rules) for text in texts]
    guarded.clear(), parsed.clear()
    again = [C.classify(text, rules) for text in texts]
    assert len(guarded) == len(texts)  # both calls asked the guarded rules
    assert parsed == []
    assert again == first
