"""Toneless pinyin of Chinese characters: how a recogniser's homophones read alike.

One place for it: the intake model's pinyin features and the classifier's district look-up
both read text through ``syllable``, so a character the recogniser swapped for another of the
same sound ("潮阳" for "朝阳") reads the same to both.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import islice, product

__all__ = ["readings", "syllable"]

# A name with more polyphones than this keeps its first readings only; no place name has
# more than two or three, and each reading is a key in a table.
MAX_READINGS = 8


@lru_cache(maxsize=65536)
def syllable(char: str) -> str:
    """The commonest toneless reading of one character; "" for anything not Chinese."""
    # Character by character, each in its commonest reading: pypinyin's phrase look-up costs
    # ~0.8 ms a text, this ~0.05 ms; a polyphone read the same way everywhere is as good a
    # feature, and training cuts the same way.
    from pypinyin import lazy_pinyin

    got = lazy_pinyin(char, errors="ignore")
    return got[0] if got else ""


# Cached: every rules load reads each of ~700 place names (~0.09 s of CPU a load, most of
# Domain.load, paid per app and per test), and the answer is a tuple of tuples.
@lru_cache(maxsize=4096)
def readings(word: str) -> tuple[tuple[str, ...], ...]:
    """The toneless readings of ``word`` a recogniser's text may show: each character in its
    commonest reading (how ``syllable`` reads text) or as pypinyin reads it inside the word or
    inside a two-character window of it (朝 is chao alone and in 朝阳区, zhao in 朝阳: a
    homophone may be drawn for either). Rare readings (大 as tai) are left out: they would
    find the name in ordinary words. Empty when a character has no reading."""
    from pypinyin import lazy_pinyin

    own = [syllable(ch) for ch in word]
    if not all(own):
        return ()
    options: list[dict[str, None]] = [{s: None} for s in own]
    windows = [(0, word), *((j, word[j:j + 2]) for j in range(len(word) - 1))]
    for start, part in windows:
        got = lazy_pinyin(part, errors="ignore")
        if len(got) == len(part):
            for k, reading in enumerate(got):
                options[start + k][reading] = None
    return tuple(islice(product(*options), MAX_READINGS))
