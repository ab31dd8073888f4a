"""Figures (三率 and on-time closure), hot spots (多诉) and the Excel-friendly CSV export.

Definitions are in docs/metrics.md; excluded (剔除) tickets are out of every denominator.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased, joinedload, sessionmaker

from ticketing.actors import Actor
from ticketing.classify import (
    KIND_LABELS,
    UTILITY_CATEGORIES,
    category_label,
    sub_category_text,
)
from ticketing.deadlines import passed
from ticketing.inputs import csv_cell
from ticketing.merging import (
    answer_counted,
    still_counted,
    still_counted_sql,
    verdict_counted,
)
from ticketing.models import SurveyResult, Ticket, TicketEvent, Unit, UTCDateTime
from ticketing.phones import domestic
from ticketing.queries import (
    Filters,
    caller_phone_for,
    conditions,
    in_scope,
    is_overdue,
    may_see_caller,
    scope_filter,
    unit_named,
)
from ticketing.service import (
    LEFT_LATE_CLOSE,
    LEFT_LATE_REPLY,
    LEFT_LATE_SIGN,
    MISSED_CLOSE,
    MISSED_REPLY,
    MISSED_SIGN,
    REPLY_OUTCOMES,
    leavings,
    present_sign_sql,
)
from ticketing.states import STATUS_LABELS, Action, Role, Status

# Who reads the figures (三率两度, points, hot spots, trends, rankings, the supervision
# records): the API's endpoints and the console's dashboard check this one tuple (the console
# kept a copy of its own, and /stats, /points and /hotspots spelt it out again).
FIGURE_ROLES = (Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


@dataclass(frozen=True)
class Figures:
    tickets: int
    excluded: int
    dispatched: int
    signed_in_time: int
    response_rate: float | None  # 响应率
    due: int
    closed_on_time: int
    on_time_closure_rate: float | None  # 按时办结率
    surveyed: int
    resolved: int
    satisfied: int
    resolution_rate: float | None  # 解决率
    satisfaction_rate: float | None  # 满意率
    average_score: float | None  # mean survey score in [−1, 1]
    unreachable: int
    overdue: int  # open and past the deadline now (ticketing.queries.overdue)
    utilities: int  # 水电气暖 tickets dispatched, or undispatched past their window
    utilities_dispatched_in_window: int
    utility_dispatch_rate: float | None  # dispatched within the window (10 minutes)
    replied_on_time: int
    feedback_rate: float | None  # 反馈率: replied by the deadline / due
    matched: int
    compared: int
    match_rate: float | None  # 办理情况契合度: handler's answer agrees with the citizen's
    closed: int
    average_handling_hours: float | None  # 平均办理时长: call → 办结, closed tickets
    # 直接答复: answered at intake, never dispatched; 直办率 = these over all tickets.
    answered_directly: int = 0
    direct_answer_rate: float | None = None
    # 并单: tickets merged into another's group (ticketing.merging.still_counted says what
    # they still count for).
    merged: int = 0

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


@dataclass(frozen=True)
class LoopCounts:
    """The counts behind 按时办结率, 反馈率, 解决率, 满意率 and 契合度 (docs/metrics.md), of
    all tickets or of one group (a unit): excluded tickets are out, the latest closure
    round's survey answer is the one that stands."""

    tickets: int = 0
    dispatched: int = 0
    signed_in_time: int = 0  # dispatched, and signed by the sign-by time
    due: int = 0  # closed, or past the deadline now
    closed_on_time: int = 0
    replied_on_time: int = 0
    surveyed: int = 0  # answered surveys
    resolved: int = 0
    satisfied: int = 0
    compared: int = 0  # answered surveys of tickets with a handler's outcome
    matched: int = 0

    @property
    def response_rate(self) -> float | None:
        return _rate(self.signed_in_time, self.dispatched)

    @property
    def on_time_closure_rate(self) -> float | None:
        return _rate(self.closed_on_time, self.due)

    @property
    def feedback_rate(self) -> float | None:
        return _rate(self.replied_on_time, self.due)

    @property
    def resolution_rate(self) -> float | None:
        return _rate(self.resolved, self.surveyed)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.surveyed)

    @property
    def match_rate(self) -> float | None:
        return _rate(self.matched, self.compared)


