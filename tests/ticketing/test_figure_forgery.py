"""Ways a unit (or its supervisor) could move its own 三率两度 without doing the work, on
SQLite and PostgreSQL with the shipped settings: reopening a late ticket to reset its
clock, correcting the urgency of a late ticket, a redo's unanswered survey call."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import case, select, true
from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import merging, service, supervision
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.directory import add_unit, add_user
from ticketing.dispatch_rules import DispatchRule, RuleTable
from ticketing.models import SupervisionCase, Ticket, TicketEvent, User, utcnow
from ticketing.points import flag_penalty
from ticketing.queries import is_overdue
from ticketing.reports import Figures, figures, loop_counts
from ticketing.states import PermissionDenied, ReasonRequired, Role, Status

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


def _regraded(s: Session, domain: Domain, t: Ticket, actor: Actor, urgency: str) -> dict:
    """The urgency corrected with a reason; the audit event's data."""
    service.confirm_classification(session=s, domain=domain, ticket=t, actor=actor,
                                   urgency=urgency, reason="复核来电录音")
    s.commit()
    event = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id)
                      .order_by(TicketEvent.id.desc()).limit(1)).one()
    assert event.action == service.CORRECT_EVENT and event.note == "复核来电录音"
    return event.data


def test_a_correction_does_not_move_a_deadline_already_passed(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """An urgent ticket left three hours: its unit's supervisor, then the centre itself,
    "correct" it to general. The classification changes; the deadline it missed stands
    (no one rescues a late ticket), and it stays overdue."""
    start, clock = _clocked(domain)
    sup, op = city.actor("supervisor"), city.actor("operator")
    with sessions() as s:
        t = _filed(s, domain, city, "urgent")
        missed = t.due_at
        assert missed is not None and missed == t.received_at + timedelta(hours=1)
        clock[0] = start + timedelta(hours=3)
        assert is_overdue(t, domain.now())
        assert _regraded(s, domain, t, sup, "general")["due_kept"] == "late"
        assert t.urgency == "general" and t.due_at == missed
        _regraded(s, domain, t, sup, "urgent")
        assert _regraded(s, domain, t, op, "general")["due_kept"] == "late"
        assert t.due_at == missed
        assert is_overdue(t, domain.now())


def _lowering_refused(s: Session, domain: Domain, t: Ticket, actor: Actor,
                      set_at: datetime) -> None:
    """A lowering by anyone but the centre is refused, with or without a reason, and
    changes nothing."""
    for reason in (None, "复核来电录音"):
        with pytest.raises(service.InvalidInput) as refused:
            service.confirm_classification(session=s, domain=domain, ticket=t, actor=actor,
                                           urgency="general", reason=reason)
        assert refused.value.field == "lowered_urgency"
        s.rollback()
        assert t.urgency == "urgent" and t.due_at == set_at


def _at_a_district_unit(s: Session, domain: Domain, city: City, urgency: str) -> Ticket:
    """A ticket of 朝阳区住建委, a unit under 朝阳区's supervisor (cy-supervisor)."""
    op, housing = city.actor("operator"), city.unit_id("cy-housing")  # before our writes
    t = _filed(s, domain, city, urgency)
    service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=housing)
    s.commit()
    return t


