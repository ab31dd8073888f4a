"""The ticket number's layout, in one place: the day a ticket is filed (``yymmdd`` in the
city's time zone) and that day's sequence, at least four digits, e.g. 2611240007.

Made here (``make``), read back here (``parse``), and here the SQL that reads the sequence
part out of a stored number (``sequence_of``, ``SEQUENCE_FROM``: SQLite's catch-up of the
day's counter row, migration 0026's downgrade). Before, the date was written with
``strftime("%y%m%d")`` in ticketing.service and read back with a hand-counted
``substr(number, 7)`` there and in the migration: two copies of one layout, which drift
the day one of them changes.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Integer, cast, func
from sqlalchemy.sql.elements import ColumnElement

DAY_FORMAT = "%y%m%d"
DAY_DIGITS = 6
# Four digits read back easily by phone; a fifth only past 9999 tickets in a day.
SEQUENCE_DIGITS = 4
# 1-based, as SQL's substr counts: where the sequence part begins.
SEQUENCE_FROM = DAY_DIGITS + 1
# The longest number the column holds (tickets.number). Longer is no number of ours, and
# is not read as one: 5,000 digits made int() raise, a 500 on GET /tickets/{ref} (sec57).
NUMBER_CHARS = 20

_NUMBER = re.compile(
    rf"([0-9]{{{DAY_DIGITS}}})([0-9]{{{SEQUENCE_DIGITS},{NUMBER_CHARS - DAY_DIGITS}}})")


def day_of(moment: datetime, tz: tzinfo) -> str:
    """The day part of the numbers filed at ``moment`` (aware), in the city's ``tz``."""
    return moment.astimezone(tz).strftime(DAY_FORMAT)


def make(day: str, seq: int) -> str:
    """The number of ``day``'s ``seq``-th ticket. ``seq`` below 1 is a bug upstream (the
    caller refuses it with a reason first), never a number such as 261207-099."""
    if len(day) != DAY_DIGITS or not day.isdigit() or seq < 1:
        raise ValueError(f"no ticket number of day {day!r} and sequence {seq!r}")
    return f"{day}{seq:0{SEQUENCE_DIGITS}d}"


def parse(number: str) -> tuple[str, int] | None:
    """``(day, seq)`` of a number ``make`` gives; None for anything else (ASCII digits only:
    ``int()`` would take "٣" or "²")."""
    m = _NUMBER.fullmatch(number) if number.isascii() else None
    if m is None or int(m.group(2)) < 1:
        return None
    return m.group(1), int(m.group(2))


def day_range(day: str) -> tuple[str, str]:
    """``day``'s numbers as an index range, ``from <= number < to``: the day and at least
    four digits ("9" < ":")."""
    return f"{day}0", f"{day}:"


def sequence_of(number: Any) -> ColumnElement[int]:
    """SQL: the sequence part of a stored number (a column or expression), as an integer.
    Only for numbers of the layout (select them by ``day_range`` first)."""
    return cast(func.substr(number, SEQUENCE_FROM), Integer)