# The sides a ticket is counted on (loop_counts), each in the figures of the unit it is
# charged to: its own (the tickets: the unit holding it now), its 签收 (响应率) and its
# deadline (按期办结率, 反馈率: the unit that missed it, else the one holding it now), and
# its survey verdict (解决率, 满意度, 契合度: the unit whose answer the citizen judged,
# ``SurveyResult.unit_id``, none for the hotline's own 直接答复 whatever unit holds the
# redo; counted on the own row when that is the unit holding it, on a verdict row only when
# it is another).
_OWN, _SIGN, _DUE, _VERDICT = 0, 1, 2, 3


Miss = Callable[[Any], tuple[Any, Any]]


def _miss(left: str, flag: str) -> Miss:
    """For an event ``e``: whether it records a deadline missed, and the code of the unit
    it charges: the unit the ticket left late (``left``, service.leaving), or (``flag``)
    the unit a 派单/改派 brought it back to with its window missed, or whose closed round
    a 驳回重办 reopened late (``unit`` on the event)."""
    def miss(e: Any) -> tuple[Any, Any]:
        code = e.data[left].as_string()
        return (or_(code.is_not(None), e.data[flag].as_boolean().is_(True)),
                case((code.is_not(None), code), else_=e.data["unit"].as_string()))
    return miss


_sign_miss = _miss(LEFT_LATE_SIGN, MISSED_SIGN)  # the sign window (响应率)
_reply_miss = _miss(LEFT_LATE_REPLY, MISSED_REPLY)  # 反馈 by the deadline (反馈率)
_close_miss = _miss(LEFT_LATE_CLOSE, MISSED_CLOSE)  # 办结 by the deadline (按期办结率)


def _charged(ids: Any, *misses: Miss) -> Any:
    """(ticket_id, unit_id): the unit charged with the first miss (of ``misses``) each
    ticket of ``ids`` has on its trail; unit_id NULL when the event names no unit (a
    驳回重办 recorded before mend89: the unit holding the ticket is charged, as before)."""
    e = aliased(TicketEvent)
    conds = [m(e)[0] for m in misses]
    first = (select(e.ticket_id, func.min(e.id).label("event_id"))
             .where(e.ticket_id.in_(ids), e.action.in_(_CHARGING), or_(*conds))
             .group_by(e.ticket_id).subquery())
    ev, unit = aliased(TicketEvent), aliased(Unit)
    code = case(*((m(ev)[0], m(ev)[1]) for m in misses))
    return (select(first.c.ticket_id, unit.id.label("unit_id"))
            .join(ev, ev.id == first.c.event_id)
            .outerjoin(unit, unit.code == code).subquery())


def _latest_answered_round(among: Any = None) -> Any:
    """(ticket_id, round): each ticket's latest answered closure round, whose verdict
    stands (docs/metrics.md); of the tickets ``among`` (ids) only, when given."""
    return (select(SurveyResult.ticket_id, func.max(SurveyResult.closure_round).label("round"))
            .where(SurveyResult.outcome == "answered",
                   *([] if among is None else [SurveyResult.ticket_id.in_(among)]))
            .group_by(SurveyResult.ticket_id).subquery())


