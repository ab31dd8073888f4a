"""Make a clean transcript look like speech-recogniser output, to measure robustness.

A recogniser writes no punctuation, puts spaces between words, writes numbers as spoken
words and confuses characters that sound alike. ``degrade`` does all four, deterministically
for a given seed, so ``hotline classify eval --degraded`` can report the drop from clean to
recogniser-style text on the same sentences.

Homophones come from pypinyin (same syllable, tone ignored, as a small model mostly hears
it); the substitute is drawn from the characters of jieba's dictionary that share the
syllable, weighted by how often they occur there, because a recogniser outputs common
characters, not rare ones.
"""

from __future__ import annotations

import random
import re
import unicodedata
from functools import lru_cache

__all__ = ["degrade", "spoken_number"]

_PUNCT = re.compile(r"[，。；！？、：“”‘’（）《》…—,.;!?:\"'()\[\]<>~\-]+")
_DIGITS = re.compile(r"\d+(?:\.\d+)?")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMERALS = "零一二三四五六七八九"
_UNITS = ("", "十", "百", "千")


def _below_10000(n: int) -> str:
    out = ""
    zero = False
    for power in range(3, -1, -1):
        digit = n // 10**power % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        # Callers say 两百/两千, not 二百/二千.
        out += ("两" if digit == 2 and power >= 2 else _NUMERALS[digit]) + _UNITS[power]
    return out


def spoken_number(digits: str) -> str:
    """How a caller says a number: "20" → 二十, "2000" → 两千, "0302" → 零三零二.

    Up to 99,999,999 a number is read as a quantity; longer strings and those with a
    leading zero (phone numbers, room numbers like 0302) are read digit by digit.
    """
    whole, _, fraction = digits.partition(".")
    if len(whole) > 8 or (len(whole) > 1 and whole.startswith("0")):
        spoken = "".join(_NUMERALS[int(d)] for d in whole)
    else:
        n = int(whole)
        if n == 0:
            spoken = "零"
        else:
            high, low = divmod(n, 10000)
            spoken = (("两" if high == 2 else _below_10000(high)) + "万" if high else "") + (
                ("零" if high and low < 1000 and low else "") + _below_10000(low)
            )
            if spoken.startswith("一十"):
                spoken = spoken[1:]  # 十五, not 一十五
    if fraction:
        spoken += "点" + "".join(_NUMERALS[int(d)] for d in fraction)
    return spoken


@lru_cache(maxsize=1)
def _homophones() -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    """syllable -> (characters, weights) over jieba's dictionary characters."""
    from pathlib import Path

    import jieba
    from pypinyin import Style, lazy_pinyin

    counts: dict[str, float] = {}
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    with dictionary.open(encoding="utf-8") as fh:
        for line in fh:
            word, freq, *_ = line.split()
            for ch in word:
                if _CJK.match(ch):
                    counts[ch] = counts.get(ch, 0.0) + float(freq)
    table: dict[str, list[tuple[str, float]]] = {}
    for ch, count in counts.items():
        syllable = lazy_pinyin(ch, style=Style.NORMAL)[0]
        table.setdefault(syllable, []).append((ch, count))
    out: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {}
    for syl, chars in table.items():
        # Rare characters (under 1 % of the syllable's commonest) a recogniser never writes.
        top = max(w for _, w in chars)
        common = [(c, w) for c, w in chars if w >= top / 100]
        out[syl] = (tuple(c for c, _ in common), tuple(w for _, w in common))
    return out


def degrade(text: str, *, seed: int = 0, homophone_rate: float = 0.1) -> str:
    """Recogniser-style version of ``text``: see the module docstring.

    ``homophone_rate`` is the share of Chinese characters replaced by a same-sounding one
    (0.1: about one character in ten, a small model on a phone line).
    """
    from pypinyin import Style, lazy_pinyin

    from ticketing.segmenter import global_tokenizer

    rng = random.Random(f"{seed}:{text}")
    text = unicodedata.normalize("NFKC", text)
    text = _DIGITS.sub(lambda m: spoken_number(m.group(0)), text)
    text = _PUNCT.sub(" ", text)
    table = _homophones()
    chars = list(text)
    syllables = lazy_pinyin(text, style=Style.NORMAL, errors=lambda s: [None] * len(s))
    if len(syllables) == len(chars):
        for i, (ch, syllable) in enumerate(zip(chars, syllables, strict=True)):
            if not _CJK.match(ch) or rng.random() >= homophone_rate:
                continue
            options = table.get(syllable or "")
            if not options:
                continue
            candidates = [(c, w) for c, w in zip(*options, strict=True) if c != ch]
            if candidates:
                chars[i] = rng.choices([c for c, _ in candidates],
                                       weights=[w for _, w in candidates])[0]
    words = global_tokenizer().lcut("".join(chars).replace(" ", ""))
    return " ".join(w for w in words if w.strip())
