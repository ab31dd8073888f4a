"""Staff quiet hours as SHIPPED (config/hotline.toml + config/settings.py): a general
ticket's 催办 due at night waits for the morning, audited on the ticket page; repetitions
of 超期督办 that gathered overnight go as one call; an urgent ticket reaches people at any
hour. SQLite and PostgreSQL, the domain's clock moved by hand (see test_escalation.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from outbound.inbound_sms import Handled, receive
from outbound.models import Kind, Outcome
from outbound.worker import OutboundWorker
from tests.console.conftest import log_in
from tests.outbound.support import (
    RecordingSms,
    Script,
    ScriptedDialer,
    events,
    tasks,
    ticket,
)
from tests.outbound.test_escalation import (
    CITY_SUPERVISOR,
    CY_HANDLER,
    CY_SUPERVISOR,
    Clock,
    run,
)
from tests.support.city import City
from ticketing import merging, service
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.phones import normalise

CITIZEN = "13811112222"
WANGJING_HANDLER = "13900000011"  # the demo city's 望京街道 handler
STREETLIGHT = "朝阳区阜通东大街的路灯坏了好几天了"


def _local(domain: Domain, year: int, month: int, day: int, hour: int, minute: int = 0
           ) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=domain.tz)


def _signed_ticket(sessions: sessionmaker[Session], domain: Domain, city: City,
                   urgency: str | None = None) -> tuple[str, datetime, datetime]:
    operator, handler = city.actor("operator"), city.actor("cy-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone=CITIZEN, category="municipal",
                                  district="朝阳区", demand=STREETLIGHT, urgency=urgency)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        s.commit()
        assert t.due_at is not None
        return t.number, t.received_at, t.due_at


def _worker(sessions: sessionmaker[Session], domain: Domain
            ) -> tuple[OutboundWorker, ScriptedDialer, RecordingSms]:
    sms = RecordingSms()
    dialer = ScriptedDialer({p: Script(["1"]) for p in (CY_HANDLER, CY_SUPERVISOR,
                                                        CITY_SUPERVISOR)})
    return (OutboundWorker(sessions=sessions, domain=domain, dialer=dialer, sms=sms,
                           name="quiet"), dialer, sms)


def _staff_sms(sms: RecordingSms) -> list[tuple[str, str]]:
    return [m for m in sms.sent if m[0] != normalise(CITIZEN)]


def test_general_ticket_urge_at_night_waits_for_the_morning_and_is_audited(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    shipped = Settings().outbound
    assert (settings.outbound.staff_quiet_start, settings.outbound.staff_quiet_end,
            settings.outbound.staff_quiet_overrides) == (
        shipped.staff_quiet_start, shipped.staff_quiet_end, shipped.staff_quiet_overrides)
    assert settings.escalation == Settings().escalation
    clock = Clock(domain)
    # Monday 21:00 (no holiday that week): the deadline is the next Monday 21:00, so the
    # 75 % call to the handler falls on Sunday 03:00 and 超期督办 on Tuesday 01:00, 05:00.
    clock.at = _local(domain, 2026, 3, 9, 21)
    number, received, due = _signed_ticket(sessions, domain, city)
    assert due == _local(domain, 2026, 3, 16, 21)
    worker, dialer, sms = _worker(sessions, domain)

    run(worker, clock, received + (due - received) * 0.5 + timedelta(seconds=1))  # Fri 09:00
    assert [m[0] for m in _staff_sms(sms)] == [normalise(CY_HANDLER)]

    run(worker, clock, received + (due - received) * 0.75 + timedelta(seconds=1))  # Sun 03:00
    assert dialer.calls == []
    postponed = [e for e in events(sessions, number) if e.action == "urge_postponed"]
    assert len(postponed) == 1
    assert "通知承办人顺延至03月15日08:00" in (postponed[0].note or "")
    assert (datetime.fromisoformat(postponed[0].data["until"])
            == _local(domain, 2026, 3, 15, 8))

    run(worker, clock, _local(domain, 2026, 3, 15, 7, 59))
    assert dialer.calls == []
    run(worker, clock, _local(domain, 2026, 3, 15, 8))
    assert dialer.calls == [(CY_HANDLER, "1")]

    run(worker, clock, due + timedelta(seconds=1))  # Monday 21:00: before quiet hours
    assert dialer.calls[1:] == [(CY_SUPERVISOR, "1")]

    # Overdue through the night: the 01:00 and 05:00 repetitions both wait, and at 08:00
    # the superior unit hears one call, not two.
    run(worker, clock, _local(domain, 2026, 3, 17, 1, 0) + timedelta(seconds=1))
    run(worker, clock, _local(domain, 2026, 3, 17, 5, 0) + timedelta(seconds=1))
    assert dialer.calls[2:] == []
    run(worker, clock, _local(domain, 2026, 3, 17, 8))
    assert dialer.calls[2:] == [(CITY_SUPERVISOR, "1")]
    results = {u.step: u.result for u in tasks(sessions, number, Kind.URGE)}
    assert list(results.values()).count("superseded") == 1
    # The next repetition keeps its own time (09:00), outside quiet hours.
    run(worker, clock, _local(domain, 2026, 3, 17, 9) + timedelta(seconds=1))
    assert dialer.calls[3:] == [(CITY_SUPERVISOR, "1")]

    page = log_in(create_app(settings), city, "supervisor").get(
        f"/console/tickets/{number}").text
    assert "催办顺延" in page and "顺延至03月15日08:00" in page
    assert "顺延至03月17日08:00" in page


def test_general_ticket_urge_sms_at_night_waits_too(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    # Monday 14:30: the 50 % SMS to the handler falls on Friday 02:30.
    clock.at = _local(domain, 2026, 3, 9, 14, 30)
    number, received, due = _signed_ticket(sessions, domain, city)
    worker, _, sms = _worker(sessions, domain)
    run(worker, clock, received + (due - received) * 0.5 + timedelta(seconds=1))
    assert _staff_sms(sms) == []
    (postponed,) = [e for e in events(sessions, number) if e.action == "urge_postponed"]
    assert "短信通知承办人顺延至03月13日08:00" in (postponed.note or "")
    run(worker, clock, _local(domain, 2026, 3, 13, 8))
    assert [m[0] for m in _staff_sms(sms)] == [normalise(CY_HANDLER)]


def test_urgent_ticket_reaches_people_at_any_hour(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 2)  # Tuesday 02:00
    number, received, due = _signed_ticket(sessions, domain, city, urgency="urgent")
    assert due - received == timedelta(hours=1)
    worker, dialer, sms = _worker(sessions, domain)
    run(worker, clock, received + (due - received) * 0.5 + timedelta(seconds=1))
    assert [m[0] for m in _staff_sms(sms)] == [normalise(CY_HANDLER)]
    run(worker, clock, received + (due - received) * 0.75 + timedelta(seconds=1))
    run(worker, clock, due + timedelta(seconds=1))
    assert dialer.calls == [(CY_HANDLER, "1"), (CY_SUPERVISOR, "1")]
    assert not [e for e in events(sessions, number) if e.action == "urge_postponed"]


@pytest.mark.parametrize("bad", ["25:00", "24:00", "21:60", "21:00:30", "8:00", "noon", ""])
@pytest.mark.parametrize("field", ["staff_quiet_start", "staff_quiet_end", "quiet_start",
                                   "quiet_end"])
def test_quiet_hours_must_be_clock_times(field: str, bad: str) -> None:
    """The citizen's quiet hours took any text: "24:00" (midnight, as people write it) or
    "21:00:30" started the service and then raised at every claim of a survey or citizen
    SMS, so each tick failed and no reminder, call or SMS of any kind went out."""
    with pytest.raises(ValidationError):
        Settings(outbound={field: bad})


def test_staff_quiet_overrides_must_be_urgencies() -> None:
    with pytest.raises(ValidationError):
        Settings(outbound={"staff_quiet_overrides": ["critical"]})


def test_livelihood_ticket_is_not_held_either(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 14)  # Tuesday 14:00: its 50 % SMS at 02:00
    number, received, due = _signed_ticket(sessions, domain, city, urgency="livelihood")
    assert due - received == timedelta(hours=24)
    worker, _, sms = _worker(sessions, domain)
    run(worker, clock, received + (due - received) * 0.5 + timedelta(seconds=1))
    assert [m[0] for m in _staff_sms(sms)] == [normalise(CY_HANDLER)]
    assert not [e for e in events(sessions, number) if e.action == "urge_postponed"]


# --- the dispatch SMS and the 签收 window of a ticket dispatched at night ---------------


def _dispatched_ticket(sessions: sessionmaker[Session], domain: Domain, city: City,
                       urgency: str | None = None) -> str:
    operator = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone=CITIZEN, category="municipal",
                                  district="朝阳区", demand=STREETLIGHT, urgency=urgency)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        assert t.status == "dispatched" and t.handler is not None
        assert t.urgency == (urgency or "general")
        return t.number


def _window(domain: Domain) -> timedelta:
    return timedelta(seconds=domain.settings.deadlines.sign_window_seconds)


def test_general_ticket_dispatched_at_night_is_told_and_reminded_in_the_morning(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    shipped = Settings()
    assert settings.outbound.model_dump() == shipped.outbound.model_dump()
    assert settings.deadlines.sign_window_seconds == shipped.deadlines.sign_window_seconds
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 9, 23, 10)  # Monday 23:10
    number = _dispatched_ticket(sessions, domain, city)
    morning = _local(domain, 2026, 3, 10, 8)
    t = ticket(sessions, number)
    assert t.sign_due_at == morning + _window(domain)
    (held,) = [e for e in events(sessions, number) if e.action == "dispatch_sms_postponed"]
    assert "派单短信顺延至03月10日08:00" in (held.note or "")
    assert "签收时限随之顺延至03月10日08:05" in (held.note or "")
    assert datetime.fromisoformat(held.data["until"]) == morning

    worker, dialer, sms = _worker(sessions, domain)
    # The night through, and past the end of an unheld window (23:15): nothing.
    for at in (clock.at + timedelta(seconds=1), _local(domain, 2026, 3, 9, 23, 20),
               _local(domain, 2026, 3, 10, 3), morning - timedelta(seconds=1)):
        run(worker, clock, at)
    assert _staff_sms(sms) == [] and dialer.calls == []
    assert not t.escalated and ticket(sessions, number).status == "dispatched"

    run(worker, clock, morning)
    ((to, text),) = _staff_sms(sms)
    assert to == normalise(CY_HANDLER) and "请于03月10日08:05前签收" in text
    assert dialer.calls == []  # the reminder comes before the window ends, not with the SMS

    lead = timedelta(seconds=settings.outbound.sign_call_lead_seconds)
    run(worker, clock, morning + _window(domain) - lead)
    assert dialer.calls == [(CY_HANDLER, "1")]
    signed = ticket(sessions, number)
    assert signed.status == "signed" and not signed.escalated
    assert signed.signed_at is not None and signed.sign_due_at is not None
    assert signed.signed_at <= signed.sign_due_at  # on time: counts for 响应率

    page = log_in(create_app(settings), city, "supervisor").get(
        f"/console/tickets/{number}").text
    assert "派单短信顺延" in page and "派单短信顺延至03月10日08:00" in page


@pytest.mark.parametrize("urgency", ["urgent", "livelihood"])
def test_urgent_and_livelihood_dispatch_sms_goes_at_night(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
    urgency: str
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 2)  # Tuesday 02:00
    number = _dispatched_ticket(sessions, domain, city, urgency=urgency)
    assert ticket(sessions, number).sign_due_at == clock.at + _window(domain)
    worker, dialer, sms = _worker(sessions, domain)
    run(worker, clock, clock.at + timedelta(seconds=1))
    assert [m[0] for m in _staff_sms(sms)] == [normalise(CY_HANDLER)]
    lead = timedelta(seconds=settings.outbound.sign_call_lead_seconds)
    run(worker, clock, _local(domain, 2026, 3, 10, 2) + _window(domain) - lead)
    assert dialer.calls == [(CY_HANDLER, "1")]
    assert not [e for e in events(sessions, number)
                if e.action in ("dispatch_sms_postponed", "urge_postponed")]


def test_general_ticket_dispatched_by_day_is_not_held(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 21, 59)  # Tuesday, a minute before quiet hours
    number = _dispatched_ticket(sessions, domain, city)
    assert ticket(sessions, number).sign_due_at == clock.at + _window(domain)
    worker, dialer, sms = _worker(sessions, domain)
    # Planned after 22:00: the window opened by day, so the SMS goes and the call follows.
    run(worker, clock, _local(domain, 2026, 3, 10, 22, 0) + timedelta(seconds=1))
    assert [m[0] for m in _staff_sms(sms)] == [normalise(CY_HANDLER)]
    run(worker, clock, _local(domain, 2026, 3, 10, 22, 2))
    assert dialer.calls == [(CY_HANDLER, "1")]
    assert not [e for e in events(sessions, number) if e.action == "dispatch_sms_postponed"]


def test_redo_at_night_opens_its_sign_window_in_the_morning(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 15)
    number, _, _ = _signed_ticket(sessions, domain, city)
    handler, operator = city.actor("cy-handler"), city.actor("operator")
    supervisor = city.actor("supervisor")
    with sessions() as s:
        t = s.get_one(Ticket, ticket(sessions, number).id)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="路灯已修复",
                      outcome="resolved")
        if t.status != "closed":
            service.close(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
    clock.at = _local(domain, 2026, 3, 10, 23, 30)
    with sessions() as s:
        t = s.get_one(Ticket, ticket(sessions, number).id)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=supervisor,
                            reason="市民反映仍未修好")
        s.commit()
        assert t.sign_due_at == _local(domain, 2026, 3, 11, 8) + _window(domain)
    assert [e.action for e in events(sessions, number)][-2:] == [
        "reject", "dispatch_sms_postponed"]


def test_split_to_another_unit_at_night_opens_its_new_sign_window_in_the_morning(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A ticket that followed its primary to another unit is a new dispatch there when it
    is split off (docs/metrics.md, "A unit's sign window"): at 23:00 its SMS and window
    wait for the morning, as a dispatch's do. (Split back to its own unit it keeps its
    window: tests/ticketing/test_merging.py.)"""
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 21, 50)
    first = _dispatched_ticket(sessions, domain, city)
    second = _dispatched_ticket(sessions, domain, city)
    operator, supervisor = city.actor("operator"), city.actor("supervisor")
    wangjing = city.unit_id("cy-wangjing")
    first_id, second_id = ticket(sessions, first).id, ticket(sessions, second).id
    with sessions() as s:  # SQLite has one writer: ids looked up before this session
        primary, other = s.get_one(Ticket, first_id), s.get_one(Ticket, second_id)
        merging.merge(session=s, domain=domain, primary=primary, others=[other],
                      actor=operator)
        service.reassign(session=s, domain=domain, ticket=primary, actor=operator,
                         unit_id=wangjing, reason="属地为望京街道")  # by day: not held
        s.commit()
        assert (other.unit_id, other.sign_due_at) == (wangjing, None)  # none there yet
    clock.at = _local(domain, 2026, 3, 10, 23)
    with sessions() as s:
        other = s.get_one(Ticket, second_id)
        merging.unmerge(session=s, domain=domain, ticket=other, actor=supervisor,
                        reason="不是同一问题")
        s.commit()
        assert (other.status, other.unit_id) == ("dispatched", wangjing)
        assert other.sign_due_at == _local(domain, 2026, 3, 11, 8) + _window(domain)
    assert [e.action for e in events(sessions, second)][-2:] == [
        "dispatch_sms_postponed", "unmerge_sign_window"]
    sms = RecordingSms()
    dialer = ScriptedDialer({WANGJING_HANDLER: Script(["1"])})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer, sms=sms,
                            name="quiet")
    run(worker, clock, _local(domain, 2026, 3, 10, 23, 10))
    # The primary's window at 望京 opened by day (21:50): its SMS and call go. The split
    # one's SMS waits for the morning, and its reminder call for the window that opens then.
    assert [second in text for _, text in _staff_sms(sms)] == [False]
    assert dialer.calls == [(WANGJING_HANDLER, "1")]
    assert ticket(sessions, first).status == "signed"
    run(worker, clock, _local(domain, 2026, 3, 11, 7, 59))
    assert len(_staff_sms(sms)) == 1 and len(dialer.calls) == 1
    run(worker, clock, _local(domain, 2026, 3, 11, 8))
    assert [second in text for _, text in _staff_sms(sms)] == [False, True]
    assert len(dialer.calls) == 1
    lead = timedelta(seconds=settings.outbound.sign_call_lead_seconds)
    run(worker, clock, _local(domain, 2026, 3, 11, 8) + _window(domain) - lead)
    assert dialer.calls[1:] == [(WANGJING_HANDLER, "1")]
    assert ticket(sessions, second).status == "signed"


