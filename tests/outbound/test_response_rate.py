"""响应率 and the 签收 reminder call, on the SHIPPED windows (5-minute sign window, the
reminder call's lead) and a controlled clock, on SQLite and PostgreSQL: key 1 pressed on the
reminder call inside the window counts as signed on time, dated when the key was pressed,
not when the worker later settled the call."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from outbound.models import Kind, Outcome
from outbound.planner import plan
from outbound.worker import claim_due, conversation_for, record_end
from tests.outbound.support import WATER, WATER_HANDLER_PHONE, events, tasks, ticket
from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.phones import normalise
from ticketing.reports import figures


def test_keypad_sign_on_the_reminder_call_counts_on_time(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    assert Settings().outbound == settings.outbound  # the shipped outbound settings
    assert Settings().deadlines == settings.deadlines
    # A weekday morning, outside the quiet hours.
    clock = [datetime(2026, 12, 2, 10, 0, tzinfo=domain.tz)]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    operator = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone="13811112222", demand=WATER)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        number, sign_due = t.number, t.sign_due_at
    assert sign_due is not None and t.status == "dispatched"
    with sessions() as s:
        plan(session=s, domain=domain, now=clock[0])
        s.commit()
    (call_task,) = tasks(sessions, number, Kind.SIGN_CALL)
    # The reminder rings inside the window, with time left to answer and press 1.
    assert clock[0] < call_task.due_at < sign_due

    clock[0] = call_task.due_at
    with sessions() as s:
        claims = claim_due(session=s, domain=domain, worker="w1", now=clock[0], limit=10,
                           carrier="sip", sms_carrier="log")
        s.commit()
    (claim,) = [c for c in claims if c.kind == Kind.SIGN_CALL]
    assert claim.target.phone == normalise(WATER_HANDLER_PHONE)
    talk = conversation_for(sessions=sessions, domain=domain, attempt_id=claim.attempt_id)
    talk.answered("sip-call-1")
    assert talk.step("").keys == "12"
    pressed_at = clock[0] + timedelta(seconds=40)  # rang, answered, heard the number
    clock[0] = pressed_at
    talk.pressed("1")
    assert talk.step("1").prompt_id == "sign_done"
    # The worker settles the call only after the window has ended.
    clock[0] = sign_due + timedelta(minutes=3)
    with sessions() as s:
        record_end(session=s, domain=domain, claim=claim, worker="w1",
                   outcome=Outcome.ANSWERED, keys="1", call_ref="sip-call-1", detail="")
        s.commit()

    signed = ticket(sessions, number)
    assert signed.status == "signed" and signed.handler_id == city.user_id("water-handler")
    assert signed.signed_at == pressed_at and signed.signed_at <= sign_due
    (sign_ev,) = [e for e in events(sessions, number) if e.action == "sign"]
    assert sign_ev.data == {"via": "keypad"} and sign_ev.at == pressed_at
    (call_task,) = tasks(sessions, number, Kind.SIGN_CALL)
    assert call_task.status == "done" and call_task.result == "signed_by_keypad"
    supervisor = city.actor("supervisor")
    with sessions() as s:
        f = figures(session=s, actor=supervisor, now=clock[0],
                    utility_window=domain.utility_window)
    assert f.dispatched == 1 and f.signed_in_time == 1 and f.response_rate == 1.0


def test_keypad_sign_after_the_window_is_late(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The same call answered on its last retry, after the window: not on time."""
    clock = [datetime(2026, 12, 2, 10, 0, tzinfo=domain.tz)]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    operator = city.actor("operator")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone="13811112222", demand=WATER)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        number, sign_due = t.number, t.sign_due_at
    assert sign_due is not None
    with sessions() as s:
        plan(session=s, domain=domain, now=clock[0])
        s.commit()
    clock[0] = sign_due + timedelta(seconds=1)
    with sessions() as s:
        claims = claim_due(session=s, domain=domain, worker="w1", now=clock[0], limit=10,
                           carrier="sip", sms_carrier="log")
        s.commit()
    (claim,) = [c for c in claims if c.kind == Kind.SIGN_CALL]
    talk = conversation_for(sessions=sessions, domain=domain, attempt_id=claim.attempt_id)
    talk.answered("sip-call-2")
    talk.pressed("1")
    assert ticket(sessions, number).signed_at == clock[0]
    supervisor = city.actor("supervisor")
    with sessions() as s:
        f = figures(session=s, actor=supervisor, now=clock[0],
                    utility_window=domain.utility_window)
    assert f.dispatched == 1 and f.signed_in_time == 0 and f.response_rate == 0.0
