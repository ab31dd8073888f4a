"""What the trail says an outbound call or SMS came to, in the operators' Mandarin
(review127): it printed the carrier-neutral code ("派单短信（第1次）：unknown"), and an SMS
whose provider neither took nor refused it finished ``unknown_after_crash`` with no crash."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from outbound.models import Kind, Outcome
from outbound.sms import SmsResult
from outbound.worker import OUTCOME_NOTES, OutboundWorker, outcome_note
from tests.outbound import support as ob
from tests.support.city import City
from ticketing.context import Domain
from ticketing.phones import normalise

UNCLEAR_SMS = "结果未知（可能未送达，请人工核实）"


@dataclass
class UnclearSms:
    """A provider whose create got no clear answer for the handler's number (the Twilio
    sender's ``unknown``: not listed afterwards, so neither sent nor refused)."""

    unclear_to: str
    sent: list[tuple[str, str]] = field(default_factory=list)
    name: str = "unclear"

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        self.sent.append((to, text))
        if to == self.unclear_to:
            return SmsResult(ok=False, unknown=True, detail="create unanswered; not listed")
        return SmsResult(ok=True, ref=ref)


def _worker(sessions: sessionmaker[Session], domain: Domain, dialer: ob.ScriptedDialer,
            sms: object) -> OutboundWorker:
    return OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                          sms=sms, name="test-worker")  # type: ignore[arg-type]


def test_an_sms_with_no_clear_answer_is_told_in_mandarin_and_not_called_a_crash(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = ob.Clock(ob_domain)
    number = ob.new_ticket(ob_sessions, ob_domain, ob_city)
    sms = UnclearSms(normalise(ob.WATER_HANDLER_PHONE))
    worker = _worker(ob_sessions, ob_domain, ob.ScriptedDialer(), sms)
    ob.drive(worker, lambda: any(t.status == "done"
                                 for t in ob.tasks(ob_sessions, number, Kind.SMS_DISPATCH)),
             clock=clock)
    (task,) = ob.tasks(ob_sessions, number, Kind.SMS_DISPATCH)
    assert task.result == "unknown_unconfirmed"  # nothing crashed
    (attempt,) = ob.attempts(ob_sessions, number, Kind.SMS_DISPATCH)
    assert attempt.outcome == Outcome.UNKNOWN  # the code the daily cap and retries read
    # At most once: the provider may have it, so it is not sent again.
    assert [to for to, _ in sms.sent].count(normalise(ob.WATER_HANDLER_PHONE)) == 1
    (line,) = [e for e in ob.events(ob_sessions, number) if e.action == "outbound_sms"
               and e.data["kind"] == Kind.SMS_DISPATCH]
    assert line.note == f"派单短信（第1次）：{UNCLEAR_SMS}"
    assert line.data["outcome"] == "unknown"  # the event's data keeps the code


def test_an_sms_whose_worker_died_is_still_named_a_crash_and_told_in_mandarin(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = ob.Clock(ob_domain)
    number = ob.new_ticket(ob_sessions, ob_domain, ob_city)
    claims = ob.claims_of_a_dead_worker(ob_sessions, ob_domain, clock.at)
    assert Kind.SMS_DISPATCH in {c.kind for c in claims}
    clock.at += timedelta(seconds=ob_domain.settings.outbound.lease_seconds + 1)
    sms = ob.RecordingSms()
    worker = _worker(ob_sessions, ob_domain, ob.ScriptedDialer(), sms)
    worker.tick()
    worker.wait_idle()
    (task,) = ob.tasks(ob_sessions, number, Kind.SMS_DISPATCH)
    assert (task.status, task.result) == ("done", "unknown_after_crash")
    assert not [to for to, _ in sms.sent if to == normalise(ob.WATER_HANDLER_PHONE)]
    (line,) = [e for e in ob.events(ob_sessions, number) if e.action == "outbound_sms"
               and e.data["kind"] == Kind.SMS_DISPATCH]
    # The dead worker had claimed it for the shipped ``log`` provider, which says so too.
    assert line.note == f"派单短信（第1次）：{UNCLEAR_SMS}（短信通道为 log，未实际发出）"


def test_each_call_outcome_reads_in_mandarin_in_the_trail(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = ob.Clock(ob_domain)
    number = ob.new_ticket(ob_sessions, ob_domain, ob_city)
    dialer = ob.ScriptedDialer({
        ob.WATER_HANDLER_PHONE: ob.Script([Outcome.BUSY, Outcome.REJECTED, Outcome.NO_ANSWER]),
        ob.CITY_SUPERVISOR_PHONE: ob.Script(["1"]),
    })
    worker = _worker(ob_sessions, ob_domain, dialer, ob.RecordingSms())
    ob.drive(worker, lambda: any(t.status == "done"
                                 for t in ob.tasks(ob_sessions, number, Kind.ESCALATE_CALL)),
             clock=clock)
    notes = [e.note for e in ob.events(ob_sessions, number) if e.action == "outbound_call"]
    assert notes == ["签收提醒电话（第1次）：对方忙线", "签收提醒电话（第2次）：对方拒接",
                     "签收提醒电话（第3次）：无人接听", "督办电话（第1次）：已接通，按键1"]
    sms_notes = [e.note for e in ob.events(ob_sessions, number) if e.action == "outbound_sms"]
    assert sms_notes and all("：短信平台已受理" in (n or "") for n in sms_notes), sms_notes


@pytest.mark.parametrize("channel", ["call", "sms"])
def test_every_outcome_a_channel_can_end_with_has_mandarin_words(channel: str) -> None:
    # A new Outcome member left out of the mapping would reach the trail as its code.
    possible = ({Outcome.SENT, Outcome.FAILED, Outcome.UNKNOWN} if channel == "sms"
                else set(Outcome) - {Outcome.SENT})
    for outcome in possible:
        words = outcome_note(channel, outcome.value)
        assert (channel, outcome) in OUTCOME_NOTES and not re.search(r"[A-Za-z]", words), (
            channel, outcome, words)
    # Anything else (a row written by a later version) is shown by its code, not hidden.
    assert outcome_note(channel, "later_code") == "later_code"