def test_a_district_supervisor_does_not_lengthen_a_dispatched_deadline(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The deadline is set at dispatch by the ticket's kind. Ten minutes in, 朝阳区's
    supervisor "corrects" their unit's urgent ticket to general: 1 hour became 5 working
    days and a ticket closed the next day counted on time. Their units are the ones that
    benefit: only the centre (its 督办科 too) lowers it, with a reason, and lengthens the
    deadline only while it has not passed."""
    start, clock = _clocked(domain)
    sup, centre = city.actor("cy-supervisor"), city.actor("supervisor")
    with sessions() as s:
        t = _at_a_district_unit(s, domain, city, "urgent")
        set_at = t.due_at
        assert set_at is not None and t.dispatched_at is not None
        clock[0] = start + timedelta(minutes=10)
        _lowering_refused(s, domain, t, sup, set_at)
        with pytest.raises(service.InvalidInput, match="reason"):
            service.confirm_classification(session=s, domain=domain, ticket=t, actor=centre,
                                           urgency="general")
        s.rollback()
        assert t.urgency == "urgent" and t.due_at == set_at
        # The centre, before the deadline: the general kind's 5 working days.
        data = _regraded(s, domain, t, centre, "general")
        assert "due_kept" not in data and t.due_at is not None
        assert t.due_at > t.received_at + timedelta(days=4)
        assert data["due_after"] == t.due_at.isoformat()


def test_a_shorter_deadline_counts_from_the_correction(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A general ticket found urgent two days in: the urgent kind's hour counted from the
    call had passed before the unit was told, and it was late at once. The unit gets the
    hour from the correction (never more than it had)."""
    start, clock = _clocked(domain)
    sup = city.actor("supervisor")
    with sessions() as s:
        t = _filed(s, domain, city, "general")
        clock[0] = start + timedelta(days=2)
        _regraded(s, domain, t, sup, "urgent")
        assert t.due_at == domain.now() + timedelta(hours=1)
        assert not is_overdue(t, domain.now())


def test_a_redone_tickets_correction_keeps_the_redos_clock(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """驳回重办 gives a new deadline from the redo. A category correction afterwards put
    back the deadline counted from the call, long past (the redo late at once), and an
    urgency correction counted from the call too. Neither does now."""
    start, clock = _clocked(domain)
    op, handler, sup = city.actor("operator"), city.actor("water-handler"), city.actor(
        "supervisor")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(hours=2)
        _answered(s, domain, t, handler, op, "已恢复供水")
        clock[0] = start + timedelta(hours=40)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=sup, reason="再核一下")
        s.commit()
        redo_due = t.due_at
        assert redo_due == domain.now() + timedelta(hours=24)
        clock[0] = start + timedelta(hours=41)
        service.confirm_classification(session=s, domain=domain, ticket=t, actor=op,
                                       category="heating")
        s.commit()
        assert t.due_at == redo_due and not is_overdue(t, domain.now())
        _regraded(s, domain, t, op, "urgent")
        assert t.due_at == domain.now() + timedelta(hours=1)


def _denied_and_redone(s: Session, domain: Domain, city: City, clock: list[datetime], *,
                       satisfied: bool) -> Ticket:
    """A ticket the water company answers "resolved" two hours in (``clock`` started by
    ``_clocked``), whose citizen says not resolved: sent back by the survey (驳回重办)."""
    op, handler = city.actor("operator"), city.actor("water-handler")
    bot = Actor.system("outbound")
    t = _filed(s, domain, city, "livelihood")
    service.sign(session=s, domain=domain, ticket=t, actor=handler)
    clock[0] += timedelta(hours=2)
    _answered(s, domain, t, handler, op, "已恢复供水")
    service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                          resolved=False, satisfied=satisfied)
    service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
    return t


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
        t = _denied_and_redone(s, domain, city, clock, satisfied=False)
        clock[0] = start + timedelta(hours=3)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        _answered(s, domain, t, handler, op, "已彻底修复")
        service.record_unreachable(session=s, domain=domain, ticket=t, actor=bot)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.surveyed, f.resolved, f.satisfied) == (1, 0, 0)
        assert (f.resolution_rate, f.satisfaction_rate, f.average_score) == (0.0, 0.0, -1.0)
        assert (f.compared, f.matched) == (1, 0)