# --- the other SMS to staff: a citizen's follow-up, a 多诉督办 notice (judge35) -----------
# Both went at once at any hour, while the same ticket's dispatch SMS and 催办 waited for
# the morning: a follow-up texted at 23:00 reached a handler not yet told of the ticket.


def _staff_contact_postponed(sessions: sessionmaker[Session], number: str) -> list[str]:
    return [e.note or "" for e in events(sessions, number) if e.action == "staff_contact_postponed"]


@pytest.mark.parametrize(("urgency", "held"), [(None, True), ("urgent", False)])
def test_a_citizens_follow_up_at_night_reaches_the_handler_in_the_morning(
    urgency: str | None, held: bool, settings: Settings, sessions: sessionmaker[Session],
    domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 23)  # Tuesday 23:00, shipped quiet 22:00-08:00
    number, _, _ = _signed_ticket(sessions, domain, city, urgency=urgency)
    words = "补充：是阜通东大街12号门口那一排路灯"
    with sessions() as s:
        assert receive(session=s, domain=domain, sender=CITIZEN, text=words,
                       ref="night-1") == Handled.FOLLOW_UP
        s.commit()
    worker, _, sms = _worker(sessions, domain)
    run(worker, clock, _local(domain, 2026, 3, 10, 23, 1))
    follow_ups = [m for m in _staff_sms(sms) if "市民补充信息" in m[1]]
    if not held:  # life safety: the handler is told at once, as every 催办 of it
        assert [m[0] for m in follow_ups] == [normalise(CY_HANDLER)]
        assert _staff_contact_postponed(sessions, number) == []
        return
    assert follow_ups == []
    assert _staff_contact_postponed(sessions, number) == [
        "夜间免打扰（22:00–08:00）：市民补充信息短信顺延至03月11日08:00"]
    run(worker, clock, _local(domain, 2026, 3, 11, 7, 59))
    assert [m for m in _staff_sms(sms) if "市民补充信息" in m[1]] == []
    run(worker, clock, _local(domain, 2026, 3, 11, 8))
    assert [(to, words in text) for to, text in _staff_sms(sms) if "市民补充信息" in text] == [
        (normalise(CY_HANDLER), True)]
    assert len(_staff_contact_postponed(sessions, number)) == 1  # one wait, said once


