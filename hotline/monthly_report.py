"""The monthly 通报 as a printable HTML file: numbers from ``ticketing.monthly``, charts
drawn here as inline SVG (no script, no CDN: it prints and opens offline), stored under
``<data_dir>/reports/``. Made by the scheduler on the 1st of each month for the month
before, by `hotline report monthly`, and listed in the console (/console/reports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.console import present
from hotline.console.web import templates
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.monthly import MonthlyReport, monthly_report

FILE_PATTERN = re.compile(r"^monthly-(\d{4}-\d{2})\.html$")
COLORS = ("#2563eb", "#94a3b8", "#f59e0b")


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


def report_path(settings: Settings, month: str) -> Path:
    return reports_dir(settings) / f"monthly-{month}.html"


@dataclass(frozen=True)
class StoredReport:
    month: str
    name: str
    size: int


def stored_reports(settings: Settings) -> list[StoredReport]:
    """Reports on disk, newest month first."""
    folder = reports_dir(settings)
    if not folder.is_dir():
        return []
    found = [(m.group(1), p) for p in folder.iterdir() if (m := FILE_PATTERN.match(p.name))]
    return [StoredReport(month, p.name, p.stat().st_size)
            for month, p in sorted(found, reverse=True)]


def hbar_chart(rows: list[tuple[str, float]], *, unit: str = "", width: int = 640,
               bar: int = 18, label_width: int = 220, maximum: float | None = None) -> Markup:
    """Horizontal bars, one per (label, value): the shape of every chart in the report."""
    if not rows:
        return Markup("")
    top = maximum or max((v for _, v in rows), default=0) or 1
    span = width - label_width - 70
    height = len(rows) * (bar + 8) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" class="chart">']
    for i, (label, value) in enumerate(rows):
        y = 8 + i * (bar + 8)
        w = max(0.0, span * value / top)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar - 5}" text-anchor="end" '
            f'font-size="12">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="{bar}" '
            f'fill="{COLORS[0]}"/>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + bar - 5}" font-size="12">'
            f'{value:g}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_chart(rows: list[tuple[str, tuple[int, int, int]]], legend: tuple[str, str, str],
                  *, width: int = 640, label_width: int = 120) -> Markup:
    """Three bars per label (this period, the one before, a year before)."""
    if not rows:
        return Markup("")
    bar, gap = 10, 10
    top = max((max(v) for _, v in rows), default=0) or 1
    span = width - label_width - 50
    height = 28 + len(rows) * (3 * bar + gap)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" class="chart">']
    for k, name in enumerate(legend):
        parts.append(f'<rect x="{label_width + k * 150}" y="4" width="12" height="12" '
                     f'fill="{COLORS[k]}"/><text x="{label_width + k * 150 + 16}" y="14" '
                     f'font-size="12">{escape(name)}</text>')
    for i, (label, values) in enumerate(rows):
        y = 28 + i * (3 * bar + gap)
        parts.append(f'<text x="{label_width - 6}" y="{y + 2 * bar - 2}" text-anchor="end" '
                     f'font-size="12">{escape(label)}</text>')
        for k, v in enumerate(values):
            w = span * v / top
            parts.append(f'<rect x="{label_width}" y="{y + k * bar}" width="{w:.1f}" '
                         f'height="{bar - 1}" fill="{COLORS[k]}"/>'
                         f'<text x="{label_width + w + 3:.1f}" y="{y + k * bar + bar - 2}" '
                         f'font-size="10">{v}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def render(report: MonthlyReport, domain: Domain) -> str:
    rising = report.trends.rising(10)
    charts = {
        "ranking": hbar_chart([(r.name, r.score or 0.0) for r in report.ranking.units[:15]],
                              unit="分", maximum=100),
        "districts": hbar_chart([(p.place, p.tickets) for p in report.districts],
                                unit="件"),
        "rising": grouped_chart(
            [(present.category_label(t.category), (t.current, t.previous, t.last_year))
             for t in rising],
            (f"本月 {report.month}", f"上月 {report.trends.previous}",
             f"去年同期 {report.trends.last_year}")),
    }
    return templates.get_template("monthly_report.html").render(
        r=report, charts=charts, rising=rising, tz=domain.tz)


def generate(sessions: sessionmaker[Session], domain: Domain, month: str) -> Path:
    """Gather, render and store one month's report (replacing an older copy); the path."""
    with transaction(sessions) as session:
        report = monthly_report(session=session, domain=domain, month=month)
        html = render(report, domain)
    path = report_path(domain.settings, month)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)  # readers never see half a file
    return path
