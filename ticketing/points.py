"""Points per ticket, unit and handler (考核计分, docs/metrics.md).

A ticket scores its citizen's verdict — both yes +1, one no −0.5, both no −1
(``service.survey_score``, the latest answered closure round) — plus the penalties a
supervisor flags with a reason: 资料不全 −0.5 (a step without its required evidence) and
重大负面舆情 −3. Penalties are audit events (action ``penalty``) and nothing else: only the
survey path and audited supervisor actions feed the points.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.inputs import InvalidInput, clean_text, has_text
from ticketing.merging import verdict_counted
from ticketing.models import SurveyResult, Ticket, TicketEvent, Unit, User
from ticketing.queries import in_scope, scope_filter
from ticketing.states import Role

PENALTY_EVENT = "penalty"
# kind → (points, label)
PENALTIES: dict[str, tuple[float, str]] = {
    "incomplete": (-0.5, "资料不全"),
    "negative_opinion": (-3.0, "重大负面舆情"),
}
# Who may flag a penalty (the API and the console check the same tuple).
PENALTY_ROLES = (Role.SUPERVISOR, Role.ADMIN)


def flag_penalty(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor,
                 kind: str, reason: str) -> TicketEvent:
    """A supervisor's penalty on a ticket, with the reason; audited, never edited."""
    if kind not in PENALTIES:
        raise InvalidInput("kind", f"kind must be one of {', '.join(PENALTIES)}")
    reason = clean_text(reason or "", field="reason", multiline=True).strip()
    if not has_text(reason):
        raise InvalidInput("reason", "a penalty needs the reason")
    points, label = PENALTIES[kind]
    event = TicketEvent(
        ticket_id=ticket.id, actor_id=actor.id, actor_name=actor.name, role=actor.role.value,
        action=PENALTY_EVENT, note=f"{label}（{points:+g}分）：{reason}",
        data={"kind": kind, "points": points}, at=domain.now(),
    )
    session.add(event)
    session.flush()
    return event


# Years a period may name: its end, the period before it and the year before it (trends)
# are dates in every time zone. 0001-01 in UTC and the month after 9999-12 were no dates:
# a bare 500 from /points, /trends and /rankings.
PERIOD_YEARS = range(1901, 9999)


def period_bounds(period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """"2026", "2026-Q4" or "2026-12" → [start, end) in local time: the year, quarter or
    month totals."""
    year, _, part = period.partition("-")
    try:
        if int(year) not in PERIOD_YEARS:
            raise ValueError(year)
        if part.upper().startswith("Q"):
            quarter = int(part[1:])
            if not 1 <= quarter <= 4:
                raise ValueError(part)
            since = datetime(int(year), 3 * quarter - 2, 1, tzinfo=tz)
            return since, _add_months(since, 3)
        since = datetime(int(year), int(part or 1), 1, tzinfo=tz)
    except ValueError as exc:
        raise InvalidInput("period", f"no such period {period!r}; YYYY, YYYY-Qn or YYYY-MM"
                           ) from exc
    return since, _add_months(since, 1 if part else 12)


def _add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def previous_period(period: str) -> str:
    """The period just before: 2026-01 → 2025-12, 2026-Q1 → 2025-Q4, 2026 → 2025."""
    year, _, part = period.partition("-")
    if not part:
        return str(int(year) - 1)
    if part.upper().startswith("Q"):
        q = int(part[1:])
        return f"{year}-Q{q - 1}" if q > 1 else f"{int(year) - 1}-Q4"
    m = int(part)
    return f"{year}-{m - 1:02d}" if m > 1 else f"{int(year) - 1}-12"


def year_before(period: str) -> str:
    """The same period one year earlier."""
    year, sep, part = period.partition("-")
    return f"{int(year) - 1}{sep}{part}"


@dataclass
class Score:
    code: str  # unit code or user name
    name: str
    tickets: int = 0  # tickets with a survey verdict or a penalty in the period
    survey_points: float = 0.0
    penalty_points: float = 0.0

    @property
    def total(self) -> float:
        return round(self.survey_points + self.penalty_points, 2)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "tickets": self.tickets,
                "survey_points": round(self.survey_points, 2),
                "penalty_points": round(self.penalty_points, 2), "total": self.total}


@dataclass
class Points:
    units: list[Score]
    handlers: list[Score]


def points(*, session: Session, actor: Actor, since: datetime, until: datetime) -> Points:
    """Totals per unit and per handler for verdicts and penalties dated in [since, until)
    (a month or a year), within the actor's scope; best first. A verdict counts at the unit
    whose answer it judged (``SurveyResult.unit_id``, as in reports.loop_counts: a redo
    改派'd elsewhere does not take it along, review106) and at the handler who gave that
    answer (``SurveyResult.handler_id``: a redo 改派'd within the unit does not hand it
    to the next handler, verdict43), both read in that unit's scope; a penalty at the
    ticket's unit and handler."""
    # Each ticket's latest round answered in the period: its verdict stands.
    standing = (select(SurveyResult.ticket_id,
                       func.max(SurveyResult.closure_round).label("round"))
                .join(Ticket, Ticket.id == SurveyResult.ticket_id)
                .where(SurveyResult.outcome == "answered", SurveyResult.at >= since,
                       SurveyResult.at < until,
                       # as the figures count it: not a staff number's, not 剔除'd
                       verdict_counted())
                .group_by(SurveyResult.ticket_id).subquery())
    judged = SurveyResult.unit_id
    # (ticket, unit charged or None, handler charged or None, survey points, penalty points)
    shares: list[tuple[int, int | None, int | None, float, float]] = []
    for tid, uid, hid, score in session.execute(
        select(Ticket.id, judged, SurveyResult.handler_id, SurveyResult.score)
        .join(standing, standing.c.ticket_id == Ticket.id)
        .join(SurveyResult, and_(SurveyResult.ticket_id == Ticket.id,
                                 SurveyResult.closure_round == standing.c.round))
        .where(in_scope(actor, judged))
    ):
        # The handler answered at the judged unit: whoever sees that unit sees them.
        shares.append((tid, uid, hid, score or 0.0, 0.0))
    for tid, uid, hid, data in session.execute(
        select(Ticket.id, Ticket.unit_id, Ticket.handler_id, TicketEvent.data)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(scope_filter(actor), TicketEvent.action == PENALTY_EVENT,
               TicketEvent.at >= since, TicketEvent.at < until)
    ):
        shares.append((tid, uid, hid, 0.0, float((data or {}).get("points", 0.0))))
    unit_names = {i: (c, n) for i, c, n in session.execute(
        select(Unit.id, Unit.code, Unit.name)
        .where(Unit.id.in_({u for _, u, _, _, _ in shares if u is not None})))}
    user_names = {i: (c, n) for i, c, n in session.execute(
        select(User.id, User.username, User.display_name)
        .where(User.id.in_({h for _, _, h, _, _ in shares if h is not None})))}
    units: dict[int, Score] = {}
    handlers: dict[int, Score] = {}
    counted: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for tid, uid, hid, survey, penalty in shares:
        for side, key, names, table in ((0, uid, unit_names, units),
                                        (1, hid, user_names, handlers)):
            if key is None or key not in names:
                continue
            score = table.setdefault(key, Score(*names[key]))
            counted[(side, key)].add(tid)
            score.tickets = len(counted[(side, key)])
            score.survey_points += survey
            score.penalty_points += penalty
    order = lambda s: (-s.total, s.code)  # noqa: E731
    return Points(units=sorted(units.values(), key=order),
                  handlers=sorted(handlers.values(), key=order))
