"""[lists] in config/classification.toml: a list written once, read where a pattern says <name>.

Thirtieth round (emerg35): emerg34 wrote the machines a body is drawn into three times
(one copy without 设备), a child's names twice and the guard of others still falling ill
twice; copies drift. The load puts each list in as ``(?:a|b|…)``; a name no list has and a
list no pattern names fail it (a typo would otherwise match the literal "<name>").
docs/classification.md, "Thirtieth round (emerg35)".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.rule_files import load_rule_text as _load
from tests.support.rule_files import shipped_rule_text as _shipped
from ticketing.classify import _with_lists, classify

MACHINES = "machines = ['机器', '机子', '设备',"
# Each of caught_in_machine's three forms, with a machine the shipped list does not hold.
THRESHER = [
    "他的胳膊卷进脱粒机了，血流了一地",              # the part, then the machine
    "脱粒机把他胳膊卷进去了",                         # the machine, then the part
    "老乡的手被脱粒机卷进去了，拽不出来",              # the passive, the part still held
]


def test_lists_one_entry_added_is_read_by_every_pattern_that_names_the_list(
        tmp_path: Path) -> None:
    text = _shipped()
    assert MACHINES in text
    edited = _load(tmp_path, text.replace(MACHINES, MACHINES + " '脱粒机',", 1))
    for call in THRESHER:
        assert classify(call).emergency == "none", call
        got = classify(call, edited)
        assert got.emergency == "119", call
        assert any(m.startswith("emergency.caught_in_machine:") for m in got.matched), call


@pytest.mark.parametrize(("old", "new", "error"), [
    # A misspelt name: an error, not a pattern that never fires.
    ("(<machines>|电梯)", "(<machine>|电梯)", r"caught_in_machine\.patterns\[2\]: unknown list <machine>"),
    # A list names only lists above it (no cycles, one reading order).
    ("now = ['<now_words>(?!(?!<now_state>)<now_not>)']", "now = ['<now_words>(?!(?!<now_state>)<now_nott>)']",
     r"lists\.now: unknown list <now_nott>"),
    # A list nothing reads is dead weight that looks like a rule.
    ("child = [", "kids = ['小朋友']\nchild = [", r"\['kids'\] named by no pattern"),
    ("child = ['孩子',", "Child = ['孩子',", r"lists\.Child: a list's name is lower-case ASCII"),
])
def test_lists_a_broken_list_fails_the_load(tmp_path: Path, old: str, new: str,
                                            error: str) -> None:
    text = _shipped()
    bad = text.replace(old, new, 1)
    assert bad != text
    with pytest.raises(ValueError, match=error):
        _load(tmp_path, bad)


def test_lists_an_empty_list_or_one_of_no_patterns_fails(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"lists\.x: a list is one or more patterns"):
        _with_lists({"lists": {"x": []}, "a": ["<x>"]}, tmp_path)
    with pytest.raises(ValueError, match=r"lists\.x: a list is one or more patterns"):
        _with_lists({"lists": {"x": ["a", 3]}, "a": ["<x>"]}, tmp_path)
    with pytest.raises(ValueError, match=r"lists\.x: bad pattern"):
        _with_lists({"lists": {"x": ["(a"]}, "a": ["<x>"]}, tmp_path)


def test_lists_are_put_in_everywhere_but_a_named_group_and_a_lookbehind_stay() -> None:
    got = _with_lists({
        "lists": {"a": ["x", "y(?!z)"], "b": ["<a>q"]},
        "rules": [{"id": "r", "patterns": ["(?P<v>1)<a>", "(?<!w)<b>", "(?<=k)m"]}],
        "table": {"deep": {"p": "<b>|<a>"}},
    }, Path("t.toml"))
    assert "lists" not in got
    assert got["rules"][0]["patterns"] == ["(?P<v>1)(?:x|y(?!z))", "(?<!w)(?:(?:x|y(?!z))q)",
                                           "(?<=k)m"]
    assert got["table"]["deep"]["p"] == "(?:(?:x|y(?!z))q)|(?:x|y(?!z))"


# Review90: a list inside a character class compiles and reads the alternation's characters
# ("(", "?", ":", "|" and each character of each entry) one at a time; the load says so.
@pytest.mark.parametrize("pattern", ["[<a>]", "x[^，<a>]{0,3}", "[a-z]?[\\[<a>]", "[]<a>]"])
def test_lists_a_list_inside_a_character_class_fails_the_load(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"rules\[0\]: list <a> inside a character class"):
        _with_lists({"lists": {"a": ["孩子", "娃"]}, "rules": [pattern]}, Path("t.toml"))


@pytest.mark.parametrize("pattern", ["[]]<a>", "\\[<a>\\]", "[^]]<a>", "[a]<a>"])
def test_lists_a_list_after_a_class_or_an_escaped_bracket_is_put_in(pattern: str) -> None:
    got = _with_lists({"lists": {"a": ["孩子", "娃"]}, "rules": [pattern]}, Path("t.toml"))
    assert "<a>" not in got["rules"][0] and "(?:孩子|娃)" in got["rules"][0]


def test_lists_a_list_of_unequal_widths_in_a_lookbehind_fails_the_load(
        tmp_path: Path) -> None:
    # A look-behind reads a fixed width; <child> holds 娃 and 孩子: the load fails, loudly.
    text = _shipped()
    old = "'<child>[^。；！？;!?]{0,20}"
    assert old in text
    with pytest.raises(ValueError, match=r"person_gone_now.*bad pattern"):
        _load(tmp_path, text.replace(old, "'(?<!<child>)[^。；！？;!?]{0,20}", 1))
