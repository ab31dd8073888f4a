"""Keys pressed before the question on an outbound call (telephony.call.set_keys_ahead_aside,
the rule the hotline's dialogue follows too): no answer, but kept on the attempt and shown in
the ticket's trail, on SQLite and PostgreSQL. The dialer's side (they are set aside, the
questions heard whole) is tests/outbound/test_wrong_keys.py; the hotline's,
tests/ivr/test_dialogue_keys.py::test_keys_dropped_before_the_next_question_stay_in_the_call_record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from outbound.conversation import Conversation
from outbound.models import Kind, OutboundAttempt, Outcome
from outbound.planner import plan
from outbound.worker import claim_due, conversation_for, record_end
from tests.outbound.support import events, new_ticket, ticket
from tests.support.city import City
from ticketing.context import Domain


def _sign_call_keyed(sessions: sessionmaker[Session], domain: Domain, city: City,
                     keep: Callable[[Conversation], None]) -> tuple[str, OutboundAttempt]:
    """A new ticket's sign reminder answered, ``keep`` run on its conversation while the
    call is up, the call ended as answered with no answer: the ticket's number and the
    attempt row."""
    clock = [datetime(2026, 12, 2, 10, 0, tzinfo=domain.tz)]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    number = new_ticket(sessions, domain, city)
    with sessions() as s:
        plan(session=s, domain=domain, now=clock[0])
        s.commit()
    clock[0] = clock[0].replace(minute=4)  # the reminder's time, inside the sign window
    with sessions() as s:
        (claim,) = [c for c in claim_due(session=s, domain=domain, worker="w1", now=clock[0],
                                         limit=10, carrier="sip", sms_carrier="log")
                    if c.kind == Kind.SIGN_CALL]
        s.commit()
    talk = conversation_for(sessions=sessions, domain=domain, attempt_id=claim.attempt_id)
    talk.answered("sip-call-keyed")
    keep(talk)
    with sessions() as s:
        record_end(session=s, domain=domain, claim=claim, worker="w1",
                   outcome=Outcome.ANSWERED, keys="", call_ref="sip-call-keyed", detail="")
        s.commit()
    with sessions() as s:
        attempt = s.scalars(select(OutboundAttempt)
                            .where(OutboundAttempt.id == claim.attempt_id)).one()
        s.expunge(attempt)
    return number, attempt


def test_keys_pressed_before_the_question_are_in_the_trail_not_in_the_answer(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The sign reminder answered and 1, 1 keyed before the question: the call's line in
    the ticket's trail names them (they were only logged, so the trail read as if nothing
    was pressed), and they sign nothing."""
    number, attempt = _sign_call_keyed(sessions, domain, city, lambda talk: talk.ahead("11"))
    assert attempt.keys is None and (attempt.data or {}).get("keys_ahead") == "11"
    assert ticket(sessions, number).signed_at is None
    (line,) = [e for e in events(sessions, number) if e.action == "outbound_call"]
    assert "提问前按键11（不作答）" in (line.note or "")
    assert line.data["keys_ahead"] == "11" and line.data["keys"] is None


def _wrong(talk: Conversation) -> None:
    for in_a_row, key in enumerate("99*"):
        talk.wrong(key, answered="", in_a_row=in_a_row)


def test_keys_no_question_takes_are_in_the_trail_not_in_the_answer(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The sign reminder answered and 9, 9, * keyed to "签收请按1" (the dialer ends such a
    call after three, tests/outbound/test_wrong_keys.py): the trail said "answered" alone,
    as for someone who pressed nothing (seen on a real survey call to a phone keying 9s,
    2026-12-06); now it names them, and they sign nothing."""
    number, attempt = _sign_call_keyed(sessions, domain, city, _wrong)
    assert attempt.keys is None and (attempt.data or {}).get("keys_wrong") == "99*"
    assert ticket(sessions, number).signed_at is None
    (line,) = [e for e in events(sessions, number) if e.action == "outbound_call"]
    assert "无效按键99*（不作答）" in (line.note or "")
    assert line.data["keys_wrong"] == "99*" and line.data["keys"] is None
