"""The analytics side of the closed loop (docs/metrics.md): hot spots by place, 一诉多办
(related tickets and communities over a threshold), 未诉先办 (categories rising against
the previous period and the same period last year) and 红黑榜 (unit rankings).

Everything here is a GROUP BY in SQL over the tickets received in a period; Python only
orders the few aggregated rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.models import Ticket, Unit
from ticketing.points import period_bounds, points, previous_period, year_before
from ticketing.queries import caller_visible, in_scope, may_see_caller, scope_filter
from ticketing.reports import LoopCounts, loop_counts
from ticketing.states import Status

# Grouping levels of hot spots: the place columns each groups by.
LEVELS: dict[str, tuple[Any, ...]] = {
    "district": (Ticket.district,),
    "street": (Ticket.district, Ticket.street),
    "community": (Ticket.district, Ticket.street, Ticket.community),
}


def _utc(value: datetime) -> datetime:
    # SQLite hands aggregates (max) back naive; they are UTC like every stored time.
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))


@dataclass(frozen=True)
class PlaceCount:
    district: str | None
    street: str | None
    community: str | None
    category: str | None
    tickets: int
    latest: datetime

    @property
    def place(self) -> str:
        return "".join(p for p in (self.district, self.street, self.community) if p) or "未知地点"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "place": self.place}


def place_hot_spots(*, session: Session, actor: Actor, level: str = "community",
                    since: datetime | None = None, until: datetime | None = None,
                    by_category: bool = True, min_tickets: int = 2, limit: int = 20
                    ) -> list[PlaceCount]:
    """Places (district, street or community) with the most tickets, most first; a place
    the caller did not name at that level is left out (an unnamed community is not one)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}")
    cols = LEVELS[level]
    conds = [scope_filter(actor), Ticket.status != Status.EXCLUDED.value, cols[-1].is_not(None)]
    if since is not None:
        conds.append(Ticket.received_at >= since)
    if until is not None:
        conds.append(Ticket.received_at < until)
    keys = (*cols, Ticket.category) if by_category else cols
    n = func.count(Ticket.id)
    rows = session.execute(
        select(*keys, n, func.max(Ticket.received_at)).where(*conds).group_by(*keys)
        .having(n >= min_tickets).order_by(n.desc(), func.max(Ticket.received_at).desc())
        .limit(limit)
    ).all()
    out = []
    for row in rows:
        place = list(row[:len(cols)]) + [None] * (3 - len(cols))
        category = row[len(cols)] if by_category else None
        out.append(PlaceCount(place[0], place[1], place[2], category, row[-2], _utc(row[-1])))
    return out


# --- 一诉多办 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    number: str
    received_at: datetime
    status: str
    subject: str
    unit: str | None
    same: str  # "community" or "street": how near it is

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def related_tickets(*, session: Session, actor: Actor, ticket: Ticket, now: datetime,
                    days: float, limit: int = 20) -> list[Related]:
    """Recent tickets of the same category in the same community, else the same street:
    what the handler of ``ticket`` may solve in one go, whichever unit holds them. Shown by
    number, state and subject only (no caller). Like a duplicate link (queries.may_see_link)
    the list ties tickets together, so it is shown only to whom may see the caller of both:
    a confidential ticket beside a plain one at the same place would point at who called."""
    if (not ticket.community and not ticket.street) or not may_see_caller(actor, ticket):
        return []
    near = []
    if ticket.community:
        near.append(Ticket.community == ticket.community)
    if ticket.street:
        near.append(Ticket.street == ticket.street)
    district = (Ticket.district.is_(None) if ticket.district is None
                else Ticket.district == ticket.district)
    rows = session.execute(
        select(Ticket, Unit.name).outerjoin(Unit, Unit.id == Ticket.unit_id)
        .where(Ticket.id != ticket.id, Ticket.category == ticket.category, district,
               caller_visible(actor),
               or_(*near), Ticket.received_at >= now - timedelta(days=days),
               Ticket.status != Status.EXCLUDED.value)
        .order_by(Ticket.received_at.desc()).limit(limit)
    ).all()
    return [Related(
        number=t.number, received_at=t.received_at, status=t.status,
        subject=t.subject, unit=unit_name,
        same="community" if ticket.community and t.community == ticket.community else "street",
    ) for t, unit_name in rows]


def community_warnings(*, session: Session, actor: Actor, now: datetime, days: float,
                       threshold: int, limit: int = 20) -> list[PlaceCount]:
    """Communities with at least ``threshold`` tickets of one category in the last ``days``
    (一诉多办: one problem many citizens raise), most first."""
    return place_hot_spots(session=session, actor=actor, level="community",
                           since=now - timedelta(days=days), min_tickets=threshold,
                           limit=limit)


# --- 未诉先办 ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    category: str
    district: str | None  # None: the whole city
    current: int
    previous: int  # the period before
    last_year: int  # the same period a year earlier

    @property
    def rise(self) -> int:
        return self.current - self.previous

    @staticmethod
    def _ratio(now: int, then: int) -> float | None:
        return round((now - then) / then, 4) if then else None

    @property
    def vs_previous(self) -> float | None:
        return self._ratio(self.current, self.previous)

    @property
    def vs_last_year(self) -> float | None:
        return self._ratio(self.current, self.last_year)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rise": self.rise, "vs_previous": self.vs_previous,
                "vs_last_year": self.vs_last_year}


