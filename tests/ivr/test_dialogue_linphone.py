"""One full call from a second real SIP stack: linphone's console client (liblinphone,
belle-sip) dials the IVR directly, says its complaint, ends it with # and confirms the
read-back with 1 -- keys sent the way linphone sends them by default (RFC 2833)."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from ivr.prompts import PromptLibrary
from telephony.media.wav import write_wav_pcm16
from tests.ivr.conftest import PHRASES
from tests.support.callers import silence_pcm16
from tests.support.linphone import AVAILABLE, Linphone
from tests.support.sipkit import rms

pytestmark = [pytest.mark.sip,
              pytest.mark.skipif(not AVAILABLE, reason="linphone-cli not installed")]

CITIZEN = "13800138000"
WATER = PHRASES[0]  # "물이 나오지 않습니다": the water does not come out


def test_linphone_complains_and_confirms_with_keys(ivr_factory, vosk_engine, korean_speech,
                                                   tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine, greeting=True)  # the real generated greeting
    greeting_s = len(PromptLibrary(ivr.settings).pcm("greeting")) / 16000
    speech = korean_speech[WATER]
    says = tmp_path / "citizen.wav"
    # Listen to the greeting and its tone, speak, then stay quiet (keys come on top).
    write_wav_pcm16(says, silence_pcm16(greeting_s + 1.0) + speech + silence_pcm16(40))
    heard = tmp_path / "heard.wav"
    phone = Linphone(tmp_path / "linphone", user=CITIZEN, play=says, record=heard).start()
    try:
        phone.call(f"sip:12345@{ivr.target}")
        phone.wait_for("connected", timeout=10)
        # End the recording with # once the speech is over, then confirm the read-back.
        time.sleep(greeting_s + 1.0 + len(speech) / 16000 + 0.5)
        phone.keys("#")
        time.sleep(1.5)
        phone.keys("1")
        (rec,) = ivr.wait_record(timeout=40)
        phone.wait_for("ended", timeout=10)  # we hung up after the goodbye
    finally:
        phone.stop()

    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET, phone.log_tail()
    assert rec.caller == "+86" + CITIZEN and rec.caller_raw is None
    assert "#" in (rec.keys or "") and "1" in (rec.keys or ""), rec.keys
    assert ticket is not None and ticket.caller_phone.endswith(CITIZEN)
    assert ticket.transcript and "물이" in ticket.transcript, ticket.transcript
    # Its keys went out as RFC 2833 events, its default (not SIP INFO).
    assert phone.log_text().count("Finished sending RFC2833 dtmf") == 2
    # linphone heard us: its recording of the call is not silence.
    with wave.open(str(heard), "rb") as w:
        pcm = w.readframes(w.getnframes())
        rate = w.getframerate()
    assert len(pcm) > rate * 2 * greeting_s
    assert rms(pcm) > 100
