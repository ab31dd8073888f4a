"""Working days for deadlines ("general" tickets: 5 working days).

Sources, in order: a year listed in ``config/holidays.toml`` (site override, or a year the
package does not know yet), then the ``chinesecalendar`` package (State Council holidays and
调休 make-up working days), then, with a logged warning, Monday-Friday less the statutory days
of 《全国年节及纪念日放假办法》 (``statutory_holidays``), so an unknown year degrades to a
usable calendar instead of stopping ticket intake, and the days the law itself gives off are
never counted as work. The 调休 swaps and the 补假 for a statutory day on a weekend are the
State Council's yearly notice, not the law: they are not guessed (``schedule_gap`` says when
a year in the next weeks lacks them).

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
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
from lunar_python import Lunar

from config import get_settings

__all__ = ["SCHEDULE_HORIZON_DAYS", "ScheduleGap", "WorkCalendar", "schedule_gap",
           "statutory_holidays"]

# The 2024 revision of 《全国年节及纪念日放假办法》 (in force 1 January 2025) added 除夕 and
# 2 May; earlier years are all in the package, so no older rule is kept.
STATUTORY_FROM = 2025
# lunar_python converts any year; chinesecalendar's solar terms stop at 2100.
STATUTORY_UNTIL = 2100
# How far ahead `hotline doctor` and the start-up want the official schedule: a general
# ticket's 5 working days plus the 春节 week fit well inside, and the State Council usually
# publishes in November, so the warning starts about when the notice can be had.
SCHEDULE_HORIZON_DAYS = 60

log = logging.getLogger(__name__)


class WorkCalendar:
    def __init__(self, extra_file: Path | None = None) -> None:
        settings = get_settings()
        self.tz = ZoneInfo(settings.timezone)
        path = Path(extra_file) if extra_file is not None else settings.holidays_file
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = _load_years(path)
        self.path = path
        self._warned_years: set[int] = set()
        # Each date's answer, kept: it never changes while the process runs (the files and
        # the package are read once), and asking chinesecalendar costs ~45 µs a date,
        # ~0.3 ms a general ticket's deadline (docs/scaling.md, twenty-ninth round).
        self._working: dict[date, bool] = {}

    def has_official_schedule(self, year: int) -> bool:
        """The State Council's schedule for ``year`` is known (holidays.toml or the package)."""
        return year in self._years or _package_knows(year)

    def is_working_day(self, d: date) -> bool:
        working = self._working.get(d)
        if working is None:
            working = self._working[d] = self._is_working_day(d)
        return working

    def _is_working_day(self, d: date) -> bool:
        if d.year in self._years:
            holidays, workdays = self._years[d.year]
            return d in workdays or (d.weekday() < 5 and d not in holidays)
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            if d.year not in self._warned_years:
                self._warned_years.add(d.year)
                log.warning(
                    "no holiday schedule for %d (chinesecalendar %s, no entry in %s):"
                    " counting Monday-Friday less the statutory holidays, without 调休;"
                    " add the year to holidays.toml",
                    d.year,
                    getattr(chinese_calendar, "__version__", "?"),
                    self.path,
                )
            return d.weekday() < 5 and d not in statutory_holidays(d.year)

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


@dataclass(frozen=True)
class ScheduleGap:
    """A year within the horizon whose official schedule is missing: what and how to fix."""

    year: int
    detail: str
    fix: str

    @property
    def line(self) -> str:
        return f"{self.detail}; fix: {self.fix}"


def schedule_gap(calendar: WorkCalendar, today: date,
                 horizon_days: int = SCHEDULE_HORIZON_DAYS) -> ScheduleGap | None:
    """The first year from ``today`` to ``today + horizon_days`` lacking the official schedule.

    The one check `hotline doctor` and the `hotline serve` start-up both report."""
    last = today + timedelta(days=horizon_days)
    for year in range(today.year, last.year + 1):
        if calendar.has_official_schedule(year):
            continue
        first = max(today, date(year, 1, 1))
        notice = f"《国务院办公厅关于{year}年部分节假日安排的通知》"
        detail = (f"no official holiday schedule for {year} (needed from {first}, within "
                  f"{horizon_days} days): deadlines there count Monday-Friday less the "
                  "statutory days (元旦, 春节 除夕-初三, 清明, 劳动节 1-2 May, 端午, 中秋, "
                  "国庆 1-3 Oct), without 调休 or 补假")
        fix = (f"when {notice} is out (中国政府网 www.gov.cn, 国务院文件 › 国务院办公厅; "
               f"usually November), add to {calendar.path}, on the line right after "
               f"[years]: {year} = {{ holidays = [], workdays = [] }}, holidays = every day "
               "off in the notice (weekends included), workdays = its 调休 weekend days "
               "worked, as YYYY-MM-DD dates")
        return ScheduleGap(year, detail, fix)
    return None


@cache
def statutory_holidays(year: int) -> frozenset[date]:
    """The days off 《全国年节及纪念日放假办法》 (2024 revision, in force 2025) gives every year.

    元旦 1 Jan; 春节 农历除夕 and 正月初一至初三; 清明 the day of the 清明 solar term; 劳动节
    1-2 May; 端午 农历五月初五; 中秋 农历八月十五; 国庆 1-3 Oct. Lunar dates from
    ``lunar_python``, the solar term from ``chinesecalendar``. Empty outside
    [STATUTORY_FROM, STATUTORY_UNTIL): the law before 2025 was another, and the package
    knows those years anyway."""
    if not STATUTORY_FROM <= year < STATUTORY_UNTIL:
        return frozenset()

    def lunar(month: int, day: int) -> date:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        return date(solar.getYear(), solar.getMonth(), solar.getDay())

    spring = lunar(1, 1)  # 正月初一 always falls in January or February of the same year
    qingming = next(day for day, name in chinese_calendar.get_solar_terms(
        date(year, 4, 1), date(year, 4, 30)) if name == "清明")
    return frozenset({
        date(year, 1, 1),
        *(spring + timedelta(days=k) for k in range(-1, 3)),  # 除夕 is the day before 初一
        qingming,
        date(year, 5, 1), date(year, 5, 2),
        lunar(5, 5),
        lunar(8, 15),
        date(year, 10, 1), date(year, 10, 2), date(year, 10, 3),
    })


@cache
def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


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
