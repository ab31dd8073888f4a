"""Key 0 (operator, bridged to a SIPp UAS, or a callback ticket when there is none) and key 1
(the caller's ticket status, read from the database)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake
from ivr.prompts import PromptLibrary
from ivr.runtime import spool_for
from telephony.media import g711
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, assert_ok, carrier_asserts, heard_so_far, wait_heard
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.harness import Sipp, render_scenario
from ticketing.phones import normalise

pytestmark = pytest.mark.sip


def through_line(pcm16: bytes) -> bytes:
    return g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm16))


def test_zero_bridges_the_caller_to_the_operator(ivr_factory, vosk_engine, korean_speech,
                                                 tmp_path: Path) -> None:
    op_sink = harness.RtpSink()
    op_port = harness.free_port()
    op_script = CallerScript(tmp_path / "operator").wait(0)  # the operator's line: silence
    scenario = render_scenario("uas_operator.xml", tmp_path / "op", MEDIA_PORT=str(op_sink.port),
                               MEDIA=op_script.render())
    operator = Sipp(scenario, tmp_path / "op", sip_port=op_port, timeout_s=40).start()
    ivr = ivr_factory(engine=vosk_engine,
                      operator_uri=f"sip:operator@{harness.LOOPBACK}:{op_port}")
    speech = korean_speech[PHRASES[3]]
    # Talks to the operator, then hangs up. The caller's audio is a fixed script: said
    # twice, 3 s and again 6 s after the key, so a bridge set up late on a loaded machine
    # (the CI's six workers: the operator heard only silence) still carries one of them.
    script = (CallerScript(tmp_path / "caller").wait(0.5).key("0", then_wait=3.0)
              .say(speech, then_wait=1.5).say(speech, then_wait=1.0))
    try:
        result = ivr.caller(script, ending="bye", timeout_s=40).run()
        op_result = operator.wait(15)
    finally:
        operator.kill()
        time.sleep(0.2)
        op_sink.close()
    assert_ok(result)
    assert_ok(op_result)  # INVITE answered, ACKed, then BYE from us when the caller left

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.OPERATOR and rec.ticket_id is None
    # The caller's words reached the operator through the bridge, sample for sample.
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in op_sink.packets))
    assert through_line(speech)[8000:16000] in heard


def test_the_caller_hanging_up_while_the_operator_rings_cancels_the_operator(
        ivr_factory, vosk_engine, tmp_path: Path) -> None:
    """The operator's phone (SIPp: rings, never answers, expects a CANCEL) stops ringing
    when the caller gives up, not at the ring time (60 s here, longer than SIPp waits)."""
    op_port = harness.free_port()
    operator = Sipp(render_scenario("uas_noanswer.xml", tmp_path / "op"), tmp_path / "op",
                    sip_port=op_port, timeout_s=40).start()
    ivr = ivr_factory(engine=vosk_engine, ring_timeout=60.0,
                      operator_uri=f"sip:operator@{harness.LOOPBACK}:{op_port}")
    transfer = len(PromptLibrary(ivr.settings).pcm("transfer")) / 16000  # s of 8 kHz PCM16
    # Key 0, hear "transferring", then hang up while the operator's phone rings.
    script = CallerScript(tmp_path / "caller").wait(0.5).key("0", then_wait=transfer + 3.0)
    try:
        result = ivr.caller(script, ending="bye", timeout_s=40).run()
        op_result = operator.wait(20)
    finally:
        operator.kill()
    assert_ok(result)
    assert_ok(op_result)  # INVITE rung, then our CANCEL: 200, 487, ACK
    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.ABANDONED and rec.ticket_id is None


def test_zero_without_operator_leaves_a_callback_ticket(ivr_factory, vosk_engine,
                                                        tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)  # no operator_uri set
    sink = harness.RtpSink()
    script = CallerScript(tmp_path).wait(0.5).key("0", then_wait=0)
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=40).run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.CALLBACK_REQUEST
    assert ticket is not None and ticket.caller_phone == normalise(CALLER)
    assert "回电" in ticket.demand
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    told = through_line(PromptLibrary(ivr.settings).pcm("operator_unavailable"))
    assert told in heard


def _filed_by_caller(ivr) -> list[str]:  # type: ignore[no-untyped-def]
    """Two tickets filed from CALLER's number, oldest first."""
    numbers = []
    for i, text in enumerate(["朝阳区望京西园三区5号楼停水了", "海淀区中关村大街路灯坏了"]):
        earlier = CallIntake(sessions=ivr.sessions, domain=ivr.domain,
                             spool=spool_for(ivr.settings), call_id=f"earlier-{i}",
                             caller=CALLER)
        earlier.understood(text)
        filed = earlier.file_ticket()
        assert filed is not None
        earlier.end()
        numbers.append(filed.number)
    return numbers