def _verdict_scores(session: Session, received: list[Any],
                    within: Callable[[Any], Any]) -> list[float]:
    """The scores of the verdicts ``loop_counts`` counts: each ticket's standing answer,
    a staff number's left out, charged to the unit whose answer it judged."""
    latest, survey = _latest_answered_round(), aliased(SurveyResult)
    return [float(x) for x in session.scalars(
        select(survey.score).join(Ticket, Ticket.id == survey.ticket_id)
        .join(latest, and_(latest.c.ticket_id == survey.ticket_id,
                           latest.c.round == survey.closure_round))
        .where(*received, verdict_counted(),
               survey.score.is_not(None), within(survey.unit_id)))]


# The events that record a miss: a 驳回重办 (the round it closed), a 派单/改派 back to a unit
# that missed its window, every event taking a ticket away from a unit (service.leaving).
_CHARGING = (Action.REJECT.value, *leavings())


def loop_counts(*, session: Session, conds: list[Any], now: datetime, by: Any = None,
                within: Callable[[Any], Any] | None = None,
                per_unit: bool = False) -> dict[Any, LoopCounts]:
    """:class:`LoopCounts` of the tickets matching ``conds``, per value of the column ``by``
    or, with ``per_unit``, per unit (all in one row keyed None without either): one grouped
    query, whatever the groups.

    A miss is the unit's that missed it (docs/metrics.md, "Whose miss"): a ticket that left
    a unit with its sign window or its deadline missed (改派, 退单, following its primary),
    or whose round a 驳回重办 reopened late, counts not in time in the 响应率 (the sign
    window) or the 按期办结率 and 反馈率 (the deadline) of the unit named on that event (the
    first such), wherever it is now; everything else of it counts at the unit holding it.
    ``within`` is the unit condition (the reader's scope, a unit filter) as a function of a
    unit-id column: it is applied to the unit each side of a ticket is charged to, so a
    miss stays in its unit's figures after the ticket has left that unit's scope; a unit
    condition in ``conds`` instead is on the unit holding the ticket."""
    latest_round = _latest_answered_round()
    survey = aliased(SurveyResult)
    counted = Ticket.status != Status.EXCLUDED.value
    # Only the events of the tickets ``conds`` picks: every ticket has a dispatch event, and
    # a month's figures read a month's, not the whole table's.
    ids = select(Ticket.id).where(*conds)
    judged = aliased(SurveyResult)
    # The unit whose answer the standing verdict judged: a redo sent elsewhere does not
    # take the verdict with it (judge41). Only a verdict on another unit's answer than the
    # holder's needs a row of its own: the rest count on the ticket's own row (a fourth row
    # for every ticket cost loop_counts 5-18 %, review106).
    verdict_unit = (select(judged.ticket_id, judged.unit_id)
                    .join(latest_round, and_(latest_round.c.ticket_id == judged.ticket_id,
                                             latest_round.c.round == judged.closure_round))
                    .where(judged.ticket_id.in_(ids))
                    .subquery())

    # Deadlines missed before (a round reopened by 驳回重办, a sign window before a 改派,
    # a unit left late): the new deadlines do not make the ticket on time
    # (service.missed_in_round, service.leaving). One row per ticket that has such events.
    def flagged(miss: Miss) -> Any:
        return func.max(case((miss(TicketEvent)[0], 1), else_=0))

    missed = (select(TicketEvent.ticket_id, flagged(_sign_miss).label("sign"),
                     flagged(_reply_miss).label("reply"), flagged(_close_miss).label("close"))
              .where(TicketEvent.action.in_(_CHARGING), TicketEvent.ticket_id.in_(ids))
              .group_by(TicketEvent.ticket_id).subquery())

    def missed_before(flag: str) -> Any:
        return func.coalesce(missed.c[flag], 0) == 1

    # Who each side is charged to: 反馈 and 办结 share one deadline and one denominator (due),
    # so the first miss of either names the unit.
    sign_unit = _charged(ids, _sign_miss)
    due_unit = _charged(ids, _reply_miss, _close_miss)
    sides = union_all(
        select(Ticket.id.label("ticket_id"), Ticket.unit_id.label("unit_id"),
               literal(_OWN, Integer).label("side")).where(*conds),
        select(Ticket.id, func.coalesce(sign_unit.c.unit_id, Ticket.unit_id),
               literal(_SIGN, Integer))
        .outerjoin(sign_unit, sign_unit.c.ticket_id == Ticket.id).where(*conds),
        select(Ticket.id, func.coalesce(due_unit.c.unit_id, Ticket.unit_id),
               literal(_DUE, Integer))
        .outerjoin(due_unit, due_unit.c.ticket_id == Ticket.id).where(*conds),
        select(Ticket.id, verdict_unit.c.unit_id, literal(_VERDICT, Integer))
        .join(verdict_unit, verdict_unit.c.ticket_id == Ticket.id)
        .where(*conds, verdict_unit.c.unit_id.is_distinct_from(Ticket.unit_id)),
    ).subquery()
    own, sign_side, due_side, verdict_side = (
        sides.c.side == side for side in (_OWN, _SIGN, _DUE, _VERDICT))

    # A ticket counts for on-time closure (and feedback) once it is closed or its deadline
    # has passed, or an earlier round was late.
    due = and_(due_side, counted, Ticket.due_at.is_not(None),
               or_(Ticket.closed_at.is_not(None), passed(Ticket.due_at, now),
                   missed_before("close"), missed_before("reply")),
               still_counted_sql(Ticket.due_at))
    # A staff member's answer is no citizen's (ticketing.staff_phones): kept, not counted.
    moved = survey.unit_id.is_distinct_from(Ticket.unit_id)
    answered = and_(or_(verdict_side, and_(own, ~moved)), survey.outcome == "answered",
                    verdict_counted())
    heard_resolved = survey.resolved.is_(True)
    # 契合度: "resolved" against "resolved"; partly / not resolvable against "not resolved".
    # The answer the verdict judged, stored with it: a redo's reply is another round's and
    # must not rewrite the match of the round the citizen answered (judge41).
    said = and_(survey.reply_outcome.is_not(None), survey.reply_outcome != "")
    agree = or_(and_(survey.reply_outcome == "resolved", heard_resolved),
                and_(survey.reply_outcome != "resolved", or_(survey.resolved.is_(None),
                                                             survey.resolved.is_(False))))

    def n(*when: Any) -> Any:
        return func.coalesce(func.sum(case((and_(*when), 1), else_=0)), 0)

    dispatched = and_(sign_side, counted, Ticket.dispatched_at.is_not(None),
                      still_counted_sql(Ticket.sign_due_at))
    signed = present_sign_sql()  # by the unit it is at (a merged ticket's may be another's)
    if per_unit and by is not None:
        raise ValueError("group by one thing: a column or the unit charged")
    keys = [sides.c.unit_id] if per_unit else [] if by is None else [by]
    rows = session.execute(
        select(*keys, n(own, counted), n(dispatched),
               n(dispatched, signed.is_not(None), Ticket.sign_due_at.is_not(None),
                 signed <= Ticket.sign_due_at, ~missed_before("sign")),
               n(due),
               n(due, Ticket.done_at.is_not(None), Ticket.done_at <= Ticket.due_at,
                 ~missed_before("close")),
               n(due, Ticket.replied_at.is_not(None), Ticket.replied_at <= Ticket.due_at,
                 ~missed_before("reply")),
               n(answered), n(answered, heard_resolved),
               n(answered, survey.satisfied.is_(True)),
               n(answered, said), n(answered, said, agree))
        .select_from(sides)
        .join(Ticket, Ticket.id == sides.c.ticket_id)
        .outerjoin(latest_round, latest_round.c.ticket_id == Ticket.id)
        .outerjoin(missed, missed.c.ticket_id == Ticket.id)
        .outerjoin(survey, and_(survey.ticket_id == Ticket.id,
                                survey.closure_round == latest_round.c.round))
        .where(*([] if within is None else [within(sides.c.unit_id)]))
        .group_by(*keys)
    ).all()
    return {(row[0] if keys else None): LoopCounts(*(int(v) for v in row[len(keys):]))
            for row in rows}


