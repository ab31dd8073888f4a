"""三号联动 end to end: a SIPp caller reports a fire; no confirm key is asked for, the caller
hears the emergency prompt and is bridged to the duty operator (a SIPp UAS: the shipped
settings name no 119 line), and the urgent ticket carries the hand-over event.

The Korean test model cannot hear Mandarin, so the Mandarin words a Chinese model would
have produced are fed at the classification step (``Domain.understand``), where the real
rules then classify them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.callrecords import CallOutcome
from ivr.prompts import PromptLibrary
from telephony.media import g711
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, assert_ok, converse, detached, heard_so_far
from tests.ivr.test_emergency_decline import NOISE, ReadsPolice
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.harness import Sipp, render_scenario
from ticketing.models import TicketEvent
from ticketing.phones import normalise

pytestmark = pytest.mark.sip

SPOKEN = PHRASES[1]  # "가스 냄새가 납니다", what the caller says in the test language
HEARD = "냄새"  # "smell": the word the recognizer reliably returns for SPOKEN
MEANT = "我们楼道里着火了，浓烟很大，快来人啊"  # what a Mandarin model would have heard


def through_line(pcm16: bytes) -> bytes:
    return g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm16))


def test_fire_is_handed_to_the_operator_at_once_with_an_urgent_ticket(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    op_sink = harness.RtpSink()
    op_port = harness.free_port()
    op_script = CallerScript(tmp_path / "operator").wait(0)
    scenario = render_scenario("uas_operator.xml", tmp_path / "op", MEDIA_PORT=str(op_sink.port),
                               MEDIA=op_script.render())
    operator = Sipp(scenario, tmp_path / "op", sip_port=op_port, timeout_s=60).start()
    ivr = ivr_factory(engine=vosk_engine,
                      operator_uri=f"sip:operator@{harness.LOOPBACK}:{op_port}")
    assert ivr.settings.ivr.emergency_uris == {"110": "", "119": "", "120": ""}
    understand = ivr.domain.understand
    monkeypatch.setattr(ivr.domain, "understand",
                        lambda text: understand(MEANT if HEARD in text else text))
    sink = harness.RtpSink()
    # Speaks over the greeting, ends with #, then stays on the line (bridged) and hangs up.
    script = (CallerScript(tmp_path / "caller").wait(0.5)
              .say(korean_speech[SPOKEN], then_wait=0.3).key("#", then_wait=10.0))
    try:
        result = ivr.caller(script, ending="bye", media_port=str(sink.port),
                            timeout_s=60).run()
        op_result = operator.wait(20)
    finally:
        operator.kill()
        time.sleep(0.2)
        op_sink.close()
        sink.close()
    assert_ok(result)
    assert_ok(op_result)  # the operator leg was answered and closed when the caller left

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.TICKET
    assert "1" not in (rec.keys or "")  # no confirm key was needed
    ticket = ivr.ticket_of(rec)
    assert ticket is not None and ticket.caller_phone == normalise(CALLER)
    assert ticket.emergency == "119" and ticket.urgency == "urgent"
    assert ticket.transcript and HEARD in ticket.transcript
    events = detached(ivr.sessions, select(TicketEvent)
                      .where(TicketEvent.ticket_id == ticket.id,
                             TicketEvent.action == "emergency_handover"))
    assert [(e.data, e.note) for e in events] == [
        ({"service": "119", "target": "operator"}, "发起转接119")]

    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("emergency_transfer_119")) in heard
    assert through_line(prompts.pcm("confirm")) not in heard
    assert through_line(prompts.pcm("emergency_failed_119")) not in heard


def test_fire_with_nobody_to_take_it_tells_the_caller_to_dial_and_keeps_the_ticket(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ivr = ivr_factory(engine=vosk_engine)  # shipped: no 119 line, no operator
    understand = ivr.domain.understand
    monkeypatch.setattr(ivr.domain, "understand",
                        lambda text: understand(MEANT if HEARD in text else text))
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path / "caller").wait(0.5)
              .say(korean_speech[SPOKEN], then_wait=0.3).key("#", then_wait=0))
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=60).run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)  # the IVR hung up after telling the caller to dial 119

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert ticket is not None and ticket.emergency == "119" and ticket.urgency == "urgent"
    events = detached(ivr.sessions, select(TicketEvent)
                      .where(TicketEvent.ticket_id == ticket.id,
                             TicketEvent.action == "emergency_handover"))
    assert [e.data for e in events] == [{"service": "119", "target": "none"}]
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("emergency_failed_119")) in heard
    assert through_line(prompts.pcm("confirm")) not in heard


def test_a_hand_over_the_model_alone_asked_for_is_declined_with_key_2(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """decline25 on a real line: a noise complaint the model alone reads as 110 (its reading
    set: tests/ivr/test_emergency_decline.py) is announced with "不需要转接请按2"; the SIPp
    caller presses 2 (RFC 4733) while it plays, then 1 at the read-back and # in the menu,
    and hears the ticket's number; the ticket carries the declined event, no hand-over."""
    ivr = ivr_factory(engine=vosk_engine)  # shipped: no 110 line, no operator
    monkeypatch.setattr(ivr.domain, "model", ReadsPolice())
    understand = ivr.domain.understand
    monkeypatch.setattr(ivr.domain, "understand",
                        lambda text: understand(NOISE if HEARD in text else text))
    speech = korean_speech[SPOKEN]
    script = CallerScript(tmp_path / "caller").wait(0.5).say(speech, then_wait=0)
    # 2 once the question's first second was heard (it interrupts it), then 1 and #.
    sink = converse(ivr, script, speech, [("emergency_offer_110", "2"), ("confirm", "1"),
                                          ("preferences", "#")],
                    early=frozenset({"emergency_offer_110"}))

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.TICKET and (rec.keys or "").startswith("#2")
    ticket = ivr.ticket_of(rec)
    assert ticket is not None and ticket.emergency == "110" and ticket.urgency == "urgent"
    events = detached(ivr.sessions, select(TicketEvent)
                      .where(TicketEvent.ticket_id == ticket.id,
                             TicketEvent.action.startswith("emergency_handover")))
    assert [(e.action, e.data) for e in events] == [
        ("emergency_handover_declined", {"service": "110"})]
    heard = heard_so_far(sink)
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("ticket_number")) in heard
    assert through_line(prompts.pcm("emergency_failed_110")) not in heard
