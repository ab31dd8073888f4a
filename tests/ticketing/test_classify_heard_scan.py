"""``_heard`` (a recogniser's homophones of the [heard_as] words written as the words) reads
each character's syllable once and looks a window up only where a word can begin
(docs/scaling.md, thirty-sixth round): the same text out as the window-by-window scan kept
here, for fewer look-ups."""

from __future__ import annotations

import pytest

from tests.conftest import REPO
from ticketing import classify as C
from ticketing.classify import ClassificationRules, load_rules
from ticketing.intake_model import read_labelled
from ticketing.pinyin import syllable

TRAINING = [REPO / "data" / "intake" / name for name in ("train.tsv", "train-23.tsv")]

# Written for this test: homophones of the shipped words beside ones that must stay as
# written, at a text's start and end, overlapping and back to back.
OWN = [
    "电体的事卡了俩利拜，一直没人管",
    "我家楼道的电体又坏了电体",
    "颜色太浓艳了不好看",
    "新稳上说明天停水，电体停不停",
    "电体",
    "电",
    "",
    "abc电体123",
    "楼下饭馆着货了电体里还有人",
    "仓库里囤着货呢",
]


def _by_windows(text: str, rules: ClassificationRules) -> str:
    """The scan by sound as it was before the thirty-sixth round: every window of every
    length (the spellings in context, emerg52's, come first in both: ``_spelled``)."""
    chars, kept = C._spelled(text, rules)
    i = 0
    while i < len(chars):
        for n in rules.heard_lengths:
            written = "".join(chars[i:i + n])
            if len(written) < n or any(kept[i:i + n]):
                continue
            word = rules.heard_as.get(tuple(syllable(ch) for ch in written))
            if word and written != word and C._swapped_few(written, word):
                chars[i:i + n] = word
                i += n - 1
                break
        i += 1
    return "".join(chars)


@pytest.fixture(scope="module")
def rules() -> ClassificationRules:
    return load_rules()


def test_the_heard_text_is_the_window_by_window_scans(rules: ClassificationRules) -> None:
    texts = [C._normalize(row.text) for path in TRAINING if path.exists()
             for row in read_labelled(path)] + OWN
    # Long texts too: a call of several complaints, and the same ones back to back.
    texts += ["".join(texts[i:i + 6]) for i in range(0, len(texts) - 6, 97)]
    rewritten = 0
    for text in texts:
        heard = C._heard(text, rules)
        assert heard == _by_windows(text, rules), text
        assert len(heard) == len(text)
        rewritten += heard != text
    assert rewritten >= 5  # the rewriting itself was exercised, not only the no-op


def test_rules_built_without_their_first_syllables_still_hear(
        rules: ClassificationRules) -> None:
    from dataclasses import replace

    bare = replace(rules, heard_firsts=frozenset())
    assert C._heard("电体的事卡了俩利拜", bare) == "电梯的事卡了俩礼拜"


def test_each_character_is_read_once(rules: ClassificationRules,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def counted(char: str) -> str:
        nonlocal calls
        calls += 1
        return syllable(char)

    monkeypatch.setattr(C, "syllable", counted)
    text = "我们小区的路灯坏了好几天，晚上出门黑乎乎的，老人孩子走路都不方便" * 4
    assert C._heard(text, rules) == text
    # Before: each window of each of the three lengths read its characters, ~9 a character.
    assert calls <= len(text), calls