def figures(
    *,
    session: Session,
    actor: Actor,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    unit_code: str | None = None,
    utility_window: timedelta,
) -> Figures:
    """三率 for the tickets received in [since, until) within the actor's scope;
    ``utility_window`` is settings.deadlines.utility_dispatch_seconds."""
    received = []
    if since:
        received.append(Ticket.received_at >= since)
    if until:
        received.append(Ticket.received_at < until)
    subtree = unit_named(session, unit_code).path if unit_code else None

    def within(unit_id: Any) -> Any:
        if subtree is None:
            return in_scope(actor, unit_id)
        return and_(in_scope(actor, unit_id),
                    unit_id.in_(select(Unit.id).where(Unit.path.startswith(subtree))))

    conds = [*received, within(Ticket.unit_id)]
    rows = session.scalars(select(Ticket).where(*conds)).all()
    counted = [t for t in rows if t.status != Status.EXCLUDED.value]
    ids = [t.id for t in counted]
    # The timeliness counts charge a miss to the unit that missed it (loop_counts): read
    # with the scope on that unit, not on the unit holding the ticket now.
    loop = loop_counts(session=session, conds=received, within=within,
                       now=now).get(None, LoopCounts())
    surveys: list[SurveyResult] = []
    if ids:
        surveys = list(
            session.scalars(
                select(SurveyResult)
                .where(SurveyResult.ticket_id.in_(ids))
                .order_by(SurveyResult.ticket_id, SurveyResult.closure_round)
            )
        )
    latest: dict[int, SurveyResult] = {s.ticket_id: s for s in surveys}
    direct = 0
    if ids:
        direct = session.scalar(
            select(func.count(func.distinct(TicketEvent.ticket_id)))
            .where(TicketEvent.ticket_id.in_(ids), TicketEvent.action == Action.ANSWER.value)
        ) or 0
    # The latest *answered* round's verdict stands (as in loop_counts and ticketing.points):
    # a redo's survey call that finds nobody does not erase what the citizen said.
    scores = _verdict_scores(session, received, within)
    in_window, utilities = utility_dispatch(session=session, conds=conds, now=now,
                                            window=utility_window)
    # A merged ticket's closure is its primary's: the group's handling time counts once.
    closed = [t for t in counted if t.closed_at is not None and t.merged_at is None]
    hours = [(t.closed_at - t.received_at).total_seconds() / 3600 for t in closed
             if t.closed_at is not None]
    return Figures(
        tickets=len(counted),
        excluded=len(rows) - len(counted),
        dispatched=loop.dispatched,
        signed_in_time=loop.signed_in_time,
        response_rate=loop.response_rate,
        due=loop.due,
        closed_on_time=loop.closed_on_time,
        on_time_closure_rate=loop.on_time_closure_rate,
        surveyed=loop.surveyed,
        resolved=loop.resolved,
        satisfied=loop.satisfied,
        resolution_rate=loop.resolution_rate,
        satisfaction_rate=loop.satisfaction_rate,
        average_score=round(sum(scores) / len(scores), 4) if scores else None,
        unreachable=sum(1 for s in latest.values() if s.outcome == "unreachable"),
        overdue=sum(1 for t in rows if is_overdue(t, now)),
        answered_directly=direct,
        direct_answer_rate=_rate(direct, len(counted)),
        utilities=utilities,
        utilities_dispatched_in_window=in_window,
        utility_dispatch_rate=_rate(in_window, utilities),
        replied_on_time=loop.replied_on_time,
        feedback_rate=loop.feedback_rate,
        matched=loop.matched,
        compared=loop.compared,
        match_rate=loop.match_rate,
        closed=len(closed),
        average_handling_hours=round(sum(hours) / len(hours), 2) if hours else None,
        merged=sum(1 for t in counted if t.merged_into_id is not None),
    )


