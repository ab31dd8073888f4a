"""Working days for deadlines ("general" tickets: 5 working days).

Sources, in order: a year listed in ``config/holidays.toml`` (site override, or a year the
package does not know yet), then the ``chinesecalendar`` package (State Council holidays and
调休 make-up working days), then plain Monday-Friday with a logged warning, so an unknown
year degrades to a usable calendar instead of stopping ticket intake.

Deadline arithmetic (``add_working_days``) counts whole working days of wall-clock time in
``settings.timezone``:

* a start on a working day keeps its time of day: Fri 15:00 + 5 working days = the next
  Fri 15:00 (if no holidays intervene);
* a start on a non-working day is moved to 00:00 of the next working day (the clock starts
  when offices open that day), and the deadline is the end of the N-th working day, returned
  as 00:00 of the following calendar day. Sat 10:00 + 5 = the next Sat 00:00 (end of Fri).
  Reporting "end of Friday" rather than "Monday 00:00" keeps reminders at 75% of the window
  on working days.
"""

from __future__ import annotations

import logging
import tomllib
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from config import get_settings

__all__ = ["WorkCalendar"]

log = logging.getLogger(__name__)


class WorkCalendar:
    def __init__(self, extra_file: Path | None = None) -> None:
        settings = get_settings()
        self.tz = ZoneInfo(settings.timezone)
        path = Path(extra_file) if extra_file is not None else settings.holidays_file
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = _load_years(path)
        self._warned_years: set[int] = set()

    def is_working_day(self, d: date) -> bool:
        if d.year in self._years:
            holidays, workdays = self._years[d.year]
            return d in workdays or (d.weekday() < 5 and d not in holidays)
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._warned_years:
                self._warned_years.add(d.year)
                log.warning(
                    "no holiday schedule for %d (chinesecalendar %s, no entry in holidays.toml):"
                    " counting Monday-Friday only; add the year to holidays.toml",
                    d.year,
                    getattr(chinese_calendar, "__version__", "?"),
                )
            return d.weekday() < 5

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += timedelta(days=1)
        while not self.is_working_day(d):
            d += timedelta(days=1)
        return d

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Deadline ``days`` working days after ``start`` (tz-aware in, tz-aware out, local tz)."""
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if days < 0:
            raise ValueError("days must be >= 0")
        local = start.astimezone(self.tz)
        day = local.date()
        if self.is_working_day(day):
            for _ in range(days):
                day = self.next_working_day(day)
            return datetime.combine(day, local.timetz())
        # Off-day start: the clock starts at the next working day's 00:00, so the deadline
        # is the end of the days-th working day counting that day as the first.
        day = self.next_working_day(day)
        if days == 0:
            return datetime.combine(day, time(0), tzinfo=self.tz)
        for _ in range(days - 1):
            day = self.next_working_day(day)
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)


def _load_years(path: Path) -> dict[int, tuple[frozenset[date], frozenset[date]]]:
    """{year: (holidays, make-up workdays)} from the override file; missing file = none."""
    if not path.exists():
        log.info("holiday override file %s not found; using chinesecalendar only", path)
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
    for key, entry in data.get("years", {}).items():
        year = int(key)
        holidays = frozenset(_as_date(v) for v in entry.get("holidays", []))
        workdays = frozenset(_as_date(v) for v in entry.get("workdays", []))
        if stray := sorted(d for d in holidays | workdays if d.year != year):
            raise ValueError(f"{path}: [years.{year}] lists dates of another year: {stray}")
        if both := sorted(holidays & workdays):
            raise ValueError(f"{path}: [years.{year}] dates both holiday and workday: {both}")
        years[year] = (holidays, workdays)
    return years


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):  # TOML datetimes are dates too, but say so loudly
        raise ValueError(f"expected a date, got a date-time: {value}")
    return value if isinstance(value, date) else date.fromisoformat(value)
