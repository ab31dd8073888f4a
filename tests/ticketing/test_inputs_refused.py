"""``clean_text`` looks for a refused character with one search (docs/scaling.md,
thirty-sixth round): the class it searches is ``_unsafe``'s, checked here for every code
point, and the character named in the error is the first refused one, as the loop over the
characters named it."""

from __future__ import annotations

import pytest

from ticketing import inputs
from ticketing.inputs import BadCharacters, clean_text


def test_the_refused_class_is_unsafe_for_every_code_point() -> None:
    for code in range(0x110000):
        ch = chr(code)
        refused = inputs._REFUSED.search(ch) is not None
        assert refused == inputs._unsafe(ch), f"U+{code:04X}"
        kept_in_multiline = ch in "\n\t"
        assert (inputs._REFUSED_MULTILINE.search(ch) is not None) == (
            refused and not kept_in_multiline), f"U+{code:04X}"


@pytest.mark.parametrize(("value", "multiline", "named"), [
    ("停水了\x00\u202e", False, "control character U+0000"),
    ("停水了\u202e\x00", False, "text-direction control character U+202E"),
    ("第一行\n第二行\x1b", True, "control character U+001B"),
    ("第一行\n第二行", False, "a line break"),
    ("暖气\t不热\x7f", True, "control character U+007F"),
    ("暖气\ud800", True, "control character U+D800"),
])
def test_the_first_refused_character_is_named(value: str, multiline: bool, named: str) -> None:
    with pytest.raises(BadCharacters) as caught:
        clean_text(value, field="demand", multiline=multiline)
    assert named in str(caught.value)


def test_what_is_kept_comes_back_as_given() -> None:
    assert clean_text("第一行\r\n第二行\r第三行\t", field="demand", multiline=True) == (
        "第一行\n第二行\n第三行\t")
    assert clean_text("朝阳区望京西园三区5号楼停水了", field="demand") == (
        "朝阳区望京西园三区5号楼停水了")


def test_a_demand_is_searched_not_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = 0
    real = inputs._unsafe

    def counted(ch: str) -> bool:
        nonlocal asked
        asked += 1
        return real(ch)

    monkeypatch.setattr(inputs, "_unsafe", counted)
    clean_text("我们小区的路灯坏了好几天，晚上出门黑乎乎的" * 10, field="demand",
               multiline=True)
    assert asked == 0  # the loop asked _unsafe of each of the 210 characters