def utility_dispatch(*, session: Session, conds: list[Any], now: datetime,
                     window: timedelta) -> tuple[int, int]:
    """(dispatched within ``window`` of the call, counted) over the utilities (水电气暖)
    matching ``conds``, excluded ones left out. The first dispatch is what counts (a later
    改派 or 驳回重办 does not move it); a utility never dispatched counts once its window has
    passed. A 改派 out of the manual queue (the table allows it from accepted and returned)
    is that first dispatch when it comes first: read as one, or the power cut the operator
    sent on in a minute counted as never dispatched (trial55). Shared by /api/v1/stats and
    /metrics."""
    first = (
        select(func.min(TicketEvent.at))
        .where(TicketEvent.ticket_id == Ticket.id,
               TicketEvent.action.in_((Action.DISPATCH.value, Action.REASSIGN.value)))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Ticket.received_at, type_coerce(first, UTCDateTime()), Ticket.merged_at)
        .where(*conds, Ticket.category.in_(sorted(UTILITY_CATEGORIES)),
               Ticket.status != Status.EXCLUDED.value)
    ).all()
    in_window = counted = 0
    for received, dispatched, merged_at in rows:
        if dispatched is None and not passed(received + window, now):
            continue  # still inside its window: not late yet, not on time yet
        if not still_counted(received + window, merged_at):
            continue
        counted += 1
        in_window += dispatched is not None and dispatched <= received + window
    return in_window, counted


