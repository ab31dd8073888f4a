"""The words that ask a step (``_STEP_ASKING``) count only as words (loose23): the 能 of
可能, 功能, 智能 or 新能源 is part of another word and asks nothing, while 能 after an
adverb that jieba joins to it (不能, 才能 of 怎样才能, 谁能) still asks. Probes written
for this change (none from shared/ or bench/data)."""

from __future__ import annotations

import pytest

from knowledge.search import denied_words, stepped_matters, steps_asked


@pytest.mark.parametrize("text", [
    "可能要停气吗",        # will the gas be cut: what will happen, no step asked
    "他说可能要取消吗",
    "这个功能要停掉吗",
    "智能电表读数不对",
    "可能是什么原因",
    "电能表要停掉吗",      # 电能表, the meter: 能 is inside the word, past 电能
])
def test_a_word_holding_an_asking_character_asks_no_step(text: str) -> None:
    asked = [step[0] for step in steps_asked(text)]
    assert not {"停气", "取消", "电表", "是", "停掉"} & set(asked)
    assert stepped_matters(text) == set()


def test_a_negated_word_told_before_a_maybe_stays_denied() -> None:
    """孩子没报名 is the caller's situation: 可能报名截止了吗 asks no step 报名."""
    assert "报名" in denied_words("孩子没报名，可能报名截止了吗")


@pytest.mark.parametrize(("text", "matter"), [
    ("这个功能怎么停掉", "stop"),       # 怎么 asks though 功能 stands before it
    ("智能水表能停掉吗", "stop"),
    ("怎样才能停掉", "stop"),           # jieba: 怎样才能, one word ending in 能
    ("不能停掉吗", "stop"),             # jieba: 不能
    ("谁能给我恢复供水", "restore"),    # jieba: 谁能
    ("我不想停掉了能恢复吗", "restore"),
    ("性能不行，能换货吗", "swap"),
    # review32: a word of jieba's dictionary took the asking word in (before: no step).
    ("水能不能恢复", "restore"),       # jieba: 水能 (hydro power), 水 the subject
    ("电能恢复吗", "restore"),         # jieba: 电能
    ("我在想要不要停掉", "stop"),       # jieba: 想要/不要, read as 想 + 要不要
    ("为孩子着想要不要恢复", "restore"),
])
def test_an_asking_word_jieba_joins_to_another_still_asks(text: str, matter: str) -> None:
    assert matter in stepped_matters(text)
