"""Ways a unit (or its supervisor) could move its own 三率两度 without doing the work, on
SQLite and PostgreSQL with the shipped settings: reopening a late ticket to reset its
clock, correcting the urgency of a late ticket, a redo's unanswered survey call."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import merging, service, supervision
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import SupervisionCase, Ticket, utcnow
from ticketing.points import flag_penalty
from ticketing.queries import is_overdue
from ticketing.reports import Figures, figures
from ticketing.states import ReasonRequired, Status

WATER_OUT = "朝阳区望京西园三区5号楼从早上开始停水了，到现在还没有来水。"


def _clocked(domain: Domain) -> tuple[datetime, list[datetime]]:
    start = utcnow() - timedelta(days=3)
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    return start, clock


def _filed(s: Session, domain: Domain, city: City, urgency: str) -> Ticket:
    op = city.actor("operator")
    t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                              caller_phone="13811112222", category="water", urgency=urgency,
                              demand=WATER_OUT)
    service.accept(session=s, domain=domain, ticket=t, actor=op)
    return t


def _answered(s: Session, domain: Domain, t: Ticket, handler: Actor, op: Actor,
              text: str) -> None:
    """The handler's answer ("resolved") and the centre's 核实 closure, at the clock's time."""
    service.reply(session=s, domain=domain, ticket=t, actor=handler, text=text,
                  outcome="resolved")
    service.close(session=s, domain=domain, ticket=t, actor=op)


def _timeliness(s: Session, domain: Domain, city: City) -> tuple[int, ...]:
    """(due, closed on time, replied on time, dispatched, signed in time)."""
    f = _figures(s, domain, city)
    return f.due, f.closed_on_time, f.replied_on_time, f.dispatched, f.signed_in_time


def _figures(s: Session, domain: Domain, city: City) -> Figures:
    return figures(session=s, actor=city.actor("operator"), now=domain.now(),
                   utility_window=domain.utility_window)


def test_a_redo_does_not_reset_the_clock_of_a_late_round(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Signed, answered and closed late, then 驳回重办 by the unit's supervisor and closed
    again at once under the redo's new deadlines: still late on all three counts."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("water-handler")
    sup = city.actor("supervisor")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")  # 24 hours; signing due in 5 minutes
        clock[0] = start + timedelta(hours=1)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(hours=30)
        _answered(s, domain, t, handler, op, "已恢复供水")
        s.commit()
        assert _timeliness(s, domain, city) == (1, 0, 0, 1, 0)

        clock[0] = start + timedelta(hours=31)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=sup, reason="再核一下")
        s.commit()
        # Reopened, with a deadline a day away: the late closure is still on the record.
        assert _timeliness(s, domain, city) == (1, 0, 0, 1, 0)

        clock[0] = start + timedelta(hours=31, minutes=1)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        _answered(s, domain, t, handler, op, "已恢复供水")
        s.commit()
        assert _timeliness(s, domain, city) == (1, 0, 0, 1, 0)


def test_a_redo_of_a_round_done_in_time_counts_the_redo(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The other side of the rule: a round done in time and redone is judged by the redo's
    own deadlines (docs/metrics.md), late redo late, prompt redo on time."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(hours=2)
        _answered(s, domain, t, handler, op, "已恢复供水")
        service.record_survey(session=s, domain=domain, ticket=t, actor=Actor.system("survey"),
                              resolved=False, satisfied=False)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=Actor.system("survey"),
                            reason="回访：未解决")
        s.commit()
        assert _timeliness(s, domain, city) == (0, 0, 0, 1, 0)
        clock[0] = start + timedelta(hours=2, minutes=1)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(hours=3)
        _answered(s, domain, t, handler, op, "已彻底修复")
        s.commit()
        assert _timeliness(s, domain, city) == (1, 1, 1, 1, 1)