@dataclass(frozen=True)
class HotSpot:
    address: str
    category: str
    tickets: int
    latest: datetime


def hot_spots(
    *, session: Session, actor: Actor, since: datetime | None = None, min_tickets: int = 2,
    limit: int = 20,
) -> list[HotSpot]:
    """Places complained about again and again (多诉), most tickets first."""
    conds = [scope_filter(actor), Ticket.address.is_not(None),
             Ticket.status != Status.EXCLUDED.value]
    if since:
        conds.append(Ticket.received_at >= since)
    n = func.count(Ticket.id)
    rows = session.execute(
        select(Ticket.address, Ticket.category, n, func.max(Ticket.received_at))
        .where(*conds)
        .group_by(Ticket.address, Ticket.category)
        .having(n >= min_tickets)
        .order_by(n.desc(), func.max(Ticket.received_at).desc())
        .limit(limit)
    ).all()
    return [
        HotSpot(address=a, category=c, tickets=k,
                latest=m if m.tzinfo else m.replace(tzinfo=ZoneInfo("UTC")))
        for a, c, k, m in rows
    ]


EXPORT_COLUMNS = (
    ("number", "工单编号"),
    ("received_at", "来电时间"),
    ("caller_name", "姓名"),
    ("caller_phone", "电话"),
    ("kind", "诉求类型"),
    # The generated title (category and the clause naming the problem).
    ("subject", "标题"),
    # Whom the complaint is about, when known. Not masked: a business or an office is no
    # personal data, and the words it was read from are in 诉求内容 unmasked anyway
    # (docs/metrics.md).
    ("respondent", "反映主体"),
    ("category", "分类"),
    # 细分类 inside it (config/categories.toml [sub_categories]); empty when none.
    ("sub_category", "细分类"),
    ("address", "地址"),
    ("district", "区"),
    ("street", "街道/乡镇"),
    ("community", "社区/村"),
    ("demand", "诉求内容"),
    ("status", "状态"),
    ("unit", "承办单位"),
    ("sign_due_at", "签收时限"),
    ("due_at", "办结时限"),
    ("closed_at", "办结时间"),
    ("reply_outcome", "办理结果"),
    ("reply_text", "答复内容"),
    # The latest callback, whatever it found (未接通 too).
    ("survey", "回访结果"),
    # The verdict the figures count (docs/metrics.md, "The CSV export"): the latest
    # answered closure round's (loop_counts' reading), the round (1 = the first closure),
    # its score, the unit whose answer it judged (the one whose 解决率, 满意率, 契合度 and
    # points it counts in) and that answer (契合度 pairs the two).
    ("verdict", "计入回访"),
    ("verdict_round", "计入回访轮次"),
    ("verdict_score", "回访得分"),
    ("verdict_unit", "所评承办单位"),
    ("verdict_reply", "所评办理结果"),
)
# 所评承办单位 of a verdict on the hotline's own 直接答复: no unit's figures count it.
DIRECT_ANSWER_UNIT = "12345直接答复"

