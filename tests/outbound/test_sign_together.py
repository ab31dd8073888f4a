"""One 签收 reminder call for all of a handler's tickets due together (outbound.signing):
the count first, each ticket in turn (1 signs, 2 passes over, 9 signs the rest), each
ticket's trail saying what happened to it, a crash mid-call losing nothing. Before, a
handler with three unsigned tickets got three calls one after another. The carrier is the
in-process scripted phone (what is said and done is the conversation's, the same over SIP
and Twilio)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from outbound.models import Kind
from outbound.signing import COVERS, SeveralSignConversation
from outbound.worker import OutboundWorker, conversation_for
from tests.outbound.support import (
    WATER_HANDLER_PHONE,
    Clock,
    RecordingSms,
    Script,
    ScriptedDialer,
    attempts,
    drive,
    events,
    new_ticket,
    tasks,
    ticket,
)
from tests.outbound.test_scheduling import _claimed_by_a_dead_worker
from tests.support.city import City
from ticketing.context import Domain

DEMANDS = ("朝阳区望京西园三区5号楼停水了，一直没来水", "朝阳区望京西园四区2号楼停水了，一直没来水",
           "朝阳区望京西园六区1号楼停水了，一直没来水")


def _three_due(sessions: sessionmaker[Session], domain: Domain, city: City,
               clock: Clock) -> list[str]:
    numbers = [new_ticket(sessions, domain, city, phone=f"1381111{n:04d}", demand=d)
               for n, d in enumerate(DEMANDS)]
    clock.at = max(ticket(sessions, n).sign_due_at for n in numbers)  # all three due
    return numbers


def test_one_call_signs_and_passes_over_each_ticket_said_on_its_trail(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """Three tickets due together: one call, the count first; 1 signs the first, 2 passes
    the second over, 9 signs the third (and any after). The signed one's reminder is
    cancelled at its claim; the one passed over gets its own call after."""
    clock = Clock(ob_domain)
    numbers = _three_due(ob_sessions, ob_domain, ob_city, clock)
    dialer = ScriptedDialer({WATER_HANDLER_PHONE: Script(["129"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=RecordingSms(), name="test-worker")
    drive(worker, lambda: all(ticket(ob_sessions, n).status == "signed" for n in numbers),
          clock=clock, step=timedelta(seconds=5))
    assert len(dialer.calls) == 2  # one for the three, then one for the one passed over
    placed = [a for n in numbers for a in attempts(ob_sessions, n, Kind.SIGN_CALL)]
    first = min(placed, key=lambda a: a.id)
    covered = first.data[COVERS]
    assert len(covered) == 3 and first.keys == "129"
    by_id = {ticket(ob_sessions, n).id: n for n in numbers}
    primary, passed, rest = (by_id[i] for i in covered)
    # The passed-over ticket: told so on its trail, then signed by its own call.
    (skip,) = [e for e in events(ob_sessions, passed) if e.action == "outbound_covered"]
    assert "按键2" in (skip.note or "") and "跳过" in (skip.note or "")
    assert f"工单{primary}" in (skip.note or "")
    (own,) = attempts(ob_sessions, passed, Kind.SIGN_CALL)
    assert (own.outcome, own.keys) == ("answered", "1")
    # The third: signed by the 9, its trail says so, its reminder cancelled, never called.
    (signed,) = [e for e in events(ob_sessions, rest) if e.action == "outbound_covered"]
    assert "按键9" in (signed.note or "") and "已签收" in (signed.note or "")
    assert attempts(ob_sessions, rest, Kind.SIGN_CALL) == []
    (task,) = tasks(ob_sessions, rest, Kind.SIGN_CALL)
    assert task.status == "cancelled"
    (task,) = tasks(ob_sessions, primary, Kind.SIGN_CALL)
    assert (task.status, task.result) == ("done", "signed_by_keypad")
    for number in numbers:
        signs = [e for e in events(ob_sessions, number) if e.action == "sign"]
        assert len(signs) == 1 and signs[0].data.get("via") == "keypad"


def test_a_crash_mid_call_loses_none_of_the_tickets(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The worker dies after the handler signed the first of three: that sign stands (it
    was committed with the key), the other two keep their own reminders and are signed by
    the calls that follow; the cut call is not placed again."""
    clock = Clock(ob_domain)
    numbers = _three_due(ob_sessions, ob_domain, ob_city, clock)
    claim = _claimed_by_a_dead_worker(ob_sessions, ob_domain, clock, Kind.SIGN_CALL)
    talk = conversation_for(sessions=ob_sessions, domain=ob_domain, attempt_id=claim.attempt_id)
    talk.answered("sip-call-1")
    first = talk.step("")
    assert "您有3张工单待签收" in first.report and first.keys == "129"
    talk.pressed("1")  # the first signed; the worker dies here
    signed = [n for n in numbers if ticket(ob_sessions, n).status == "signed"]
    assert len(signed) == 1
    clock.at += timedelta(seconds=ob_domain.settings.outbound.lease_seconds + 1)
    dialer = ScriptedDialer({WATER_HANDLER_PHONE: Script(["1"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=RecordingSms(), name="next-worker")
    drive(worker, lambda: all(ticket(ob_sessions, n).status == "signed" for n in numbers),
          clock=clock, step=timedelta(seconds=5))
    # The cut call's ticket is not called again; the others are, and signed.
    assert attempts(ob_sessions, signed[0], Kind.SIGN_CALL)[0].data.get("recovered")
    assert len(attempts(ob_sessions, signed[0], Kind.SIGN_CALL)) == 1
    assert 1 <= len(dialer.calls) <= 2


def test_a_ticket_alone_keeps_its_own_dialogue(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = Clock(ob_domain)
    number = new_ticket(ob_sessions, ob_domain, ob_city)
    clock.at = ticket(ob_sessions, number).sign_due_at
    claim = _claimed_by_a_dead_worker(ob_sessions, ob_domain, clock, Kind.SIGN_CALL)
    talk = conversation_for(sessions=ob_sessions, domain=ob_domain, attempt_id=claim.attempt_id)
    step = talk.step("")
    assert "您有一张新工单待签收" in step.text and step.keys == "12"
    assert not isinstance(getattr(talk, "_chosen", None), SeveralSignConversation)
