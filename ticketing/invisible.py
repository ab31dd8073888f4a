"""What shows nothing: the one set of invisible characters (``invisible``) that names,
reasons, the too-little rule and the classifier's reading of a demand go by. A module of
its own, importing nothing of ``ticketing``: the classifier reads it, and ``inputs``
imports the classifier."""

from __future__ import annotations

import re
import unicodedata

# Characters that show nothing though they are no format character (Cf): the rest of
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt) -- the combining
# grapheme joiner, the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0: letters by their
# category), Khmer's inherent vowels, the Mongolian and other variation selectors, the
# unassigned ignorables -- and the blank Braille cell U+2800, which renders as a space.
# A set looked up per character: the too-little rule reads every demand through it, and a
# scan of the ranges per character cost ~150 us a 118-character demand, ten times the NFKC
# before it (review86). Plane 14 (tags, variation selectors 17-256, unassigned ignorables)
# is one range test rather than 4,096 set entries.
_IGNORABLE_RANGES = (  # (first, last) code points, inclusive
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2065, 0x2065), (0x2800, 0x2800), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8),
)
_IGNORABLE_NOT_FORMAT = frozenset(
    chr(point) for first, last in _IGNORABLE_RANGES for point in range(first, last + 1))
_PLANE_14_IGNORABLE = ("\U000e0000", "\U000e0fff")  # first, last (inclusive)
# The invisible characters a printable text may hold (the rest are not printable: Cf and
# the unassigned ones): one search, at C speed, for ``without_invisible``'s common case.
_PRINTABLE_INVISIBLE = re.compile("[" + "".join(
    f"{re.escape(chr(first))}-{re.escape(chr(last))}"
    for first, last in (*_IGNORABLE_RANGES, tuple(map(ord, _PLANE_14_IGNORABLE)))) + "]")


def invisible(ch: str) -> bool:
    """A character that shows nothing: a Unicode format character (Cf: zero-width space,
    non-joiner and joiner, word joiner, BOM, soft hyphen, invisible separator U+2063 ...)
    or another default-ignorable one (``_IGNORABLE_NOT_FORMAT``). The one set
    :func:`has_text`, :func:`clean_name` and the too-little rule (``ticketing.substance``)
    read; before (review55) a name kept all but five of them, so "水务\u00ad局" was stored
    as a name other than "水务局", and until judge36 a 剔除 reason of Hangul fillers
    (U+3164) or a variation selector was a reason, the trail showing nothing, and a demand
    of three fillers was dispatched to a unit as a complaint. The bidi controls are format
    characters too, but refused wherever text is taken (``clean_text``), never quietly
    dropped."""
    return (ch in _IGNORABLE_NOT_FORMAT or unicodedata.category(ch) == "Cf"
            or _PLANE_14_IGNORABLE[0] <= ch <= _PLANE_14_IGNORABLE[1])


def without_invisible(text: str) -> str:
    """``text`` without its :func:`invisible` characters. Most text has none, and says so
    at C speed: every one of them is either not printable (Cf, unassigned) or in
    ``_IGNORABLE_NOT_FORMAT`` or plane 14 (``_PRINTABLE_INVISIBLE``); only text that
    fails that is read per character (~70 us a 118-character demand, and the classifier
    reads each demand several times: review111)."""
    if text.isprintable() and not _PRINTABLE_INVISIBLE.search(text):
        return text
    return "".join(ch for ch in text if not invisible(ch))


def readable(text: str) -> str:
    """``text`` as every reader of a demand takes it (the classifier's rules and its reading
    of a self-correction, the intake model, the too-little rule): NFKC -- full-width letters
    and digits are the ASCII ones -- and without what shows nothing. One function, since a
    reader that kept a zero-width space read "不\u200b是" as no correction while the rest
    read 不是 (and review111's "燃\u200b气泄\u200b漏" before that)."""
    return without_invisible(unicodedata.normalize("NFKC", text))