def test_a_correction_does_not_move_a_deadline_already_passed(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """An urgent ticket left three hours: its unit's supervisor "corrects" it to general.
    The classification changes; the deadline it missed stands, and it stays overdue."""
    start, clock = _clocked(domain)
    sup = city.actor("supervisor")
    with sessions() as s:
        t = _filed(s, domain, city, "urgent")
        missed = t.due_at
        assert missed is not None and missed == t.received_at + timedelta(hours=1)
        clock[0] = start + timedelta(hours=3)
        assert is_overdue(t, domain.now())
        service.confirm_classification(session=s, domain=domain, ticket=t, actor=sup,
                                       urgency="general")
        s.commit()
        assert t.urgency == "general"
        assert t.due_at == missed
        assert is_overdue(t, domain.now())
        # Before the deadline a correction still moves it (both ways).
        fresh = _filed(s, domain, city, "urgent")
        service.confirm_classification(session=s, domain=domain, ticket=fresh, actor=sup,
                                       urgency="general")
        s.commit()
        assert fresh.due_at is not None and fresh.due_at > fresh.received_at + timedelta(days=1)


def test_an_unreached_redo_survey_does_not_erase_the_citizens_answer(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """"Not resolved, not satisfied" sends the ticket back (驳回重办); the redo's survey call
    finds nobody. The answer the citizen gave stands (the latest *answered* round, as for
    the points), not a blank."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("water-handler")
    bot = Actor.system("outbound")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(hours=2)
        _answered(s, domain, t, handler, op, "已恢复供水")
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                              resolved=False, satisfied=False)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
        clock[0] = start + timedelta(hours=3)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        _answered(s, domain, t, handler, op, "已彻底修复")
        service.record_unreachable(session=s, domain=domain, ticket=t, actor=bot)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.surveyed, f.resolved, f.satisfied) == (1, 0, 0)
        assert (f.resolution_rate, f.satisfaction_rate, f.average_score) == (0.0, 0.0, -1.0)
        assert (f.compared, f.matched) == (1, 0)


INVISIBLE_REASONS = ["\u200b", "\u200b\u3000\u200d", "\ufeff", "\u2060 \u2063", "\u00ad"]


def test_an_invisible_reason_is_no_reason(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """剔除 takes a ticket out of every figure; with a reason of zero-width characters
    (which strip() keeps) it did, and the audit trail showed an empty reason. Every
    transition that needs a reason, and 申请剔除's text, refuse it; nothing changes."""
    sup, handler = city.actor("supervisor"), city.actor("water-handler")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")
        s.commit()
        for reason in INVISIBLE_REASONS:
            with pytest.raises(ReasonRequired):
                service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason=reason)
            with pytest.raises(ReasonRequired):
                service.return_ticket(session=s, domain=domain, ticket=t, actor=handler,
                                      reason=reason)
        s.rollback()
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        s.commit()
        for text in INVISIBLE_REASONS:
            with pytest.raises(service.InvalidInput):
                service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                          reason="无理诉求", text=text)
            with pytest.raises(service.InvalidInput):
                service.reply(session=s, domain=domain, ticket=t, actor=handler, text=text,
                              outcome="resolved")
            with pytest.raises(service.InvalidInput):
                service.reply(session=s, domain=domain, ticket=t, actor=handler, text="无法处理",
                              outcome="unresolvable", reason=text)
            with pytest.raises(service.InvalidInput):
                flag_penalty(session=s, domain=domain, ticket=t, actor=sup, kind="incomplete",
                             reason=text)
            with pytest.raises(ReasonRequired):
                merging.merge_linked(session=s, domain=domain, case_id=0, primary=t, others=[],
                                     actor=sup, reason=text)
            with pytest.raises(service.InvalidInput):
                supervision.close_case(session=s, domain=domain, actor=sup, note=text,
                                       case=SupervisionCase(status=supervision.OPEN))
        s.rollback()
        assert t.status == Status.SIGNED
        assert _figures(s, domain, city).excluded == 0
        # A reason with words around a zero-width joiner is a reason.
        service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason="无理\u200d诉求")
        s.commit()
        assert t.status == Status.EXCLUDED


def test_a_reassignment_within_the_unit_does_not_reset_a_missed_sign_window(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Nobody signed within the 5 minutes; an hour later the unit's supervisor 改派s it to
    the same unit (same handler) and it is signed at once: still not signed in time. A
    改派 to another unit starts that unit's own window."""
    start, clock = _clocked(domain)
    sup, handler = city.actor("supervisor"), city.actor("water-handler")
    power, power_handler = city.unit_id("bj-power"), city.actor("power-handler")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")
        s.commit()
        other = _filed(s, domain, city, "livelihood")
        s.commit()
        clock[0] = start + timedelta(hours=1)
        assert t.unit_id is not None and other.unit_id is not None
        service.reassign(session=s, domain=domain, ticket=t, actor=sup, unit_id=t.unit_id,
                         handler_id=t.handler_id, reason="提醒签收")
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.dispatched, f.signed_in_time) == (2, 0)
        service.reassign(session=s, domain=domain, ticket=other, actor=sup,
                         unit_id=power,
                         reason="派错单位")
        service.sign(session=s, domain=domain, ticket=other, actor=power_handler)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.dispatched, f.signed_in_time) == (2, 1)
