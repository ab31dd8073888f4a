"""Session timers end to end (RFC 4028): a SIPp caller asks for the shortest interval we
allow (Min-SE, 90 s) as its own refresher, refreshes by UPDATE at half of it and by
re-INVITE at its end, keeps sending speech, and presses a key after the interval has run
out from the first answer. Our front end (shipped settings, ports moved) keeps the call:
what the caller says after the expiry point is recorded and the key is heard.

We never refresh ourselves and set no interval of our own: the one in force is the
caller's (``telephony/sip/session_timer.py``), so 90 s is the shortest call that outlives
one. Nor do we end a call whose refresh never comes (RFC 4028 10: the UAS SHOULD send a
BYE): a carrier's missing refresh is covered by the RTP watchdog (``rtp_timeout``)
instead, so there is no "no refresh -> BYE" to test here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.call import EndReason
from telephony.media import g711
from telephony.sip.session_timer import MIN_SE_SECONDS
from tests.ivr.ivrkit import assert_ok
from tests.support import harness
from tests.support.callers import silence_pcm16, ulaw_pcap
from tests.support.sipkit import AudioAssets, EchoTestHandler, FrontEndFactory, rms

pytestmark = pytest.mark.sip

REFRESH_S = MIN_SE_SECONDS // 2  # RFC 4028 10: the refresher refreshes at half the interval
SPOKEN_AT_S = MIN_SE_SECONDS + 1.5  # the second sentence: after the first interval ran out
KEY_AT_S = MIN_SE_SECONDS + 6  # after the speech pcap (MIN_SE + 5 s) has ended


def test_refreshed_call_outlives_the_session_interval_with_its_audio(
        make_frontend: FrontEndFactory, audio: AudioAssets, sipps: list[harness.Sipp],
        tmp_path: Path) -> None:
    handler = EchoTestHandler(audio.prompt_wav, digits_wanted=1, dtmf_timeout=KEY_AT_S + 30,
                              hang_up=True)
    fe = make_frontend(handler)
    speech = audio.speech_pcm16
    said = (speech + silence_pcm16(SPOKEN_AT_S - len(speech) / 16000) + speech)
    said += silence_pcm16(MIN_SE_SECONDS + 5 - len(said) / 16000)
    workdir = tmp_path / "sipp"
    workdir.mkdir()
    scenario = harness.render_scenario(
        "uac_session_timer.xml", workdir, SE=str(MIN_SE_SECONDS),
        AUDIO=str(ulaw_pcap(workdir / "said.pcap", said)),
        FIRST_MS=str(REFRESH_S * 1000), SECOND_MS=str((MIN_SE_SECONDS - REFRESH_S) * 1000),
        KEY_MS=str((KEY_AT_S - MIN_SE_SECONDS) * 1000),
        KEY=str(harness.dtmf_pcap("5")))
    caller = harness.Sipp(scenario, workdir, target=f"{harness.LOOPBACK}:{fe.local_port}",
                          timeout_s=KEY_AT_S + 30)
    sipps.append(caller)
    result = caller.run()
    assert_ok(result)  # every refresh answered 200 with our interval confirmed

    (rec,) = handler.wait_records(1, timeout=10)
    assert rec.digits == "5"  # heard after the interval had run out
    assert rec.end_reason is EndReason.LOCAL_HANGUP  # we ended it, on the key
    # Recorded throughout: the whole call, and the sentence said after the expiry point.
    recorded = bytes(rec.recorded)
    assert len(recorded) >= 16000 * (MIN_SE_SECONDS + 4)
    second = g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(speech))
    assert recorded.rfind(second) >= 16000 * MIN_SE_SECONDS
    assert rms(recorded[16000 * MIN_SE_SECONDS:]) > 100
