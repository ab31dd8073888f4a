"""The supervisors' dashboard: 三率 per unit, tickets per category and day, hot spots, and
what is happening right now (calls in progress, the ASR backlog, today's escalations).

Figures come from ``ticketing.reports`` (definitions in docs/metrics.md); this module only
chooses periods and units and shapes the numbers for charts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from asr.jobs import JobStatus, TranscriptionJob
from hotline import monthly_report
from hotline.console import present
from hotline.console.web import Forbidden, Work, error_page, page, render, work
from ivr.callrecords import CallOutcome, CallRecord, calls_up
from ticketing import analytics, supervision
from ticketing.actors import mask_phone
from ticketing.inputs import echoed
from ticketing.models import Ticket, TicketEvent, Unit
from ticketing.points import Points, period_bounds, points
from ticketing.queries import in_scope, scope_filter, unit_named, unit_scope
from ticketing.reports import FIGURE_ROLES, LoopCounts, figures, hot_spots, loop_counts

router = APIRouter()

PERIODS = {"today": ("今日", 1), "7d": ("近7天", 7), "30d": ("近30天", 30)}
MAX_UNIT_ROWS = 20


@dataclass(frozen=True)
class UnitRow:
    unit: Unit
    f: LoopCounts


@dataclass(frozen=True)
class DayBar:
    day: date
    count: int
    x: float
    height: float


def _period_start(w: Work, days: int) -> tuple[datetime, list[date]]:
    today = w.domain.now().astimezone(w.domain.tz).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=w.domain.tz)
    return start, [first + timedelta(days=i) for i in range(days)]


def _units_in_scope(w: Work) -> list[Unit]:
    # The scope rule's own (queries.unit_scope), not a second copy of it (review21: the copy
    # gave a supervisor without a unit path every unit where the rule gives none; add_user
    # gives every supervisor a unit, so the pickers of today's accounts are unchanged).
    return list(w.session.scalars(select(Unit).where(unit_scope(w.actor)).order_by(Unit.path)))


def unit_rows(*, session: Session, conds: list[object], within: Callable[[Any], Any],
              now: datetime, limit: int = MAX_UNIT_ROWS) -> list[UnitRow]:
    """The units with the most tickets matching ``conds`` held by a unit ``within`` takes
    (the reader's scope, the unit chosen), and their rates, each unit's own tickets only
    (not its subtree's), with the misses it is charged with of tickets that have left it:
    the grouped query the 红黑榜 is built on (reports.loop_counts), not figures() once per
    unit."""
    top = session.execute(
        select(Ticket.unit_id, func.count(Ticket.id))
        .where(*conds, within(Ticket.unit_id), Ticket.unit_id.is_not(None))
        .group_by(Ticket.unit_id)
        .order_by(func.count(Ticket.id).desc(), Ticket.unit_id)
        .limit(limit)
    ).all()
    ids = [unit_id for unit_id, _ in top]
    if not ids:
        return []
    counts = loop_counts(session=session, now=now, per_unit=True, conds=conds,
                         within=lambda unit_id: and_(within(unit_id), unit_id.in_(ids)))
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [UnitRow(units[i], counts.get(i, LoopCounts())) for i in ids if i in units]


def _category_days(w: Work, conds: list[object], days: list[date]
                   ) -> tuple[list[tuple[str, list[int], int]], int, list[DayBar]]:
    """Tickets per category (rows) and local day (columns), and the daily totals as bars."""
    grid: Counter[tuple[str, date]] = Counter()
    for received, category in w.session.execute(
        select(Ticket.received_at, Ticket.category).where(*conds)
    ):
        # Bucketed here, not in SQL: local days in Asia/Shanghai, the same on both databases.
        grid[(category, received.astimezone(w.domain.tz).date())] += 1
    totals = Counter[str]()
    for (category, _), n in grid.items():
        totals[category] += n
    rows = [(c, [grid[(c, d)] for d in days], totals[c]) for c, _ in totals.most_common()]
    peak = max(grid.values(), default=0)
    per_day = [sum(grid[(c, d)] for c in totals) for d in days]
    top = max(per_day, default=0) or 1
    width = 600 / max(len(days), 1)
    bars = [DayBar(d, n, i * width, 100 * n / top) for i, (d, n) in enumerate(zip(days, per_day,
                                                                               strict=True))]
    return rows, peak, bars


def _month_points(w: Work) -> tuple[str, Points]:
    """This month's points per unit and handler (seed 000 scoring, ticketing.points)."""
    month = w.domain.now().astimezone(w.domain.tz).strftime("%Y-%m")
    since, until = period_bounds(month, w.domain.tz)
    return month, points(session=w.session, actor=w.actor, since=since, until=until)


def _escalations_today(w: Work) -> list[tuple[TicketEvent, str]]:
    start, _ = _period_start(w, 1)
    found = w.session.execute(
        select(TicketEvent, Ticket.number)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(scope_filter(w.actor), TicketEvent.at >= start)
        .order_by(TicketEvent.at.desc())
    ).all()
    # Which events count is decided by present.event_is_escalation (action or outbound
    # kind): cheaper to read one day's events than to query JSON on two databases.
    return [(e, number) for e, number in found if present.event_is_escalation(e)][:50]


def _analytics(w: Work, since: datetime) -> dict[str, object]:
    """The closed loop's side of the dashboard: 督办, hot places, 一诉多办 warnings,
    未诉先办 and 红黑榜 of this month."""
    cfg = w.domain.settings.analytics
    now = w.domain.now()
    month = now.astimezone(w.domain.tz).strftime("%Y-%m")
    open_cases = supervision.cases(session=w.session, actor=w.actor, open_only=True, limit=20)
    return {
        "cases": [(c, supervision.case_tickets(session=w.session, case_id=c.id,
                                               actor=w.actor))
                  for c in open_cases],
        "hot_places": {level: analytics.place_hot_spots(
            session=w.session, actor=w.actor, level=level, since=since, by_category=False,
            min_tickets=1, limit=8) for level in ("district", "street", "community")},
        "warnings": analytics.community_warnings(
            session=w.session, actor=w.actor, now=now, days=cfg.related_window_days,
            threshold=cfg.community_warn_tickets),
        "warn_days": cfg.related_window_days,
        "warn_tickets": cfg.community_warn_tickets,
        "trends": analytics.trends(session=w.session, actor=w.actor, period=month,
                                   tz=w.domain.tz),
        "ranking": analytics.ranking(session=w.session, actor=w.actor, period=month,
                                     tz=w.domain.tz, now=now),
    }


def _chosen_unit(w: Work, units: list[Unit], code: str) -> Unit | None:
    """The unit ``?unit=`` names: one of the picker's, or (the API's rule) any unit, whose
    figures the reader's scope then narrows; ``LookupError`` for a code no unit has. An
    unknown code was dropped and the page showed the whole scope as if it were that unit's
    (review65)."""
    if not code:
        return None
    return next((u for u in units if u.code == code), None) or unit_named(w.session, code)


@router.get("/dashboard")
@page
def dashboard(request: Request, period: str = "7d", unit: str = "") -> Response:
    with work(request) as w:
        w.require(*FIGURE_ROLES)
        if period not in PERIODS:
            period = "7d"
        since, days = _period_start(w, PERIODS[period][1])
        units = _units_in_scope(w)
        try:
            chosen = _chosen_unit(w, units, unit.strip())
        except LookupError:
            return error_page(request, 404, "没有这个单位",
                              f"单位代码“{echoed(unit)}”不存在，请从列表中选择单位。")
        received: list[object] = [Ticket.received_at >= since]

        def within(unit_id: Any) -> Any:
            if chosen is None:
                return in_scope(w.actor, unit_id)
            return and_(in_scope(w.actor, unit_id),
                        unit_id.in_(select(Unit.id).where(Unit.path.startswith(chosen.path))))

        conds = [*received, within(Ticket.unit_id)]
        overall = figures(session=w.session, actor=w.actor, now=w.domain.now(), since=since,
                          unit_code=chosen.code if chosen else None,
                          utility_window=w.domain.utility_window)
        grid, peak, bars = _category_days(w, conds, days)
        calls = list(w.session.scalars(
            select(CallRecord).where(*calls_up(w.domain.now()))
            .order_by(CallRecord.arrived_at).limit(20)))
        # Records a restored database left in progress, settled by recovery with no way
        # to know how the call ended (``ivr.intake.settle_lost_records``): said, not hidden.
        lost_calls = w.session.scalar(select(func.count(CallRecord.id)).where(
            CallRecord.outcome == CallOutcome.LOST_AT_RESTORE.value)) or 0
        asr_counts = dict(w.session.execute(
            select(TranscriptionJob.status, func.count(TranscriptionJob.id))
            .group_by(TranscriptionJob.status)).all())
        oldest_job = w.session.scalar(
            select(func.min(TranscriptionJob.created_at))
            .where(TranscriptionJob.status == JobStatus.PENDING.value))
        return render(request, "dashboard.html", {
            "period": period,
            "periods": PERIODS,
            "units": units,
            "unit": chosen.code if chosen else "",
            "overall": overall,
            "unit_rows": unit_rows(session=w.session, conds=received, within=within,
                                   now=w.domain.now()),
            "days": days,
            "grid": grid,
            "peak": peak,
            "bars": bars,
            "hot": hot_spots(session=w.session, actor=w.actor, since=since, limit=10),
            "calls": [(c, mask_phone(c.caller)) for c in calls],
            "lost_calls": lost_calls,
            "asr_pending": asr_counts.get(JobStatus.PENDING.value, 0),
            "asr_failed": asr_counts.get(JobStatus.FAILED.value, 0),
            "asr_oldest": oldest_job,
            "escalations": _escalations_today(w),
            "points": _month_points(w),
            **_analytics(w, since),
        })


def _may_read_reports(w: Work) -> None:
    w.require(*FIGURE_ROLES)
    if not w.me.reads_reports:  # (web.reads_city_reports, the menu's rule)
        raise Forbidden("月度通报为全市数据，仅市级督办员、话务员和管理员可查看。")


@router.get("/reports")
@page
def reports(request: Request) -> Response:
    with work(request) as w:
        _may_read_reports(w)
        return render(request, "reports.html", {
            "reports": monthly_report.stored_reports(w.domain.settings)})


@router.get("/reports/{name}")
@page
def report_file(name: str, request: Request) -> Response:
    with work(request) as w:
        _may_read_reports(w)
        if not monthly_report.FILE_PATTERN.match(name):
            return Response("no such report", status_code=404)
        path = monthly_report.reports_dir(w.domain.settings) / name
        if not path.is_file():
            return Response("no such report", status_code=404)
        return FileResponse(path, media_type="text/html; charset=utf-8")
