"""The monthly 通报: every figure of one month in one object, city-wide (docs/metrics.md).

Rendering (HTML with inline SVG charts) and storing the file belong to the composition root
(hotline/monthly_report.py); this module only gathers the numbers, from the same functions
the API and the dashboard use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ticketing import analytics, supervision
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.inputs import InvalidInput
from ticketing.models import SupervisionCase
from ticketing.points import Points, period_bounds, points, previous_period
from ticketing.reports import Figures, figures


@dataclass
class CaseRow:
    case: SupervisionCase
    numbers: list[str]


@dataclass
class MonthlyReport:
    month: str
    since: datetime
    until: datetime
    generated_at: datetime
    overall: Figures
    ranking: analytics.Ranking
    cases: list[CaseRow]
    districts: list[analytics.PlaceCount]
    streets: list[analytics.PlaceCount]
    communities: list[analytics.PlaceCount]
    trends: analytics.Trends
    points: Points


def last_month(domain: Domain, now: datetime | None = None) -> str:
    """The month before the current local month, as YYYY-MM."""
    today = (now or domain.now()).astimezone(domain.tz)
    return previous_period(today.strftime("%Y-%m"))


def monthly_report(*, session: Session, domain: Domain, month: str) -> MonthlyReport:
    if len(month) != 7 or month[4] != "-":
        raise InvalidInput("month", f"no such month {month!r}; YYYY-MM")
    since, until = period_bounds(month, domain.tz)
    actor = Actor.system("report")
    now = domain.now()
    window = domain.utility_window
    opened = supervision.cases(session=session, actor=actor, since=since, until=until,
                               limit=200)
    hot = {level: analytics.place_hot_spots(session=session, actor=actor, level=level,
                                            since=since, until=until, by_category=False,
                                            min_tickets=1, limit=10)
           for level in ("district", "street")}
    return MonthlyReport(
        month=month, since=since, until=until, generated_at=now,
        overall=figures(session=session, actor=actor, now=now, since=since, until=until,
                        utility_window=window),
        ranking=analytics.ranking(session=session, actor=actor, period=month, tz=domain.tz,
                                  now=now),
        cases=[CaseRow(c, supervision.case_tickets(session=session, case_id=c.id))
               for c in opened],
        districts=hot["district"],
        streets=hot["street"],
        communities=analytics.place_hot_spots(session=session, actor=actor,
                                              level="community", since=since, until=until,
                                              min_tickets=2, limit=15),
        trends=analytics.trends(session=session, actor=actor, period=month, tz=domain.tz),
        points=points(session=session, actor=actor, since=since, until=until),
    )
