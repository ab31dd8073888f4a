"""Session timers end to end (RFC 4028): a SIPp caller asks for the shortest interval we
allow (Min-SE, 90 s) as its own refresher, refreshes by UPDATE at half of it and by
re-INVITE at its end, keeps sending speech, and presses a key after the interval has run
out from the first answer. Our front end (shipped settings, ports moved) keeps the call:
what the caller says after the expiry point is recorded and the key is heard.

We never refresh ourselves and set no interval of our own: the one in force is the
caller's (``telephony/sip/session_timer.py``), so 90 s is the shortest call that outlives
one. A call whose refreshes stop is ended by our BYE at the interval less min(32 s, a
third) (RFC 4028 10), 60 s of 90: that test drives the front end's session clock
(``SipFrontEnd.session_clock``) past those minutes instead of waiting them out, against our
IVR with real Vosk, and the complaint the caller was making is filed all the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from telephony.call import CallHandle, EndReason
from telephony.media import g711
from telephony.sip.session_timer import MIN_SE_SECONDS, bye_after
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import IvrUnderTest, assert_ok
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


class SessionClock:
    """``time.monotonic`` plus the seconds a test has skipped."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += seconds


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def _the_call(ivr: IvrUnderTest) -> CallHandle:
    """The call once answered (its session timer set going)."""
    assert ivr.runtime is not None
    frontend = ivr.runtime.frontend
    found: list[CallHandle] = []

    def answered() -> bool:
        found[:] = [c for c in frontend.active_calls() if c.session_interval is not None]
        return bool(found)

    _wait_for("answered call with a session timer", answered)
    return found[0]


def test_a_call_whose_refreshes_stop_is_ended_at_expiry_and_its_complaint_filed(
        ivr_factory, vosk_engine, korean_speech: dict[str, bytes], tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    assert ivr.runtime is not None
    clock = SessionClock()
    ivr.runtime.frontend.session_clock = clock
    # 50 s: short of our BYE (60 s) by more than this machine's slowest poll, yet together
    # with a second skip well past it.
    almost = bye_after(MIN_SE_SECONDS) - 10
    gas = korean_speech[PHRASES[1]]
    # Speaking from the first moment and throughout: the session ends mid-complaint.
    said = (gas + silence_pcm16(0.3)) * 5 + silence_pcm16(20)
    workdir = tmp_path / "sipp"
    workdir.mkdir()
    scenario = harness.render_scenario(
        "uac_session_expiry.xml", workdir, SE=str(MIN_SE_SECONDS),
        AUDIO=str(ulaw_pcap(workdir / "said.pcap", said)), FIRST_MS="2000", SECOND_MS="2000")
    caller = harness.Sipp(scenario, workdir, target=ivr.target, timeout_s=40)
    ivr.sipps.append(caller)
    caller.start()

    call = _the_call(ivr)
    assert call.session_interval == MIN_SE_SECONDS
    answered = call.session_refreshed
    clock.skip(almost)  # no BYE before the interval less min(32 s, interval/3)...
    _wait_for("first refresh", lambda: call.session_refreshed != answered)
    first = call.session_refreshed
    # ...and a refresh starts it again: 100 s after the answer, 50 s after the refresh, the
    # call is still up for the second UPDATE (SIPp fails on a BYE instead of its 200).
    clock.skip(almost)
    _wait_for("second refresh", lambda: call.session_refreshed != first)
    clock.skip(bye_after(MIN_SE_SECONDS))  # no third refresh: our BYE, which SIPp awaits
    result = caller.wait()
    assert_ok(result)
    assert call.end_reason is EndReason.SESSION_EXPIRED
    assert result.messages.count("BYE sip:") == 1  # ours; SIPp sends none in this scenario

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert ticket is not None and ticket.status in ("dispatched", "accepted")
    assert ticket.transcript and "냄새가" in ticket.transcript, ticket.transcript
    assert rec.recording_seconds and rec.recording_seconds > 2