# Rows fetched per query: the file is written as it is read, never held whole in memory.
EXPORT_BATCH = 500


def export_csv(*, sessions: sessionmaker[Session], actor: Actor, tz: ZoneInfo,
               filters: Filters | None = None, now: datetime,
               batch: int = EXPORT_BATCH) -> Iterator[str]:
    """The tickets ``actor`` may see as CSV text, lazily, one chunk per batch of rows:
    UTF-8 with a BOM (written by the caller's encoding of the first chunk) so Excel opens
    the Chinese text correctly.

    In call-time order. Each batch is its own short read (keyset on the call time and
    id, ``ix_tickets_received``), not one cursor held open while a
    slow client downloads: on SQLite every transaction takes the write lock at BEGIN
    (ticketing.db), and on PostgreSQL a long open transaction holds back vacuum.
    """
    conds = conditions(actor, filters or Filters(), now)
    # A file leaves the system: only those who call citizens back get whole numbers.
    masked = actor.role not in (Role.ADMIN, Role.OPERATOR, Role.SYSTEM)
    yield "\ufeff" + _csv_line([label for _, label in EXPORT_COLUMNS])
    after: Any = true()
    while True:
        with sessions() as session:
            rows = session.scalars(
                select(Ticket).where(*conds, after)
                .order_by(Ticket.received_at, Ticket.id)
                .options(joinedload(Ticket.unit)).limit(batch)
            ).all()
            if not rows:
                return
            surveys = _latest_surveys(session, [t.id for t in rows])
            verdicts = standing_verdicts(session, [t.id for t in rows])
            # A staff number's answer stays in the file, said to count in no figure.
            uncounted = _uncounted(session, list(surveys))
            judged = _unit_names(session, {v.unit_id for v in verdicts.values()})
            chunk = "".join(
                _csv_line(_export_row(actor, t, surveys.get(t.id), tz=tz, masked=masked,
                                      counted=t.id not in uncounted)
                          + _verdict_cells(verdicts.get(t.id), judged,
                                           counted=t.id not in uncounted))
                for t in rows
            )
        last = rows[-1]
        after = or_(Ticket.received_at > last.received_at,
                    and_(Ticket.received_at == last.received_at, Ticket.id > last.id))
        yield chunk


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(c) for c in cells])
    return out.getvalue()


def _uncounted(session: Session, ids: list[int]) -> set[int]:
    """Of ``ids``, the tickets whose survey answers count in no figure: given on a staff
    number (merging.answer_counted), as loop_counts leaves them out."""
    if not ids:
        return set()
    return set(session.scalars(select(Ticket.id).where(Ticket.id.in_(ids), ~answer_counted())))


def _latest_surveys(session: Session, ticket_ids: list[int]) -> dict[int, SurveyResult]:
    """The newest survey of each ticket (a ticket redone after 驳回 is surveyed again)."""
    latest: dict[int, SurveyResult] = {}
    for s in session.scalars(
        select(SurveyResult).where(SurveyResult.ticket_id.in_(ticket_ids))
        .order_by(SurveyResult.ticket_id, SurveyResult.id)
    ):
        latest[s.ticket_id] = s
    return latest


