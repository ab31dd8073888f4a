"""A miss is the unit's that missed it (docs/metrics.md, "Whose miss"). Before, the figures
followed the ticket's unit: 朝阳区's supervisor 改派'd a ticket whose sign window or 24-hour
deadline 住建委 had missed to 望京街道, and the miss left 住建委's 响应率, 按期办结率 and
反馈率 (a new sign window at 望京 even took it out of the city's 响应率; the late 办结 went
to 望京's figures). Now the leaving event names the unit and the deadline it missed, a
驳回重办 the unit whose round was late, and the figures charge that unit wherever the
ticket goes: in the unit's own figures, the 红黑榜, the dashboard's rows and the district
supervisor's. SQLite and PostgreSQL, the shipped settings, a clock moved by hand."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from hotline.console.dashboard import unit_rows
from tests.support.city import City
from tests.ticketing.test_figure_forgery import _clocked
from tests.ticketing.test_sign_window_loops import _at_housing, _window
from ticketing import analytics, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.points import points
from ticketing.queries import in_scope
from ticketing.reports import figures

HOUSING, WANGJING = "cy-housing", "cy-wangjing"


def _counts(s: Session, domain: Domain, actor: Actor, unit: str | None = None
            ) -> tuple[int, ...]:
    """(dispatched, signed in time, due, closed on time, replied on time) of ``unit``'s
    subtree as ``actor`` reads them (all ``actor`` sees without a unit)."""
    f = figures(session=s, actor=actor, now=domain.now(), unit_code=unit,
                utility_window=domain.utility_window)
    return f.dispatched, f.signed_in_time, f.due, f.closed_on_time, f.replied_on_time


def _both(s: Session, domain: Domain, op: Actor) -> dict[str, tuple[int, ...]]:
    """``_counts`` of 住建委 and of 望京街道."""
    return {u: _counts(s, domain, op, u) for u in (HOUSING, WANGJING)}


def _moved(before: tuple[int, ...], after: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a - b for a, b in zip(after, before, strict=True))


def _answer(s: Session, domain: Domain, t: Ticket, op: Actor,
            handler: Actor | None = None) -> None:
    """The ticket's handler (or ``handler`` of its unit) signs and answers, the centre's
    operator closes it (核实)."""
    handler = handler or Actor.of(t.handler)
    service.sign(session=s, domain=domain, ticket=t, actor=handler)
    service.reply(session=s, domain=domain, ticket=t, actor=handler, text="电梯已修复",
                  outcome="resolved")
    service.close(session=s, domain=domain, ticket=t, actor=op)


def test_a_district_supervisor_cannot_move_a_units_miss_to_a_sibling(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委 lets one ticket's sign window pass and another's 24-hour deadline; 朝阳区's
    supervisor 改派s both to 望京街道, which signs the first in its own window and answers
    the second at once. Before, 住建委's figures lost both misses, 望京 had the first signed
    in time and the second closed late, and the city counted the first signed in time.
    Now both misses are 住建委's (its own figures, its handler's view, the 红黑榜, the
    dashboard's rows), none is 望京's, and the city counts the first late."""
    start, clock = _clocked(domain)
    op, cy_sup = city.actor("operator"), city.actor("cy-supervisor")
    housing_handler = city.actor("cy-housing-handler")
    wangjing = city.unit_id(WANGJING)
    centre = op, city.unit_id(HOUSING)
    with sessions() as s:
        before = {u: _counts(s, domain, op, u) for u in (None, HOUSING, WANGJING)}
        unsigned, slow = (_at_housing(s, domain, centre, n) for n in (1, 2))
        service.sign(session=s, domain=domain, ticket=slow, actor=housing_handler)
        s.commit()
        clock[0] = start + _window(domain) + timedelta(minutes=5)
        service.reassign(session=s, domain=domain, ticket=unsigned, actor=cy_sup,
                         unit_id=wangjing, reason="属地为望京街道")
        s.commit()
        left = service.events_of(session=s, ticket=unsigned)[-1].data
        assert left[service.LEFT_LATE_SIGN] == HOUSING
        assert service.LEFT_LATE_CLOSE not in left  # its 24 hours are still running
        clock[0] += timedelta(minutes=1)
        _answer(s, domain, unsigned, op)  # signed in 望京's own window, answered in time
        s.commit()
        assert slow.due_at is not None
        clock[0] = slow.due_at + timedelta(hours=1)
        service.reassign(session=s, domain=domain, ticket=slow, actor=cy_sup,
                         unit_id=wangjing, reason="属地为望京街道")
        s.commit()
        left = service.events_of(session=s, ticket=slow)[-1].data
        assert (left[service.LEFT_LATE_REPLY], left[service.LEFT_LATE_CLOSE]) == (HOUSING,
                                                                                  HOUSING)
        assert service.LEFT_LATE_SIGN not in left  # signed in its window
        _answer(s, domain, slow, op)
        s.commit()
        assert unsigned.unit_id == slow.unit_id == wangjing

        # (dispatched, signed in time, due, closed on time, replied on time). Each side of
        # a ticket counts once, at the unit charged with it: the first ticket's sign
        # window and the second's deadline at 住建委, the rest at 望京 (its answer of the
        # first in time, its sign of the second in its own window).
        assert _moved(before[HOUSING], _counts(s, domain, op, HOUSING)) == (1, 0, 1, 0, 0)
        assert _moved(before[WANGJING], _counts(s, domain, op, WANGJING)) == (1, 1, 1, 1, 1)
        assert _moved(before[None], _counts(s, domain, op)) == (2, 1, 2, 1, 1)
        # 住建委's handler, who sees neither ticket now, reads the same misses.
        mine = _counts(s, domain, housing_handler)
        assert mine == _counts(s, domain, op, HOUSING)
        # The 红黑榜 and the dashboard's unit rows charge the same unit.
        period = start.astimezone(domain.tz).strftime("%Y-%m")
        ranked = {r.code: r.figures for r in analytics.ranking(
            session=s, actor=op, period=period, tz=domain.tz, now=domain.now()).units}
        rows = {r.unit.code: r.f for r in unit_rows(
            session=s, now=domain.now(), conds=[Ticket.received_at >= start],
            within=lambda unit_id: in_scope(cy_sup, unit_id))}
        assert HOUSING not in rows  # it holds no ticket: the rows are the busiest units
        for counts in (ranked[WANGJING], rows[WANGJING]):
            assert (counts.tickets, counts.dispatched, counts.signed_in_time, counts.due,
                    counts.closed_on_time, counts.replied_on_time) == (2, 1, 1, 1, 1, 1)
        housing = ranked[HOUSING]
        assert (housing.tickets, housing.dispatched, housing.signed_in_time, housing.due,
                housing.closed_on_time, housing.replied_on_time) == (0, 1, 0, 1, 0, 0)


