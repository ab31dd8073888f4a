"""The classifier reads a self-correction (不是, 说错了) through the same text as every other
rule: NFKC and without the characters that show nothing (``ticketing.invisible.readable``).
Before, the retraction reader alone kept them, so a zero-width space inside 不是 -- which
no reader sees -- left the corrected word standing and the call was filed under it."""

from __future__ import annotations

import pytest

from ticketing.classify import classify

# Self-corrections of our own wording: the first thing named is taken back, the second is
# what the call is about.
CORRECTED = (
    "燃气 不是 是楼下配电室冒烟了",
    "我说供水 不是 是小区路灯全灭了好几天",
    "那个噪音 不是 是门口下水道堵了往外冒",
)


@pytest.mark.parametrize("said", CORRECTED)
@pytest.mark.parametrize("hidden", ["\u200b", "\u2060", "\ufeff", "\u3164"])
def test_an_invisible_character_inside_the_correction_changes_nothing(said: str,
                                                                      hidden: str) -> None:
    plain = classify(said)
    split = classify(said.replace("不是", f"不{hidden}是"))
    assert (split.category, split.urgency) == (plain.category, plain.urgency)
