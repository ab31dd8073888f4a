"""A caller making a delayed offer (INVITE without SDP: Cisco CUCM trunks, SIP-I gateways,
click-to-dial 3PCC controllers) reaches the hotline: SIPp sends the INVITE without SDP, gets
our offer (PCMU, PCMA, telephone-event) in the 200 and answers PCMA in its ACK; the call
then runs like any other, in A-law, and becomes a ticket. An ACK without SDP, or no ACK at
all, ends the call with our BYE, and the IVR never sees it: no prompt, no recording, no
call record. Before, every such INVITE got 488 and the caller could not reach us at all."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.callrecords import CallOutcome, CallRecord
from ivr.prompts import PromptLibrary
from ivr.runtime import spool_for
from telephony.media import g711
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, IvrUnderTest, assert_ok, detached
from tests.support import harness
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip

WATER = PHRASES[0]  # "물이 나오지 않습니다": the water does not come out


def test_a_delayed_offer_answered_in_pcma_becomes_a_ticket(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    greeting = PromptLibrary(ivr.settings).pcm("greeting")
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path / "caller", codec="PCMA")
              .wait(len(greeting) / 16000 + 0.8)  # hear the whole greeting and the tone
              .say(korean_speech[WATER], then_wait=0.3)
              .key("#", then_wait=1.5)
              .key("1", then_wait=0))
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=90, codecs="8",
                            delayed_offer="answer").run()
        time.sleep(0.3)
    finally:
        sink.close()
    assert_ok(result)  # (the scenario checks our offer in the 200: RTP/AVP 0 8 101)
    assert "m=audio" not in result.messages.split("INVITE sip:", 1)[1].split("SIP/2.0 100", 1)[0]
    assert f"m=audio {sink.port} RTP/AVP 8 101" in result.messages  # the answer, in the ACK

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and rec.caller == "+86" + CALLER
    assert rec.answered_at and rec.ended_at
    assert "1" in (rec.keys or "") and "#" in (rec.keys or "")
    assert ticket is not None and ticket.call_id == rec.call_id
    assert ticket.status in ("dispatched", "accepted")
    assert ticket.transcript and "물이" in ticket.transcript, ticket.transcript
    # Everything we sent was A-law, the codec the answer picked; the greeting is in it.
    assert sink.packets and {p.payload_type for p in sink.packets} == {8}
    heard = g711.alaw_to_pcm16(b"".join(p.payload for p in sink.packets))
    assert g711.alaw_to_pcm16(g711.pcm16_to_alaw(greeting)) in heard


def _nothing_reached_the_ivr(ivr: IvrUnderTest, sink: harness.RtpSink) -> None:
    time.sleep(1.0)  # (a handler started by mistake would have journaled the call by now)
    assert not sink.packets  # no prompt
    assert detached(ivr.sessions, select(CallRecord)) == []  # no call record
    assert spool_for(ivr.settings).pending() == []  # no call journal in the spool
    assert not list(Path(ivr.settings.recordings_dir).rglob("*.wav"))  # no recording


@pytest.mark.parametrize("ack", ["no_sdp", "none"], ids=["ack-without-sdp", "no-ack"])
def test_no_answer_in_the_ack_or_no_ack_ends_the_call_with_our_bye(
        ivr_factory, tmp_path: Path, ack: str) -> None:
    ivr = ivr_factory(engine=None)
    assert ivr.runtime is not None
    fe = ivr.runtime.frontend
    sink = harness.RtpSink()
    try:
        # The caller waits for our BYE (and answers it): the scenario fails without one.
        result = ivr.caller("", media_port=str(sink.port), ending="wait_bye", timeout_s=20,
                            codecs="8", delayed_offer=ack).run()
        _nothing_reached_the_ivr(ivr, sink)
    finally:
        sink.close()
    assert_ok(result)
    assert result.messages.count("BYE sip:") >= 1
    if ack == "none":
        # Our 200 was retransmitted until we gave up on its ACK (ack_timeout).
        assert result.messages.count("SIP/2.0 200 OK") >= 3
    outcome = {"no_sdp": "ack_without_sdp", "none": "no_ack"}[ack]
    assert fe.delayed_offers == {"offered": 1, outcome: 1}
    assert not fe.active_calls()