def test_a_late_round_reopened_and_sent_to_a_sibling_stays_its_units(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委 answers after the deadline and the centre closes; 朝阳区's supervisor 驳回重办s
    it and sends the redo to 望京街道, which answers in time. Before, the late round (kept
    on the 驳回重办 event) went with the ticket to 望京's figures; now it is 住建委's, named
    on that event."""
    _, clock = _clocked(domain)
    op, cy_sup = city.actor("operator"), city.actor("cy-supervisor")
    wangjing, centre = city.unit_id(WANGJING), (op, city.unit_id(HOUSING))
    with sessions() as s:
        before = _both(s, domain, op)
        t = _at_housing(s, domain, centre, 1)
        service.sign(session=s, domain=domain, ticket=t, actor=Actor.of(t.handler))
        s.commit()
        assert t.due_at is not None
        clock[0] = t.due_at + timedelta(hours=1)
        service.reply(session=s, domain=domain, ticket=t, actor=Actor.of(t.handler),
                      text="电梯已修复", outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        service.reject_redo(session=s, domain=domain, ticket=t, actor=cy_sup,
                            reason="答复不属实")
        s.commit()
        redo = service.events_of(session=s, ticket=t)[-1].data
        assert (redo["unit"], redo[service.MISSED_CLOSE]) == (HOUSING, True)
        clock[0] += timedelta(minutes=1)
        service.reassign(session=s, domain=domain, ticket=t, actor=cy_sup, unit_id=wangjing,
                         reason="属地为望京街道")
        clock[0] += timedelta(minutes=1)
        _answer(s, domain, t, op)
        s.commit()
        assert t.done_at is not None and t.due_at is not None and t.done_at <= t.due_at
        # (dispatched, signed in time, due, closed on time, replied on time): every sign
        # window was met (the last one 望京's); the late round is 住建委's.
        assert _moved(before[HOUSING], _counts(s, domain, op, HOUSING)) == (0, 0, 1, 0, 0)
        assert _moved(before[WANGJING], _counts(s, domain, op, WANGJING)) == (1, 1, 0, 0, 0)


def test_a_miss_stays_in_its_districts_figures_after_the_centre_moves_the_ticket_out(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委 misses the sign window and the centre 改派s the ticket to 海淀区, which signs in
    time. 朝阳区's supervisor, who no longer sees the ticket, still finds the miss in the
    district's 响应率 and in 住建委's; 海淀区's figures do not count it."""
    start, clock = _clocked(domain)
    op, cy_sup = city.actor("operator"), city.actor("cy-supervisor")
    centre = op, city.unit_id(HOUSING)
    with sessions() as s:
        reads = ((cy_sup, None), (cy_sup, HOUSING), (op, "hd"))
        before = [_counts(s, domain, who, u) for who, u in reads]
        t = _at_housing(s, domain, centre, 1)
        clock[0] = start + _window(domain) + timedelta(minutes=1)
        service.reassign(session=s, domain=domain, ticket=t, actor=op,
                         unit_id=city.unit_id("hd"), reason="属地为海淀区")
        s.commit()
        service.sign(session=s, domain=domain, ticket=t, actor=Actor.of(t.handler))
        s.commit()
        assert t.signed_at is not None and t.sign_due_at is not None
        assert t.signed_at <= t.sign_due_at  # in 海淀区's own window
        moved = [_moved(b, _counts(s, domain, who, u))[:2]
                 for b, (who, u) in zip(before, reads, strict=True)]
        # (dispatched, signed in time): 朝阳区's, 住建委's, 海淀区's.
        assert moved == [(1, 0), (1, 0), (0, 0)]


def test_a_return_after_the_sign_window_is_the_returning_units_late_sign(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委's handler lets the sign window pass and then 退单s (inside the 2-hour 退单
    window); the centre sends the ticket to 望京街道, which signs in its own window. The
    late sign is 住建委's (before: the 退单 recorded it, and it counted only if the ticket
    came back to 住建委); a 退单 within the window charges nothing."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("cy-housing-handler")
    wangjing, centre = city.unit_id(WANGJING), (op, city.unit_id(HOUSING))
    with sessions() as s:
        before = _both(s, domain, op)
        late, prompt = (_at_housing(s, domain, centre, n) for n in (1, 2))
        clock[0] = start + timedelta(minutes=1)
        service.return_ticket(session=s, domain=domain, ticket=prompt, actor=handler,
                              reason="不属于本单位职责")
        clock[0] = start + _window(domain) + timedelta(minutes=1)
        service.return_ticket(session=s, domain=domain, ticket=late, actor=handler,
                              reason="不属于本单位职责")
        s.commit()
        for t in (late, prompt):
            service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=wangjing)
            s.commit()
            service.sign(session=s, domain=domain, ticket=t, actor=Actor.of(t.handler))
            s.commit()
        # (dispatched, signed in time): the late one 住建委's, the prompt one 望京's.
        assert _moved(before[HOUSING], _counts(s, domain, op, HOUSING))[:2] == (1, 0)
        assert _moved(before[WANGJING], _counts(s, domain, op, WANGJING))[:2] == (1, 1)


