"""Working-day calendar: real chinesecalendar data, the holidays.toml override, fallback."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from ticketing.workcalendar import WorkCalendar, schedule_gap, statutory_holidays

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()  # the shipped config/holidays.toml


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


# --- 2025 National Day (package data): Oct 1-8 off, Sun Sep 28 and Sat Oct 11 worked -------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 28), True),  # Sunday, 调休 make-up day
        (date(2025, 9, 30), True),
        (date(2025, 10, 1), False),
        (date(2025, 10, 6), False),  # Mid-autumn inside the golden week
        (date(2025, 10, 8), False),  # Wednesday, still holiday
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # Saturday, 调休 make-up day
        (date(2025, 10, 12), False),  # ordinary Sunday
    ],
)
def test_national_day_2025(cal: WorkCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


def test_five_working_days_across_national_day(cal: WorkCalendar) -> None:
    # Oct 9 (1), Oct 10 (2), Sat Oct 11 make-up (3), Mon Oct 13 (4), Tue Oct 14 (5).
    assert cal.add_working_days(at(2025, 9, 30, 15), 5) == at(2025, 10, 14, 15)


def test_makeup_sunday_counts(cal: WorkCalendar) -> None:
    # Fri Sep 26 + 1 working day lands on Sunday Sep 28, a make-up working day.
    assert cal.add_working_days(at(2025, 9, 26, 15), 1) == at(2025, 9, 28, 15)


# --- deadline arithmetic ---------------------------------------------------------------


def test_friday_plus_five_is_next_friday(cal: WorkCalendar) -> None:
    assert cal.add_working_days(at(2025, 11, 14, 15), 5) == at(2025, 11, 21, 15)


def test_weekend_start_counts_from_monday_midnight(cal: WorkCalendar) -> None:
    # Clock starts Mon Nov 17 00:00; five full working days end at the close of Fri Nov 21.
    deadline = cal.add_working_days(at(2025, 11, 15, 10), 5)
    assert deadline == at(2025, 11, 22, 0)
    assert cal.add_working_days(at(2025, 11, 15, 10), 0) == at(2025, 11, 17, 0)


def test_holiday_start_counts_from_first_working_day(cal: WorkCalendar) -> None:
    # Complaint on Oct 3 (holiday): first working day Oct 9, one working day ends Oct 10 00:00.
    assert cal.add_working_days(at(2025, 10, 3, 9), 1) == at(2025, 10, 10, 0)


def test_timezone_aware_in_and_out(cal: WorkCalendar) -> None:
    start = datetime(2025, 11, 14, 7, 0, tzinfo=UTC)  # 15:00 in Beijing
    deadline = cal.add_working_days(start, 5)
    assert deadline.tzinfo is not None
    assert deadline.utcoffset() == at(2025, 11, 21).utcoffset()
    assert deadline == at(2025, 11, 21, 15)
    # A UTC start late on Sunday is already Monday in Beijing: a working-day start.
    assert cal.add_working_days(datetime(2025, 11, 16, 17, 0, tzinfo=UTC), 1) == at(2025, 11, 18, 1)


def test_rejects_naive_and_negative(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_days(datetime(2025, 11, 14, 15), 5)
    with pytest.raises(ValueError):
        cal.add_working_days(at(2025, 11, 14, 15), -1)


# --- holidays.toml override ------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_year_from_toml_file(tmp_path: Path) -> None:
    cal = WorkCalendar(
        write(
            tmp_path,
            """
