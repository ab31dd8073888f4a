"""A complaint by phone becomes a ticket: SIPp caller (Korean speech as RTP, RFC 2833 keys)
→ our IVR (start_ivr, direct mode) with real Vosk → ticket, call record, what was heard."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from ivr.prompts import PromptLibrary
from telephony.media import g711
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, converse
from tests.support.callers import CallerScript
from ticketing.phones import normalise

pytestmark = pytest.mark.sip

WATER = PHRASES[0]  # "물이 나오지 않습니다": the water does not come out


def test_complaint_becomes_dispatched_ticket_and_caller_hears_greeting(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine, greeting=True)  # the real generated greeting
    greeting = PromptLibrary(ivr.settings).pcm("greeting")
    script = (CallerScript(tmp_path / "caller")
              .wait(len(greeting) / 16000 + 0.8)  # hear the whole greeting and the tone
              .say(korean_speech[WATER], then_wait=0))
    # # once the IVR has the words, 1 once the read-back asks for it (converse).
    sink = converse(ivr, script, korean_speech[WATER], [("confirm", "1")], timeout_s=90)

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert rec.caller == "+86" + CALLER and rec.caller_raw is None  # E.164, as on tickets
    assert rec.answered_at and rec.ended_at
    assert rec.arrived_at <= rec.answered_at <= rec.ended_at
    assert "1" in (rec.keys or "") and "#" in (rec.keys or "")
    wav = Path(rec.recording_path or "")
    assert wav.is_file()
    assert rec.recording_sha256 == hashlib.sha256(wav.read_bytes()).hexdigest()
    assert ticket is not None
    assert ticket.channel == "phone" and ticket.caller_phone == normalise(CALLER)
    assert ticket.status in ("dispatched", "accepted")  # accepted = the manual queue
    assert ticket.call_id == rec.call_id and ticket.recording_path == rec.recording_path
    assert ticket.recording_sha256 == rec.recording_sha256
    assert ticket.transcript and "물이" in ticket.transcript, ticket.transcript

    # What the caller heard: one continuous stream (no sequence or timestamp gaps) that
    # contains the greeting exactly as we sent it (through μ-law).
    packets = sink.packets
    assert packets and len({p.ssrc for p in packets}) == 1
    for a, b in itertools.pairwise(packets):
        assert (b.seq - a.seq) % 65536 == 1
        assert (b.timestamp - a.timestamp) % 2**32 == 160
    heard = g711.ulaw_to_pcm16(b"".join(p.payload for p in packets))
    sent = g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(greeting))
    assert sent in heard
    assert heard.index(sent) < 8000 * 2 * 1  # the greeting starts within a second