def test_the_centre_keys_in_no_survey_for_a_citizen_nobody_could_ask(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A 并单 group answers once, on its primary; a withheld number or "no callback" leaves
    nobody to survey (merging.survey_phone: the survey call and SMS follow it). An operator's
    keyed-in answer for such a ticket was stored and counted: three answers that no
    citizen gave, and a group counted twice."""
    op, handler = city.actor("operator"), city.actor("water-handler")

    def filed(phone: str | None, **kw: bool) -> Ticket:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone=phone, category="water", urgency="livelihood",
                                  demand=WATER_OUT, **kw)
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        return t

    def closed(t: Ticket) -> None:
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        _answered(s, domain, t, handler, op, "已恢复供水")

    with sessions() as s:
        primary, member = filed("13811114441"), filed("13811114442")
        merging.merge(session=s, domain=domain, primary=primary, others=[member], actor=op)
        withheld, no_callback = filed(None), filed("13811114443", no_contact=True)
        for t in (primary, withheld, no_callback):
            closed(t)
        s.commit()
        assert member.status == Status.CLOSED.value
        for t in (member, withheld, no_callback):
            with pytest.raises(service.InvalidInput, match="nobody to survey"):
                service.record_survey(session=s, domain=domain, ticket=t, actor=op,
                                      resolved=True, satisfied=True)
            s.rollback()
        f = _figures(s, domain, city)
        assert (f.surveyed, f.satisfied) == (0, 0)
        # The group's one answer, keyed in from a callback to the primary's caller.
        service.record_survey(session=s, domain=domain, ticket=primary, actor=op,
                              resolved=True, satisfied=True)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.surveyed, f.satisfied, f.compared, f.matched) == (1, 1, 1, 1)


def _excluded(s: Session, domain: Domain, t: Ticket, actor: Actor, reason: str) -> None:
    service.exclude(session=s, domain=domain, ticket=t, actor=actor, reason=reason)
    s.commit()
    assert t.status == Status.EXCLUDED


# Format characters, and (judge36) the default-ignorable ones of other categories: Hangul
# fillers (letters by category), variation selectors, the grapheme joiner, a blank Braille
# cell; each was a 剔除 reason, the trail showing nothing.
INVISIBLE_REASONS = ["\u200b", "\u200b\u3000\u200d", "\ufeff", "\u2060 \u2063", "\u00ad",
                     "\u3164", "\uffa0\u115f\u1160", "\ufe0f", "\u034f", "\u2800",
                     "\U000e0100",
                     # Combining marks with nothing to sit on (judge38: a 剔除 reason of two
                     # acute accents took the ticket out of the figures).
                     "\u0301\u0301", "\u0300 \u0323"]


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
        _excluded(s, domain, t, sup, "无理\u200d诉求")


def test_an_invisible_reason_does_not_lower_a_dispatched_urgency(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """review86: the centre's lowering of a dispatched ticket's urgency (it lengthens the
    unit's deadline) waits for a reason, and took one of zero-width characters or Hangul
    fillers -- the trail's correction showing none. Refused like every other reason
    (``inputs.has_text``); nothing changes; a reason with words is taken."""
    centre = city.actor("supervisor")
    with sessions() as s:
        t = _at_a_district_unit(s, domain, city, "urgent")
        set_at = t.due_at
        assert set_at is not None and t.dispatched_at is not None
        for reason in INVISIBLE_REASONS:
            with pytest.raises(service.InvalidInput) as refused:
                service.confirm_classification(session=s, domain=domain, ticket=t,
                                               actor=centre, urgency="general", reason=reason)
            assert refused.value.field == "reason", ascii(reason)
            s.rollback()
            assert t.urgency == "urgent" and t.due_at == set_at
        _regraded(s, domain, t, centre, "general")
        assert t.urgency == "general"


def test_a_reassignment_within_the_unit_does_not_reset_a_missed_sign_window(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Nobody signed within the 5 minutes; an hour later the unit's supervisor 改派s it to
    the same unit (same handler) and it is signed at once: still not signed in time. A
    改派 to another unit starts that unit's own window, and the window missed stays the
    first unit's (mend89, tests/ticketing/test_whose_miss.py): before, the power company's
    sign in its own window made the ticket signed in time and the miss was nobody's."""
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
        op = city.actor("operator")  # before the read: one writer at a time on SQLite
        f = _figures(s, domain, city)
        assert (f.dispatched, f.signed_in_time) == (2, 0)
        for unit, counts in (("bj-water", (2, 0)), ("bj-power", (0, 0))):
            f = figures(session=s, actor=op, now=domain.now(),
                        unit_code=unit, utility_window=domain.utility_window)
            assert (f.dispatched, f.signed_in_time) == counts, unit


def test_a_window_missed_stays_missed_when_the_ticket_comes_back_to_the_unit(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Nobody at the water company signed within the 5 minutes. 改派 to the same unit keeps
    that on the record; two hops did not: 改派 to the power company and straight back, or
    the handler's 退单 (inside its 2-hour window) and the centre dispatching it back, gave
    the water company a fresh window, signed "in time". A unit that never had the ticket
    still starts on its own window."""
    start, clock = _clocked(domain)
    op, sup = city.actor("operator"), city.actor("supervisor")
    handler, power = city.actor("water-handler"), city.unit_id("bj-power")
    with sessions() as s:
        hops, returned = (_filed_and_saved(s, domain, city, "livelihood") for _ in range(2))
        water = hops.unit_id
        assert water is not None and returned.unit_id == water
        clock[0] = start + timedelta(minutes=10)
        service.reassign(session=s, domain=domain, ticket=hops, actor=sup, unit_id=power,
                         reason="派错单位")
        service.reassign(session=s, domain=domain, ticket=hops, actor=sup, unit_id=water,
                         reason="派回")
        service.return_ticket(session=s, domain=domain, ticket=returned, actor=handler,
                              reason="不属于本单位职责")
        service.dispatch(session=s, domain=domain, ticket=returned, actor=op, unit_id=water)
        for t in (hops, returned):
            service.sign(session=s, domain=domain, ticket=t, actor=handler)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.dispatched, f.signed_in_time) == (2, 0)


def _clocked_at(domain: Domain, local_hour: int) -> tuple[datetime, list[datetime]]:
    """A clock three days back at ``local_hour`` o'clock in the city's time zone (staff quiet
    hours depend on the hour, so a test of them must not depend on when it runs)."""
    day = (utcnow() - timedelta(days=3)).astimezone(domain.tz)
    start = day.replace(hour=local_hour, minute=0, second=0, microsecond=0)
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    return start, clock


def _filed_and_saved(s: Session, domain: Domain, city: City, urgency: str) -> Ticket:
    t = _filed(s, domain, city, urgency)
    s.commit()  # city.actor writes in a session of its own: one writer at a time on SQLite
    return t


def test_a_unit_may_return_a_ticket_only_within_its_window(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """退单 ("not ours") within the shipped 2 hours of the ticket reaching the unit, never past
    its deadline: later, a unit could sit on a ticket and hand its lateness to the next unit.
    A 改派 within the unit opens no new window; the centre's 改派 to another unit gives that
    unit its own; a refused 退单 changes nothing."""
    assert domain.settings.deadlines.return_window_hours == 2
    start, clock = _clocked_at(domain, 10)
    sup, handler = city.actor("supervisor"), city.actor("water-handler")
    power, power_handler = city.unit_id("bj-power"), city.actor("power-handler")
    with sessions() as s:
        early, late, urgent = (_filed_and_saved(s, domain, city, urgency)
                               for urgency in ("general", "general", "urgent"))
        water = late.unit_id
        assert water is not None
        clock[0] = start + timedelta(hours=1, minutes=59)
        service.return_ticket(session=s, domain=domain, ticket=early, actor=handler,
                              reason="不属于本单位职责")
        s.commit()
        assert early.status == Status.RETURNED.value
        # The urgent ticket's 1-hour deadline ended its window first.
        with pytest.raises(service.InvalidInput) as refused:
            service.return_ticket(session=s, domain=domain, ticket=urgent, actor=handler,
                                  reason="不属于本单位职责")
        assert refused.value.field == "return_window"
        s.rollback()
        service.reassign(session=s, domain=domain, ticket=late, actor=sup, unit_id=water,
                         handler_id=late.handler_id, reason="提醒签收")
        s.commit()
        clock[0] = start + timedelta(hours=2, minutes=1)
        with pytest.raises(service.InvalidInput):
            service.return_ticket(session=s, domain=domain, ticket=late, actor=handler,
                                  reason="不属于本单位职责")
        s.rollback()
        for t in (late, urgent):
            s.refresh(t)
            assert (t.status, t.unit_id) == (Status.DISPATCHED.value, water)
        service.reassign(session=s, domain=domain, ticket=late, actor=sup, unit_id=power,
                         reason="派错单位")
        s.commit()
        service.return_ticket(session=s, domain=domain, ticket=late, actor=power_handler,
                              reason="不属于本单位职责")
        s.commit()
        assert (late.status, late.unit_id) == (Status.RETURNED.value, None)


def test_a_ticket_held_by_staff_quiet_hours_reaches_the_unit_in_the_morning(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A general ticket dispatched at 23:00 is held until 08:00 (its SMS and sign window);
    its 退单 window runs from then, not from the night."""
    start, clock = _clocked_at(domain, 23)
    handler = city.actor("water-handler")
    with sessions() as s:
        t = _filed(s, domain, city, "general")
        s.commit()
        morning = (start + timedelta(days=1)).replace(hour=8)
        assert service.return_deadline(session=s, domain=domain, ticket=t) == \
            morning + timedelta(hours=2)
        clock[0] = morning + timedelta(hours=1, minutes=59)
        service.return_ticket(session=s, domain=domain, ticket=t, actor=handler,
                              reason="不属于本单位职责")
        s.commit()
        assert t.status == Status.RETURNED.value
        assert service.return_deadline(session=s, domain=domain, ticket=t) is None


def test_a_district_supervisor_moves_tickets_only_among_their_own_units(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Figures follow the ticket's unit. 朝阳区's supervisor 改派'd a Chaoyang unit's overdue
    ticket to 海淀区中关村街道, outside their scope (and past the 退单 window): the lateness
    went to another district's unit. Within their units they still may; the centre
    anywhere."""
    start, clock = _clocked(domain)
    op, sup = city.actor("operator"), city.actor("cy-supervisor")
    housing, wangjing = city.unit_id("cy-housing"), city.unit_id("cy-wangjing")
    zgc = city.unit_id("hd-zgc")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811114451", category="housing",
                                  urgency="urgent", demand="朝阳区望京西园三区5号楼电梯困人")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=housing)
        s.commit()
        clock[0] = start + timedelta(hours=3)
        assert is_overdue(t, domain.now())
        with pytest.raises(service.InvalidInput) as refused:
            service.reassign(session=s, domain=domain, ticket=t, actor=sup, unit_id=zgc,
                             reason="属地不清")
        assert refused.value.field == "unit_id"
        s.rollback()
        s.refresh(t)
        assert (t.unit_id, len([e for e in t.events if e.action == "reassign"])) == (housing, 1)
        service.reassign(session=s, domain=domain, ticket=t, actor=sup, unit_id=wangjing,
                         reason="属地办理")
        s.commit()
        assert t.unit_id == wangjing
        service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=zgc,
                         reason="属地为海淀")
        s.commit()
        assert t.unit_id == zgc


def test_a_periods_figures_are_those_of_its_tickets_whatever_is_outside_it(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The late-sign flags are read only for the tickets the figures are about
    (reports.loop_counts): a period's figures are what a count over every ticket's events,
    split by the period, gives. Before the period: one ticket brought back late by two hops
    and one signed in time; in it: the same again, and one signed in time."""
    start, clock = _clocked(domain)
    sup, handler = city.actor("supervisor"), city.actor("water-handler")
    power = city.unit_id("bj-power")
    boundary = start + timedelta(days=1)
    with sessions() as s:
        for at, on_time in ((start, 1), (boundary, 2)):
            clock[0] = at
            late = _filed_and_saved(s, domain, city, "livelihood")
            kept = [_filed_and_saved(s, domain, city, "livelihood") for _ in range(on_time)]
            for t in kept:
                service.sign(session=s, domain=domain, ticket=t, actor=handler)
            clock[0] = at + timedelta(minutes=10)
            water = late.unit_id
            assert water is not None
            service.reassign(session=s, domain=domain, ticket=late, actor=sup, unit_id=power,
                             reason="派错单位")
            service.reassign(session=s, domain=domain, ticket=late, actor=sup, unit_id=water,
                             reason="派回")
            service.sign(session=s, domain=domain, ticket=late, actor=handler)
            s.commit()
        op = city.actor("operator")

        def period(since: datetime | None, until: datetime | None) -> tuple[int, ...]:
            f = figures(session=s, actor=op, now=domain.now(), since=since, until=until,
                        utility_window=domain.utility_window)
            return f.tickets, f.dispatched, f.signed_in_time, f.due

        side = case((Ticket.received_at >= boundary, "in"), else_="before")
        split = loop_counts(session=s, conds=[true()], now=domain.now(), by=side)
        whole = {k: (c.tickets, c.dispatched, c.signed_in_time, c.due)
                 for k, c in split.items()}
        # (due depends on the working calendar of the days the test runs on: compared only)
        assert {k: v[:3] for k, v in whole.items()} == {"before": (2, 2, 1), "in": (3, 3, 2)}
        assert period(boundary, None) == whole["in"]
        assert period(None, boundary) == whole["before"]
        assert period(None, None) == tuple(map(sum, zip(*whole.values(), strict=True)))


def test_the_api_takes_a_regrading_of_a_dispatched_ticket_only_with_a_reason(
    client: TestClient, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The same rule through ``POST /tickets/{ref}/classification``: the district
    supervisor's lowering is refused with or without a reason (422, nothing changes); the
    centre's without a reason too; with one, the urgency is corrected."""
    with sessions() as s:
        t = _at_a_district_unit(s, domain, city, "urgent")
        number, set_at = t.number, t.due_at
    assert set_at is not None
    sup = {"Authorization": f"Bearer {city.tokens['cy-supervisor']}"}
    centre = {"Authorization": f"Bearer {city.tokens['supervisor']}"}
    url = f"/api/v1/tickets/{number}/classification"
    for body in ({"urgency": "general"}, {"urgency": "general", "reason": "复核来电录音"}):
        r = client.post(url, headers=sup, json=body)
        assert r.status_code == 422 and "lowered_urgency" in r.text
    r = client.post(url, headers=centre, json={"urgency": "general"})
    assert r.status_code == 422 and "reason" in r.text
    with sessions() as s:
        assert s.get(Ticket, t.id).due_at == set_at
    r = client.post(url, headers=centre, json={"urgency": "general", "reason": "复核来电录音"})
    assert r.status_code == 200, r.text
    assert r.json()["urgency"] == "general"
    assert datetime.fromisoformat(r.json()["due_at"]) > set_at


def test_a_district_supervisor_does_not_exclude_their_own_units_ticket(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """剔除 takes a ticket out of every figure of its unit. 朝阳区's supervisor excluded
    their own unit's overdue ticket and 朝阳区住建委 was never late; the decision is the
    centre's (its 督办科 here), whom no unit's figure ranks."""
    start, clock = _clocked(domain)
    sup, centre = city.actor("cy-supervisor"), city.actor("supervisor")
    with sessions() as s:
        t = _at_a_district_unit(s, domain, city, "urgent")
        clock[0] = start + timedelta(hours=3)
        with pytest.raises(PermissionDenied):
            service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason="无理诉求")
        s.rollback()
        f = _figures(s, domain, city)  # its look-up before this session reads (one writer)
        assert (f.due, f.excluded) == (1, 0) and t.status == Status.DISPATCHED
        _excluded(s, domain, t, centre, "无理诉求")


def test_a_closure_is_dated_by_the_answer_the_centre_accepted(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """按期办结 read the centre's 核实 time: a unit that answered within the day, verified by
    the centre the day after, was late, while a district supervisor who verified their own
    units' answers at once kept them on time. The answer's time counts; an answer sent back
    (核实退回) and given again after the deadline is late however fast it is verified."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = _filed(s, domain, city, "livelihood")  # 24 hours
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(hours=20)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已恢复供水",
                      outcome="resolved")
        clock[0] = start + timedelta(hours=30)  # the centre's 核实, the next day
        service.close(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        assert _timeliness(s, domain, city)[:3] == (1, 1, 1)
        s.commit()  # the read's transaction ended before the next look-up (one writer)

        late = _filed(s, domain, city, "livelihood")
        service.sign(session=s, domain=domain, ticket=late, actor=handler)
        clock[0] = start + timedelta(hours=50)
        service.reply(session=s, domain=domain, ticket=late, actor=handler, text="已恢复",
                      outcome="resolved")
        clock[0] = start + timedelta(hours=55)  # sent back after its deadline (54 h)
        service.send_back(session=s, domain=domain, ticket=late, actor=op, reason="未写明原因")
        clock[0] = start + timedelta(hours=56)
        _answered(s, domain, late, handler, op, "管道抢修完毕，已恢复供水")
        s.commit()
        assert _timeliness(s, domain, city)[:3] == (2, 1, 1)


def test_a_late_ticket_merged_into_an_answered_one_is_not_closed_on_time(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A answered at 2 h, awaiting 核实; B called at 2 h (due at 26 h), never signed, merged
    into A at 30 h, past its deadline (so it still counts on its own); A closed at 31 h.
    B took A's answer time, 2 h: closed and answered on time, before its caller had even
    called. A member's answer is dated no earlier than its merge (merging.member_answered)."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        a = _filed(s, domain, city, "livelihood")  # due at 24 h
        service.sign(session=s, domain=domain, ticket=a, actor=handler)
        clock[0] = start + timedelta(hours=2)
        service.reply(session=s, domain=domain, ticket=a, actor=handler, text="已恢复供水",
                      outcome="resolved")
        s.commit()  # _filed looks its operator up in a session of its own (one writer)
        b = _filed(s, domain, city, "livelihood")  # due at 26 h
        s.commit()
        clock[0] = start + timedelta(hours=30)
        merging.merge(session=s, domain=domain, primary=a, others=[b], actor=op)
        clock[0] = start + timedelta(hours=31)
        service.close(session=s, domain=domain, ticket=a, actor=op)
        s.commit()
        assert b.status == Status.CLOSED.value and b.merged_at == start + timedelta(hours=30)
        assert b.replied_at == b.merged_at and b.done_at == b.merged_at
        # (due, closed on time, replied on time): A on time, B late on both.
        assert _timeliness(s, domain, city)[:3] == (2, 1, 1)


def test_a_closed_tickets_urgency_is_lowered_only_by_the_rule(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Closed, a ticket was "not dispatched" to the correction's rule: 朝阳区's supervisor
    lowered their unit's closed urgent ticket to general with no reason and no deadline
    rule, and a 驳回重办 then got the general kind's time. Every ticket ever dispatched is
    corrected by the one rule: a lowering is the centre's, with a reason, and the deadline
    is ``reclassified_due``'s."""
    start, clock = _clocked(domain)
    sup, op = city.actor("cy-supervisor"), city.actor("operator")
    handler = city.actor("cy-housing-handler")
    with sessions() as s:
        t = _at_a_district_unit(s, domain, city, "urgent")
        set_at = t.due_at
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        clock[0] = start + timedelta(minutes=20)
        _answered(s, domain, t, handler, op, "已维修")
        s.commit()
        assert t.status == Status.CLOSED.value and t.dispatched_at is not None
        clock[0] = start + timedelta(minutes=40)
        _lowering_refused(s, domain, t, sup, set_at)
        # So a 驳回重办 after it cannot give the redo the general kind's days.
        centre = city.actor("supervisor")
        with pytest.raises(service.InvalidInput, match="reason"):
            service.confirm_classification(session=s, domain=domain, ticket=t, actor=centre,
                                           urgency="general")
        s.rollback()
        assert t.urgency == "urgent" and t.due_at == set_at


def test_only_the_named_centres_supervisor_is_the_centre(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The supervisor of any top-level unit was taken for the centre's 督办科: a unit added
    without a parent (`hotline unit add`, the admin API) had its supervisor 剔除 its own
    ticket. The centre is the unit(s) ``settings.centre_units`` names ("bj", the demo's)."""
    start, clock = _clocked(domain)
    with sessions() as s:
        add_unit(session=s, code="sw", name="市水务集团", parent_code=None)
        add_user(session=s, username="sw-supervisor", display_name="水务督办员",
                 role=Role.SUPERVISOR, unit_code="sw")
        s.commit()
        assert Actor.of(s.scalars(select(User).where(User.username == "sw-supervisor"))
                        .one()).unit_code == "sw"
    op, sw = city.actor("operator"), city.unit_id("sw")
    # (bj's 督办科 sees bj's tree only, not a unit beside it: the admin is the centre here)
    sup, centre = city.actor("sw-supervisor"), city.actor("admin")
    assert not sup.of_the_centre and city.actor("supervisor").of_the_centre
    with sessions() as s:
        t = _filed(s, domain, city, "urgent")
        service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=sw)
        s.commit()
        clock[0] = start + timedelta(hours=3)
        with pytest.raises(PermissionDenied):
            service.exclude(session=s, domain=domain, ticket=t, actor=sup, reason="无理诉求")
        s.rollback()
        _excluded(s, domain, t, centre, "无理诉求")


def test_no_ticket_is_sent_to_the_centres_own_unit(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """judge38's trial: the centre's operator 改派'd a ticket to the centre's own unit ("bj",
    ``settings.centre_units``), where nobody handles a ticket: it waited there dispatched to
    no one, each such 改派 opened a new sign window, and its figures went to a unit no
    ranking reads. The centre's unit signs nothing: a 派单 or 改派 to it is refused, by
    anyone, and changes nothing; a dispatch rule naming it sends the ticket to the manual
    queue, as a rule naming no unit does (ticketing.holders.receiver_refusal, one rule)."""
    _clocked_at(domain, 10)  # the 退单 below within its window, out of staff quiet hours
    centre = city.unit_id("bj")
    op, admin, boss = city.actor("operator"), city.actor("admin"), city.actor("supervisor")
    handler = city.actor("water-handler")
    with sessions() as s:
        t = _filed(s, domain, city, "general")
        s.commit()
        water, due, events = t.unit_id, t.sign_due_at, len(t.events)
        assert water is not None and t.status == Status.DISPATCHED.value
        for actor in (op, admin, boss):
            with pytest.raises(service.InvalidInput) as refused:
                service.reassign(session=s, domain=domain, ticket=t, actor=actor,
                                 unit_id=centre, reason="改派至热线中心")
            assert refused.value.field == "unit_id"
            s.rollback()
        s.refresh(t)
        assert (t.unit_id, t.sign_due_at, len(t.events)) == (water, due, events)
        service.return_ticket(session=s, domain=domain, ticket=t, actor=handler,
                              reason="不属于本单位职责")
        s.commit()
        with pytest.raises(service.InvalidInput) as refused:
            service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=centre)
        assert refused.value.field == "unit_id"
        s.rollback()
        s.refresh(t)
        assert (t.status, t.unit_id) == (Status.RETURNED.value, None)
        service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=water)
        s.commit()
        assert (t.status, t.unit_id) == (Status.DISPATCHED.value, water)
    domain.rules = RuleTable((DispatchRule(id="to-the-centre", unit="bj", category="water"),))
    with sessions() as s:
        t = _filed(s, domain, city, "general")
        s.commit()
        assert (t.status, t.unit_id) == (Status.ACCEPTED.value, None)
        queued = [e for e in t.events if e.action == "manual_queue"]
        assert len(queued) == 1 and "bj" in (queued[0].note or ""), queued


def test_a_redos_answer_does_not_rewrite_the_match_of_the_round_the_citizen_judged(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """契合度 pairs a survey with the answer it judged. The handler said "resolved", the
    citizen said not (办理结果回复不属实) and the ticket was redone; the redo's answer
    "unresolvable" (given before its own survey, whose call then finds nobody) turned the
    untrue answer into a match: a unit caught answering untruly cleared the record by
    answering differently the second time (judge41: 2/3 became 3/3 on the live API)."""
    start, clock = _clocked(domain)
    op, handler = city.actor("operator"), city.actor("water-handler")
    bot = Actor.system("outbound")
    with sessions() as s:
        t = _denied_and_redone(s, domain, city, clock, satisfied=True)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.compared, f.matched) == (1, 0)
        clock[0] = start + timedelta(hours=3)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="管线属小区自管",
                      outcome="unresolvable", reason="产权自管")
        s.commit()
        # Answered again, not yet verified nor surveyed: round 0's verdict still stands.
        f = _figures(s, domain, city)
        assert (f.compared, f.matched) == (1, 0)
        service.close(session=s, domain=domain, ticket=t, actor=op)
        service.record_unreachable(session=s, domain=domain, ticket=t, actor=bot)
        s.commit()
        f = _figures(s, domain, city)
        assert (f.surveyed, f.resolved, f.compared, f.matched) == (1, 0, 1, 0)
        rows = loop_counts(session=s, conds=[], now=domain.now(), per_unit=True)
        assert [(c.compared, c.matched) for c in rows.values() if c.compared] == [(1, 0)]
