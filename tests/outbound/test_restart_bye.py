"""A node killed (SIGKILL) with outbound calls up: the next start on its SIP address ends
each with a BYE (``telephony.sip.ledger``) and, knowing them over, settles their tasks at
once (``worker.end_leases``) by the crash rule, as their lease running out would. Before
(judge39), the BYE was sent and the task still waited the whole 300 s lease: the phone
counted busy to every call waiting for it, the survey or reminder re-planned five minutes
late. Socket-free: the front end's BYE is stood in for; the worker on both databases."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import SipSettings
from outbound.models import Kind, OutboundAttempt
from outbound.sms import LogSms
from outbound.worker import OutboundWorker, conversation_for
from telephony.call import CallHandle
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.ledger import DialogLedger, LeftDialog
from tests.outbound.support import (
    Clock,
    ScriptedDialer,
    attempts,
    claims_of_a_dead_worker,
    close_ticket,
    events,
    new_ticket,
    tasks,
    ticket,
)
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import SurveyResult, Ticket
from ticketing.phones import call_number

CITIZEN = "13811112222"


def _left(call_id: str, target: str) -> LeftDialog:
    return LeftDialog(call_id, "outbound", "lt" + call_id, "rt" + call_id,
                      "sip:12345@127.0.0.1", f"sip:{CITIZEN}@127.0.0.1", target, [], 2, None)


def test_the_next_start_names_the_calls_it_sent_a_bye(tmp_path: Path) -> None:
    """Only a dialog that got its BYE is known over; one no BYE could reach (a target no
    IPv4 socket reaches, or none kept) is left to its lease."""
    fe = SipFrontEnd(SipSettings(mode="direct", bind_ip="127.0.0.1", port=5999),
                     read_number=call_number, dialogs_dir=tmp_path)
    fe.ledger = DialogLedger(tmp_path / "127.0.0.1-5999")
    for left in (_left("ended", "sip:a@127.0.0.1:5070"), _left("unreached", "sip:b@[::1]"),
                 _left("no-target", "")):
        (fe.ledger.dir / f"{left.call_id}.json").write_text(json.dumps(asdict(left)))
    sent: list[str] = []

    def send_bye(call: CallHandle) -> None:  # SipFrontEnd.send_bye's outcomes
        if not call.remote_target:
            return  # nothing sent
        if "[" in call.remote_target:
            raise ValueError("no IPv4 route")
        sent.append(call.call_id)

    fe.send_bye = send_bye  # type: ignore[method-assign]
    fe._end_left_dialogs()
    assert sent == ["ended"] and fe.left_ended == ["ended"]


def test_a_call_the_restart_ended_is_settled_at_once_not_a_lease_later(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = Clock(ob_domain)
    handler = new_ticket(ob_sessions, ob_domain, ob_city)
    citizen = new_ticket(ob_sessions, ob_domain, ob_city, phone=CITIZEN)
    close_ticket(ob_sessions, ob_domain, ob_city, citizen)
    clock.at = max(clock.at + timedelta(seconds=2), ticket(ob_sessions, handler).sign_due_at)
    by_kind = {c.kind: c for c in claims_of_a_dead_worker(ob_sessions, ob_domain, clock.at)}
    survey = conversation_for(sessions=ob_sessions, domain=ob_domain,
                              attempt_id=by_kind[Kind.SURVEY_CALL].attempt_id)
    survey.answered("sip-survey")
    survey.pressed("1")
    survey.pressed("12")  # the survey recorded; the node killed before the call's end
    sign = conversation_for(sessions=ob_sessions, domain=ob_domain,
                            attempt_id=by_kind[Kind.SIGN_CALL].attempt_id)
    sign.answered("sip-sign")  # its BYE could not be sent: not known over
    # Restarted a few seconds later, well within the lease.
    clock.at += timedelta(seconds=5)
    dialer = ScriptedDialer({})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=LogSms(), name="restarted", ended_calls=["sip-survey"])
    worker.tick()
    worker.wait_idle()
    # Settled now, by the crash rule: the answer recorded before the kill stands, once,
    # and the citizen is not called again.
    (task,) = tasks(ob_sessions, citizen, Kind.SURVEY_CALL)
    assert task.status == "done" and task.claimed_by is None
    (attempt,) = attempts(ob_sessions, citizen, Kind.SURVEY_CALL)
    assert attempt.outcome == "answered" and attempt.keys == "12"
    assert attempt.data["recovered"] is True and attempt.ended_at == clock.at
    with ob_sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == citizen)).one()
        assert len(s.scalars(select(SurveyResult).where(SurveyResult.ticket_id == t.id))
                   .all()) == 1
    (call,) = [e for e in events(ob_sessions, citizen) if e.action == "outbound_call"]
    assert "服务中断" in (call.note or "")
    assert dialer.calls == []
    # The call no BYE ended still waits for its lease, as before.
    (reminder,) = tasks(ob_sessions, handler, Kind.SIGN_CALL)
    assert reminder.status == "in_progress" and reminder.claimed_by == "dead"
    # Once: a later tick settles nothing more and calls nobody.
    clock.at += timedelta(seconds=5)
    worker.tick()
    worker.wait_idle()
    assert len(attempts(ob_sessions, citizen, Kind.SURVEY_CALL)) == 1 and dialer.calls == []
    with ob_sessions() as s:
        assert s.get_one(OutboundAttempt, attempt.id).ended_at == attempt.ended_at