def test_one_reads_the_callers_open_tickets(ivr_factory, vosk_engine, tmp_path: Path) -> None:
    # The number a source we trust asserts (the carrier's trunk; our proxy marks the
    # carrier's From): telephony.sip.identity.
    ivr = ivr_factory(engine=vosk_engine, trusted_sources=["127.0.0.1"])
    numbers = _filed_by_caller(ivr)
    sink = harness.RtpSink()
    # 1 during the greeting; then silence: no new complaint, so the IVR says goodbye.
    script = CallerScript(tmp_path).wait(0.5).key("1", then_wait=0)
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=60,
                            headers=(carrier_asserts(),)).run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)

    recs = ivr.wait_record(count=3)
    rec = recs[-1]
    assert rec.outcome == CallOutcome.STATUS_QUERY and rec.ticket_id is None
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    prompts = PromptLibrary(ivr.settings)
    for number in numbers:  # each ticket's last digits, read one by one from the clips
        assert through_line(prompts.number(number[-4:])) in heard, number
    # Newest first; never the whole number to a caller known only by caller ID.
    assert heard.index(through_line(prompts.number(numbers[1][-4:]))) < heard.index(
        through_line(prompts.number(numbers[0][-4:])))
    assert through_line(prompts.number(numbers[0])) not in heard


@pytest.mark.sip
def test_one_from_a_number_nobody_vouched_for_reads_only_the_keyed_ticket(
        ivr_factory, tmp_path: Path) -> None:
    """review51 (judge25's trial, "Left"): in direct mode anyone writes any number in From,
    and key 1 read that number's tickets and the answers of those closed. A number no
    trusted source gave: the caller keys a ticket number and hears that one's step alone
    (no count, no other ticket, no answer)."""
    ivr = ivr_factory(engine=None)  # direct mode: sip.trusted_sources = [] as shipped
    numbers = _filed_by_caller(ivr)
    prompts = PromptLibrary(ivr.settings)
    sink = harness.RtpSink()
    try:
        # The caller stays on the line (silence) until the IVR hangs up, however long its
        # prompts are: a fixed 20 s pause here failed on SIPp's "unexpected BYE" once the
        # test prompts were fast enough (speed 400) for the whole call to end inside it.
        sipp = ivr.caller(CallerScript(tmp_path).wait(0), media_port=str(sink.port),
                          timeout_s=90).start()
        ivr.wait_greeting(sink)
        ivr.press("1", via=sink)
        wait_heard(sink, through_line(prompts.pcm("status_ask_ticket")))
        for key in numbers[0] + "#":
            ivr.press(key, via=sink)
            time.sleep(0.1)
        # The keyed ticket's number is read (its step word follows; which step it is depends
        # on how far the service got with the ticket under load: one CI run heard another).
        wait_heard(sink, through_line(prompts.number(numbers[0][-4:])))
        assert_ok(sipp.wait())
        time.sleep(0.3)
    finally:
        sink.close()
    heard = heard_so_far(sink)
    rec = ivr.wait_record(count=3)[-1]
    assert rec.outcome == CallOutcome.STATUS_QUERY and rec.ticket_id is None
    assert through_line(prompts.number(numbers[1][-4:])) not in heard
    assert through_line(prompts.pcm("status_intro"))[:8000] not in heard