def standing_verdicts(session: Session, ticket_ids: list[int]) -> dict[int, SurveyResult]:
    """Each ticket's standing verdict, the one the figures count: its latest answered
    closure round's (``_latest_answered_round``, as loop_counts and _verdict_scores read
    it); an unreachable redo's callback leaves it standing."""
    latest = _latest_answered_round(ticket_ids)  # a batch's, not the whole table's
    return {v.ticket_id: v for v in session.scalars(
        select(SurveyResult)
        .join(latest, and_(latest.c.ticket_id == SurveyResult.ticket_id,
                           latest.c.round == SurveyResult.closure_round))
        .where(SurveyResult.ticket_id.in_(ticket_ids)))}


def _unit_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(wanted))).all())


def _verdict_cells(verdict: SurveyResult | None, units: dict[int, str], *,
                   counted: bool) -> list[str]:
    """计入回访 … 所评办理结果 (EXPORT_COLUMNS) of a ticket's standing verdict; empty
    without one."""
    if verdict is None:
        return ["", "", "", "", ""]
    return [
        _survey_text(verdict, counted=counted),
        str(verdict.closure_round + 1),
        "" if verdict.score is None else f"{verdict.score:g}",
        DIRECT_ANSWER_UNIT if verdict.unit_id is None else units.get(verdict.unit_id, ""),
        REPLY_OUTCOMES.get(verdict.reply_outcome or "", verdict.reply_outcome or ""),
    ]


def _export_row(actor: Actor, t: Ticket, survey: SurveyResult | None, *, tz: ZoneInfo,
                masked: bool, counted: bool = True) -> list[str]:
    def when(dt: datetime | None) -> str:
        return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if dt else ""

    hidden = not may_see_caller(actor, t)
    return [
        t.number,
        when(t.received_at),
        "保密" if hidden else (t.caller_name or ""),
        "保密" if hidden else _phone_cell(caller_phone_for(actor, t, masked=masked)),
        KIND_LABELS.get(t.kind, t.kind),
        t.subject,
        t.respondent or "",
        _category_text(t.category),
        sub_category_text(t.category, t.sub_category),
        t.address or "",
        t.district or "",
        t.street or "",
        t.community or "",
        t.demand,
        _status_text(t.status),
        t.unit.name if t.unit else "",
        when(t.sign_due_at),
        when(t.due_at),
        when(t.closed_at),
        REPLY_OUTCOMES.get(t.reply_outcome or "", t.reply_outcome or ""),
        "；".join(x for x in (t.reply_text, t.reply_reason) if x),
        _survey_text(survey, counted=counted),
    ]


STAFF_ANSWER_MARK = "（员工号码，未计入）"


def _survey_text(survey: SurveyResult | None, *, counted: bool = True) -> str:
    if survey is None:
        return ""
    if survey.outcome == "unreachable":
        return "未接通"
    parts = []
    if survey.resolved is not None:
        parts.append("已解决" if survey.resolved else "未解决")
    if survey.satisfied is not None:
        parts.append("满意" if survey.satisfied else "不满意")
    # A supervisor reading the file can tell the answer that counts in no figure.
    return ("，".join(parts) or "已回访") + ("" if counted else STAFF_ANSWER_MARK)


def _phone_cell(phone: str | None) -> str:
    """Dialable as written at home (13811112222, 01065123456), or masked; empty when the
    caller withheld the number. Never "+86...": a spreadsheet reads a leading + as a
    formula."""
    if phone is None:
        return ""
    return domestic(phone) if phone.startswith("+") else phone


def _category_text(code: str) -> str:
    # Rows stored before categories were checked (or whose code was since removed from
    # config/categories.toml) still export, showing their code, instead of failing the file.
    try:
        return category_label(code)
    except KeyError:
        return code


def _status_text(code: str) -> str:
    try:
        return STATUS_LABELS[Status(code)]
    except ValueError:
        return code