def _verdicts(s: Session, domain: Domain, op: Actor, unit: str) -> tuple[object, ...]:
    """(surveyed, resolved, satisfied, compared, matched, mean score) of ``unit``'s
    subtree."""
    f = figures(session=s, actor=op, now=domain.now(), unit_code=unit,
                utility_window=domain.utility_window)
    return f.surveyed, f.resolved, f.satisfied, f.compared, f.matched, f.average_score


def test_a_district_supervisor_cannot_move_a_units_survey_verdict_to_a_sibling(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委 answers "resolved"; the citizen says not resolved, not satisfied (不属实), and
    the survey sends the ticket back (驳回重办). Redone and dispatched again, 朝阳区's
    supervisor 改派s it to 望京街道, and the redo's survey call finds nobody: the verdict
    the citizen gave on 住建委's answer leaves 住建委's 解决率, 满意度 and 契合度 and counts
    against 望京, which never answered it (judge41). The verdict is a fact of the round it
    judged, as a miss is of the unit that missed (docs/metrics.md, "Whose miss")."""
    start, clock = _clocked(domain)
    op, cy_sup = city.actor("operator"), city.actor("cy-supervisor")
    wangjing = city.unit_id(WANGJING)
    centre = op, city.unit_id(HOUSING)
    bot = Actor.system("outbound")
    with sessions() as s:
        t = _at_housing(s, domain, centre, 1)
        clock[0] = start + timedelta(minutes=1)
        _answer(s, domain, t, op)
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                              resolved=False, satisfied=False)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
        s.commit()
    with sessions() as s:
        assert _verdicts(s, domain, op, HOUSING) == (1, 0, 0, 1, 0, -1.0)
    with sessions() as s:
        t = s.get_one(Ticket, t.id)
        service.reassign(session=s, domain=domain, ticket=t, actor=cy_sup, unit_id=wangjing,
                         reason="属地为望京街道")
        s.commit()
    with sessions() as s:
        assert _verdicts(s, domain, op, HOUSING) == (1, 0, 0, 1, 0, -1.0)
        assert _verdicts(s, domain, op, WANGJING) == (0, 0, 0, 0, 0, None)
        # The same verdict's −1 in 考核计分, the 红黑榜's second key, by the same rule: at
        # 住建委, for 朝阳区's supervisor as for the centre (review106: it followed the ticket).
        for reader in (op, cy_sup):
            found = points(session=s, actor=reader, since=start - timedelta(days=1),
                           until=start + timedelta(days=30))
            assert {u.code: u.survey_points for u in found.units} == {HOUSING: -1.0}


def test_a_verdict_on_the_hotlines_direct_answer_is_no_units_after_the_redo(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The hotline answers at intake (直接答复, no unit); the citizen says not resolved, the
    survey redoes it and the centre sends the redo to 住建委: the verdict judged the
    hotline's answer, not 住建委's, and stays out of 住建委's figures and points
    (review106: a stored unit of none fell back to the unit holding the ticket)."""
    start, clock = _clocked(domain)
    op, bot = city.actor("operator"), Actor.system("outbound")
    housing = city.unit_id(HOUSING)
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811114461", category="housing",
                                  urgency="livelihood", demand="朝阳区望京西园三区5号楼电梯坏了")
        service.answer(session=s, domain=domain, ticket=t, actor=op, text="请联系物业报修")
        clock[0] = start + timedelta(minutes=5)
        given = service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                                      resolved=False, satisfied=False)
        assert given.unit_id is None
        service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
        service.reassign(session=s, domain=domain, ticket=t, actor=op,
                         unit_id=housing, reason="派住建委办理")
        s.commit()
    with sessions() as s:
        assert _verdicts(s, domain, op, HOUSING) == (0, 0, 0, 0, 0, None)
        found = points(session=s, actor=op, since=start - timedelta(days=1),
                       until=start + timedelta(days=30))
        assert found.units == []