[years.2030]
holidays = [2030-10-01, 2030-10-02, 2030-10-03, "2030-10-04", 2030-10-07]
workdays = [2030-10-12]
""",
        )
    )
    assert not cal.is_working_day(date(2030, 10, 7))  # a Monday holiday
    assert cal.is_working_day(date(2030, 10, 12))  # a make-up Saturday
    assert cal.is_working_day(date(2030, 10, 8))
    # Mon Sep 30 + 5: Oct 8, 9, 10, 11, Sat 12 -> Sat Oct 12 at the same time.
    assert cal.add_working_days(at(2030, 9, 30, 15), 5) == at(2030, 10, 12, 15)


def test_toml_year_replaces_package(tmp_path: Path) -> None:
    # A site override of a year the package knows wins: here 2025 without any holidays.
    cal = WorkCalendar(write(tmp_path, "[years.2025]\nholidays = []\n"))
    assert cal.is_working_day(date(2025, 10, 1))
    assert not cal.is_working_day(date(2025, 10, 11))  # the package's make-up day is gone


def test_unknown_year_falls_back_to_weekdays_less_statutory_days(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cal = WorkCalendar(write(tmp_path, "[years]\n"))
    with caplog.at_level(logging.WARNING, logger="ticketing.workcalendar"):
        assert not cal.is_working_day(date(2099, 1, 1))  # a Thursday, but 元旦 by law
        assert cal.is_working_day(date(2099, 1, 2))  # Friday: no 调休 guessed
        assert not cal.is_working_day(date(2099, 1, 3))  # Saturday
        assert cal.add_working_days(at(2099, 1, 2, 15), 5) == at(2099, 1, 9, 15)
    warnings = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings) == 1  # once per year, not once per lookup


# --- a year without the State Council's schedule: the law's days still off -------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_days_are_holidays_in_the_package(year: int) -> None:
    """The method, checked on the years the package knows: 13 days, each one a holiday."""
    days = statutory_holidays(year)
    assert len(days) == 13
    assert [d for d in sorted(days) if not chinese_calendar.is_holiday(d)] == []


def test_statutory_days_of_2027() -> None:
    assert sorted(statutory_holidays(2027)) == [
        date(2027, 1, 1),
        date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8),  # 除夕-初三
        date(2027, 4, 5),  # 清明
        date(2027, 5, 1), date(2027, 5, 2),
        date(2027, 6, 9),  # 端午
        date(2027, 9, 15),  # 中秋
        date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3),
    ]


def test_deadline_across_new_year_2027_skips_the_holiday(tmp_path: Path) -> None:
    # Fri 25 Dec 2026 + 5: Mon 28, 29, 30, 31, (Fri 1 Jan 元旦), Mon 4 Jan. Monday-Friday
    # alone made it Fri 1 Jan, a day short for the unit.
    cal = WorkCalendar(write(tmp_path, "[years]\n"))
    assert cal.add_working_days(at(2026, 12, 25, 10), 5) == at(2027, 1, 4, 10)
    # 春节 2027: 除夕 Fri 5 Feb and 初三 Mon 8 Feb are days off; the Thursday before works.
    assert cal.is_working_day(date(2027, 2, 4))
    assert not cal.is_working_day(date(2027, 2, 5))
    assert not cal.is_working_day(date(2027, 2, 8))
    assert cal.is_working_day(date(2027, 2, 9))


def test_schedule_gap_names_the_year_and_the_text_to_add(tmp_path: Path) -> None:
    path = write(tmp_path, "[years]\n")
    cal = WorkCalendar(path)
    gap = schedule_gap(cal, date(2026, 12, 5))
    assert gap is not None and gap.year == 2027
    assert "needed from 2027-01-01" in gap.detail
    assert "国务院办公厅关于2027年部分节假日安排的通知" in gap.fix and "www.gov.cn" in gap.fix
    line = "2027 = { holidays = [], workdays = [] }"
    assert f"{path}, on the line right after [years]: {line}" in gap.fix
    assert gap.line == f"{gap.detail}; fix: {gap.fix}"
    # The text, filled in where it says, is what the calendar reads: the gap closes.
    path.write_text(f"[years]\n{line.replace('[]', '[2027-01-01]', 1)}\n", encoding="utf-8")
    filled = WorkCalendar(path)
    assert not filled.is_working_day(date(2027, 1, 1))
    assert filled.is_working_day(date(2027, 2, 5))  # the site's file replaces the law's days
    assert schedule_gap(filled, date(2026, 12, 5)) is None


@pytest.mark.parametrize(
    ("today", "missing"),
    [
        (date(2026, 6, 1), False),
        (date(2026, 11, 1), False),  # + 60 days = 31 December
        (date(2026, 11, 2), True),  # + 60 days = 1 January 2027
        (date(2027, 3, 1), True),  # inside the unknown year
    ],
)
def test_schedule_gap_looks_sixty_days_ahead(tmp_path: Path, today: date, missing: bool) -> None:
    cal = WorkCalendar(write(tmp_path, "[years]\n"))
    assert (schedule_gap(cal, today) is not None) is missing


def test_missing_override_file_uses_package(tmp_path: Path) -> None:
    cal = WorkCalendar(tmp_path / "absent.toml")
    assert not cal.is_working_day(date(2025, 10, 1))


def test_bad_override_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="another year"):
        WorkCalendar(write(tmp_path, "[years.2030]\nholidays = [2031-01-01]\n"))
    with pytest.raises(ValueError, match="both"):
        WorkCalendar(
            write(tmp_path, "[years.2030]\nholidays = [2030-10-12]\nworkdays = [2030-10-12]\n")
        )


def test_a_date_is_looked_up_once_and_answered_the_same_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chinesecalendar costs ~45 µs a date and a general ticket's deadline asks ~7 dates
    # (docs/scaling.md, twenty-ninth round): each date's answer is kept.
    cal = WorkCalendar(write(tmp_path, "[years]\n"))
    asked: list[date] = []
    real = chinese_calendar.is_workday

    def counted(d: date) -> bool:
        asked.append(d)
        return bool(real(d))

    monkeypatch.setattr(chinese_calendar, "is_workday", counted)
    first = cal.add_working_days(at(2025, 9, 30, 15), 5)
    looked_up = len(asked)
    assert looked_up >= 6  # Sep 30 and the golden week's days up to the fifth working day
    # Oct 9, 10, Sat 11 (调休), 13, 14: the golden week and Sunday 12 are off.
    assert cal.add_working_days(at(2025, 9, 30, 15), 5) == first == at(2025, 10, 14, 15)
    assert len(asked) == looked_up  # the second deadline asked the package nothing
    assert [cal.is_working_day(date(2025, 10, d)) for d in (1, 9, 11, 12)] == [
        False, True, True, False]