def test_a_supervision_notice_at_night_waits_for_the_morning(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 23)
    operator = city.actor("operator")
    numbers = []
    for i in range(3):  # three general complaints from one community: a 多诉督办 record
        with sessions() as s:
            t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                      caller_phone=f"1381111000{i}", category="municipal",
                                      demand=f"朝阳区望京西园三区{i + 1}号楼门口的路灯坏了")
            service.accept(session=s, domain=domain, ticket=t, actor=operator)
            s.commit()
            numbers.append(t.number)
    worker, _, sms = _worker(sessions, domain)
    run(worker, clock, _local(domain, 2026, 3, 10, 23, 1))
    assert [m for m in sms.sent if "多诉督办" in m[1]] == []
    assert _staff_contact_postponed(sessions, numbers[0]) == [
        "夜间免打扰（22:00–08:00）：多诉督办短信顺延至03月11日08:00"]
    run(worker, clock, _local(domain, 2026, 3, 11, 8))
    assert len([m for m in sms.sent if "多诉督办" in m[1]]) == 1


@pytest.mark.parametrize(("urgency", "held"), [(None, True), ("livelihood", False)])
def test_a_supervisors_escalation_call_running_into_the_night_waits_for_the_morning(
    urgency: str | None, held: bool, settings: Settings, sessions: sessionmaker[Session],
    domain: Domain, city: City
) -> None:
    """Dispatched at 21:41, before staff quiet hours: the window (21:46), the handler's
    reminder (21:44) and its retries (21:49, 21:59) and the supervisor's call (21:59) go by
    day; the supervisor's retry (22:04) rang at once before, where a 催办 of the same ticket
    waits for the morning. A ticket that cannot give up the night (livelihood) is not held."""
    shipped = Settings()
    assert settings.outbound.model_dump() == shipped.outbound.model_dump()
    assert settings.deadlines.sign_window_seconds == shipped.deadlines.sign_window_seconds
    clock = Clock(domain)
    clock.at = _local(domain, 2026, 3, 10, 21, 41)  # Tuesday
    number = _dispatched_ticket(sessions, domain, city, urgency=urgency)
    dialer = ScriptedDialer({p: Script([Outcome.NO_ANSWER]) for p in (CY_HANDLER,
                                                                       CY_SUPERVISOR)})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                            sms=RecordingSms(), name="quiet")
    for hh, mm, ss in ((21, 44, 1), (21, 49, 2), (21, 59, 3)):
        run(worker, clock, _local(domain, 2026, 3, 10, hh, mm) + timedelta(seconds=ss))
    assert [p for p, _ in dialer.calls] == [CY_HANDLER] * 3 + [CY_SUPERVISOR]
    assert ticket(sessions, number).escalated
    run(worker, clock, _local(domain, 2026, 3, 10, 22, 4, ) + timedelta(seconds=4))
    run(worker, clock, _local(domain, 2026, 3, 11, 3))
    if not held:
        assert [p for p, _ in dialer.calls][4:] == [CY_SUPERVISOR] * 2
        assert _staff_contact_postponed(sessions, number) == []
        return
    assert [p for p, _ in dialer.calls][4:] == []
    assert _staff_contact_postponed(sessions, number) == [
        "夜间免打扰（22:00–08:00）：督办电话顺延至03月11日08:00"]
    run(worker, clock, _local(domain, 2026, 3, 11, 8))
    assert [p for p, _ in dialer.calls][4:] == [CY_SUPERVISOR]