@dataclass
class Trends:
    period: str
    previous: str
    last_year: str
    by_district: list[Trend] = field(default_factory=list)
    by_category: list[Trend] = field(default_factory=list)

    def rising(self, limit: int = 10) -> list[Trend]:
        """Categories rising fastest (city-wide): the largest increase over the previous
        period first, then over last year, then the larger count."""
        up = [t for t in self.by_category if t.rise > 0 or
              (t.current > t.last_year and t.rise == 0)]
        return sorted(up, key=_rising_order)[:limit]

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "previous": self.previous, "last_year": self.last_year,
                "rising": [t.as_dict() for t in self.rising()],
                "by_category": [t.as_dict() for t in self.by_category],
                "by_district": [t.as_dict() for t in self.by_district]}


def _rising_order(t: Trend) -> tuple[int, int, int, str, str]:
    return (-t.rise, -(t.current - t.last_year), -t.current, t.category, t.district or "")


def trends(*, session: Session, actor: Actor, period: str, tz: ZoneInfo) -> Trends:
    """Tickets per category and district in ``period``, the period before and the same
    period last year, in one pass over the three ranges."""
    prev, ly = previous_period(period), year_before(period)
    spans = {name: period_bounds(p, tz) for name, p in
             (("current", period), ("previous", prev), ("last_year", ly))}

    def within(name: str) -> Any:
        lo, hi = spans[name]
        return func.sum(case(((Ticket.received_at >= lo) & (Ticket.received_at < hi), 1),
                             else_=0))

    rows = session.execute(
        select(Ticket.category, Ticket.district, within("current"), within("previous"),
               within("last_year"))
        .where(scope_filter(actor), Ticket.status != Status.EXCLUDED.value,
               or_(*[(Ticket.received_at >= lo) & (Ticket.received_at < hi)
                     for lo, hi in spans.values()]))
        .group_by(Ticket.category, Ticket.district)
    ).all()
    by_district = [Trend(c, d, int(a or 0), int(b or 0), int(y or 0)) for c, d, a, b, y in rows]
    totals: dict[str, list[int]] = {}
    for t in by_district:
        acc = totals.setdefault(t.category, [0, 0, 0])
        acc[0] += t.current
        acc[1] += t.previous
        acc[2] += t.last_year
    by_category = [Trend(c, None, *v) for c, v in totals.items()]
    return Trends(period=period, previous=prev, last_year=ly,
                  by_district=sorted(by_district, key=_rising_order),
                  by_category=sorted(by_category, key=_rising_order))


# --- 红黑榜 -----------------------------------------------------------------------------

# The rates a unit is ranked on, in the order docs/metrics.md lists them (三率两度).
RANKED_RATES = ("on_time_closure_rate", "feedback_rate", "resolution_rate",
                "satisfaction_rate", "match_rate")
LIST_SIZE = 3


@dataclass(frozen=True)
class Ranked:
    rank: int
    code: str
    name: str
    score: float | None  # mean of the 三率两度 the unit has, in percent
    points: float
    figures: LoopCounts  # the counts its rates come from

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "code": self.code, "name": self.name, "score": self.score,
                "points": self.points, "tickets": self.figures.tickets,
                **{k: getattr(self.figures, k) for k in RANKED_RATES}}


@dataclass
class Ranking:
    period: str
    units: list[Ranked]

    @property
    def scored(self) -> list[Ranked]:
        return [r for r in self.units if r.score is not None]

    @property
    def red(self) -> list[Ranked]:
        """红榜: the best scored units (at most LIST_SIZE, never more than half)."""
        return self.scored[:min(LIST_SIZE, len(self.scored) // 2)]

    @property
    def black(self) -> list[Ranked]:
        """黑榜: the worst scored units, worst first (never a unit also on the red list);
        a unit with no rate yet is on neither."""
        scored = self.scored
        n = min(LIST_SIZE, len(scored) // 2)
        return list(reversed(scored[len(scored) - n:])) if n else []

    def as_dict(self) -> dict[str, Any]:
        return {"period": self.period, "units": [r.as_dict() for r in self.units],
                "red": [r.code for r in self.red], "black": [r.code for r in self.black]}


def composite(f: LoopCounts) -> float | None:
    rates = [getattr(f, k) for k in RANKED_RATES if getattr(f, k) is not None]
    return round(100 * sum(rates) / len(rates), 2) if rates else None


def ranking(*, session: Session, actor: Actor, period: str, tz: ZoneInfo,
            now: datetime) -> Ranking:
    """Units with tickets received in ``period`` (month, quarter or year), ranked by the
    mean of their 三率两度, then their points, then their tickets (docs/metrics.md). Every
    unit's counts come from one grouped query (reports.loop_counts), the definitions
    figures() uses too. (The utility window does not enter the ranked rates.)"""
    since, until = period_bounds(period, tz)
    # Scope is by unit (queries.in_scope): a unit in scope has all its tickets in it, and
    # the misses it is charged with of tickets that have left it (loop_counts).
    per_unit = loop_counts(
        session=session, now=now, per_unit=True,
        conds=[Ticket.received_at >= since, Ticket.received_at < until],
        within=lambda unit_id: and_(unit_id.is_not(None), in_scope(actor, unit_id)))
    scores = {s.code: s.total for s in points(session=session, actor=actor, since=since,
                                              until=until).units}
    rows = []
    for unit in session.scalars(select(Unit).where(Unit.id.in_(list(per_unit)))):
        f = per_unit[unit.id]
        rows.append((unit, f, composite(f), scores.get(unit.code, 0.0)))
    rows.sort(key=lambda r: (r[2] is None, -(r[2] or 0.0), -r[3], -r[1].tickets, r[0].code))
    return Ranking(period=period, units=[
        Ranked(rank=i + 1, code=u.code, name=u.name, score=score, points=pts, figures=f)
        for i, (u, f, score, pts) in enumerate(rows)])
