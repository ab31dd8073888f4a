"""Whether a demand says too little to act on: the one rule (docs/classification.md, "Says
too little"), read from config/too_little.toml.

A demand that names no problem ("x", "喂", "嗯嗯", "123") is still a ticket -- the caller's
number and recording are kept -- but dispatching it sends a handler an SMS about nothing, so
``ticketing.intake_model.understand`` marks it and ``ticketing.service.auto_dispatch`` holds
it for an operator. The rule counts what is left, not what is there: any two characters of
content (停电, 救命, 太吵) are enough, and an urgent or emergency reading is never held (a
false alarm costs a glance, a held emergency could cost a life).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from config import get_settings
from ticketing.invisible import readable

# A run of Latin letters counts one (a word: "WiFi", "ATM"); any other letter counts one by
# itself: a Han character, and as much a Hangul or kana syllable (a recogniser for another
# language writes those, and the suite's speech model is Korean). Not digits, not symbols.
_UNIT = re.compile(r"[a-z]+|[^\W\d_a-z]")


def _folded(text: str) -> str:
    # NFKC: full-width letters and digits are the ASCII ones; lower case for "Test". What
    # shows nothing is no content: a Hangul filler is a letter by its category (judge36).
    return readable(text).lower()


def units(text: str) -> list[str]:
    """``text``'s letter units as the rule counts them (fillers kept): a Latin run, or any
    other letter by itself. Also what ``ticketing.hearing`` reads a transcript's script by."""
    return _UNIT.findall(_folded(text))


@dataclass(frozen=True)
class Substance:
    """The rule's data: fewer than ``min_content`` units after the fillers are dropped."""

    min_content: int
    fillers: tuple[str, ...]  # longest first, so "有人吗" goes before "吗" would split it

    def content(self, text: str) -> int:
        """Content units left after dropping the fillers, punctuation, digits and spaces."""
        rest = _folded(text)
        for filler in self.fillers:
            rest = rest.replace(filler, " ")
        return len(_UNIT.findall(rest))

    def too_little(self, text: str) -> bool:
        return self.content(text) < self.min_content


def load_substance(path: Path | None = None) -> Substance:
    """The rule from ``path`` (default: settings.too_little_file), checked once per content."""
    path = Path(path) if path is not None else get_settings().too_little_file
    return _parse(path, path.read_bytes())


@lru_cache(maxsize=4)
def _parse(path: Path, raw: bytes) -> Substance:
    data = tomllib.loads(raw.decode("utf-8"))
    least = data.get("min_content")
    if not isinstance(least, int) or isinstance(least, bool) or least < 1:
        raise ValueError(f"{path}: min_content must be a whole number ≥ 1")
    fillers = data.get("fillers", [])
    if not isinstance(fillers, list) or not all(isinstance(f, str) and f.strip()
                                                for f in fillers):
        raise ValueError(f"{path}: fillers must be a list of non-blank strings")
    normalized = {unicodedata.normalize("NFKC", f).lower() for f in fillers}
    return Substance(least, tuple(sorted(normalized, key=lambda f: (-len(f), f))))
