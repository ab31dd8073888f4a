"""Session timers end to end (RFC 4028): a SIPp caller asks for the shortest interval we
allow (Min-SE, 90 s) as its own refresher, refreshes by UPDATE and then by re-INVITE, keeps
sending speech, and presses a key once the interval has run out from the first answer. Our
front end (shipped settings, ports moved) keeps the call: what the caller says after the
expiry point is recorded and the key is heard.

The caller asks to refresh itself (``refresher=uac``; one asking ``refresher=uas`` is
refreshed by us, tests/telephony/test_sip_refresher.py) and we set no interval of our
own: the one in force is the caller's (``telephony/sip/session_timer.py``), so 90 s is the
shortest call that outlives one. A call whose refreshes stop is ended by our BYE at the interval less min(32 s, a
third) (RFC 4028 10), 60 s of 90. Both tests drive the front end's session clock
(``SipFrontEnd.session_clock``, what every session-timer decision reads) past those
minutes instead of waiting them out: 50 s at a time, short of the BYE, so only the
refreshes keep the call (the arithmetic on the real 90 s is tests/telephony/
test_session_timers.py's). The second runs against our IVR with real Vosk, and the
complaint the caller was making is filed all the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from telephony.call import CallHandle, EndReason
from telephony.media import g711
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.session_timer import MIN_SE_SECONDS, bye_after
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import assert_ok
from tests.support import harness
from tests.support.callers import silence_pcm16, ulaw_pcap
from tests.support.sipkit import AudioAssets, EchoTestHandler, FrontEndFactory, rms
from tests.support.waiting import SessionClock

pytestmark = pytest.mark.sip

# 50 s: short of our BYE (60 s after the answer or the last refresh) by more than this
# machine's slowest poll; two such skips without a refresh between them end the call.
ALMOST_S = bye_after(MIN_SE_SECONDS) - 10
REFRESH_MS = 3000  # real time between the answer, the UPDATE and the re-INVITE
SPOKEN_AT_S = 2 * REFRESH_MS / 1000 + 1.5  # the second sentence: after both refreshes


def _speaking_caller(make_frontend: FrontEndFactory, audio: AudioAssets, tmp_path: Path
                     ) -> tuple[bytes, bytes, float, EchoTestHandler, SessionClock,
                                SipFrontEnd, Path]:
    """A sentence, silence to ``SPOKEN_AT_S``, the sentence again; the key after it; the
    handler waiting for one key, a front end on a session clock a test moves."""
    speech = audio.speech_pcm16
    said = (speech + silence_pcm16(SPOKEN_AT_S - len(speech) / 16000) + speech)
    said += silence_pcm16(0.5)
    key_at_s = len(said) / 16000 + 0.5  # after the speech pcap has ended
    handler = EchoTestHandler(audio.prompt_wav, digits_wanted=1, dtmf_timeout=key_at_s + 30,
                              hang_up=True)
    clock = SessionClock()
    fe = make_frontend(handler, session_clock=clock)
    workdir = tmp_path / "sipp"
    workdir.mkdir()
    return speech, said, key_at_s, handler, clock, fe, workdir


def test_refreshed_call_outlives_the_session_interval_with_its_audio(
        make_frontend: FrontEndFactory, audio: AudioAssets, sipps: list[harness.Sipp],
        tmp_path: Path) -> None:
    speech, said, key_at_s, handler, clock, fe, workdir = _speaking_caller(
        make_frontend, audio, tmp_path)
    scenario = harness.render_scenario(
        "uac_session_timer.xml", workdir, SE=str(MIN_SE_SECONDS),
        AUDIO=str(ulaw_pcap(workdir / "said.pcap", said)),
        FIRST_MS=str(REFRESH_MS), SECOND_MS=str(REFRESH_MS),
        KEY_MS=str(int(key_at_s * 1000) - 2 * REFRESH_MS),
        KEY=str(harness.dtmf_pcap("5")))
    caller = harness.Sipp(scenario, workdir, target=f"{harness.LOOPBACK}:{fe.local_port}",
                          timeout_s=int(key_at_s) + 30)
    sipps.append(caller)
    caller.start()

    call = _answered(fe.active_calls)
    assert call.session_interval == MIN_SE_SECONDS
    assert call.rtp is not None
    answered, answered_at = call.session_refreshed, call.rtp.started
    clock.skip(ALMOST_S)
    _wait_for("refresh by UPDATE", lambda: call.session_refreshed != answered)
    first = call.session_refreshed
    clock.skip(ALMOST_S)  # past the interval counted from the answer: only the UPDATE keeps it
    assert clock() - answered > MIN_SE_SECONDS
    expired_at = time.monotonic()  # real time, for where the recording has got to
    _wait_for("refresh by re-INVITE", lambda: call.session_refreshed != first)
    clock.skip(ALMOST_S)  # 150 s after the answer, 50 s after the re-INVITE: the key comes
    result = caller.wait()
    assert_ok(result)  # every refresh answered 200 with our interval confirmed

    (rec,) = handler.wait_records(1, timeout=10)
    assert rec.digits == "5"  # heard after the interval had run out
    assert rec.end_reason is EndReason.LOCAL_HANGUP  # we ended it, on the key
    # Recorded throughout: the whole call, and the sentence said after the expiry point.
    recorded = bytes(rec.recorded)
    assert len(recorded) >= 16000 * (SPOKEN_AT_S + len(speech) / 16000)
    second = g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(speech))
    past = int(16000 * (expired_at - answered_at))
    assert recorded.rfind(second) >= past
    assert rms(recorded[past:]) > 100


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def _answered(active_calls: Callable[[], list[CallHandle]]) -> CallHandle:
    """The call once answered (its session timer set going)."""
    found: list[CallHandle] = []

    def answered() -> bool:
        found[:] = [c for c in active_calls() if c.session_interval is not None]
        return bool(found)

    _wait_for("answered call with a session timer", answered)
    return found[0]


def test_a_call_whose_refreshes_stop_is_ended_at_expiry_and_its_complaint_filed(
        ivr_factory, vosk_engine, korean_speech: dict[str, bytes], tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    assert ivr.runtime is not None
    clock = SessionClock()
    ivr.runtime.frontend.session_clock = clock
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

    call = _answered(ivr.runtime.frontend.active_calls)
    assert call.session_interval == MIN_SE_SECONDS
    answered = call.session_refreshed
    clock.skip(ALMOST_S)  # no BYE before the interval less min(32 s, interval/3)...
    _wait_for("first refresh", lambda: call.session_refreshed != answered)
    first = call.session_refreshed
    # ...and a refresh starts it again: 100 s after the answer, 50 s after the refresh, the
    # call is still up for the second UPDATE (SIPp fails on a BYE instead of its 200).
    clock.skip(ALMOST_S)
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


def test_a_caller_we_refresh_keeps_its_audio_and_keys_through_our_reinvites(
        make_frontend: FrontEndFactory, audio: AudioAssets, sipps: list[harness.Sipp],
        tmp_path: Path) -> None:
    """A SIPp caller asking ``refresher=uas`` without UPDATE: answered ``refresher=uas``,
    it gets our re-INVITE at half the interval, twice (its 200s ACKed by us), the call
    lives past the interval counted from the answer, the prompt plays, what the caller
    says after our refreshes is recorded and its key is heard (RFC 4028 9, 10). Before,
    answered ``refresher=uac`` (the scenario's first check failed) and never refreshed."""
    speech, said, key_at_s, handler, clock, fe, workdir = _speaking_caller(
        make_frontend, audio, tmp_path)
    scenario = harness.render_scenario(
        "uac_refreshed_by_us.xml", workdir, SE=str(MIN_SE_SECONDS),
        AUDIO=str(ulaw_pcap(workdir / "said.pcap", said)),
        KEY_MS=str(int(key_at_s * 1000)), KEY=str(harness.dtmf_pcap("5")))
    caller = harness.Sipp(scenario, workdir, target=f"{harness.LOOPBACK}:{fe.local_port}",
                          timeout_s=int(key_at_s) + 40)
    sipps.append(caller)
    caller.start()

    call = _answered(fe.active_calls)
    assert call.we_refresh and call.session_interval == MIN_SE_SECONDS
    assert call.rtp is not None
    answered, answered_at = call.session_refreshed, call.rtp.started
    time.sleep(REFRESH_MS / 1000)
    clock.skip(MIN_SE_SECONDS / 2 + 1)  # our re-INVITE is due
    _wait_for("our first refresh answered", lambda: call.session_refreshed != answered)
    first = call.session_refreshed
    refreshed_at = time.monotonic()
    time.sleep(REFRESH_MS / 1000)
    clock.skip(MIN_SE_SECONDS / 2 + 1)
    _wait_for("our second refresh answered", lambda: call.session_refreshed != first)
    assert clock() - answered > MIN_SE_SECONDS  # past the interval from the answer
    result = caller.wait()
    assert_ok(result)  # the 200 said refresher=uas, each re-INVITE named us refresher

    (rec,) = handler.wait_records(1, timeout=10)
    assert rec.digits == "5"
    assert rec.end_reason is EndReason.LOCAL_HANGUP  # we ended it, on the key
    recorded = bytes(rec.recorded)
    assert len(recorded) >= 16000 * (SPOKEN_AT_S + len(speech) / 16000)
    second = g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(speech))
    past = int(16000 * (refreshed_at - answered_at))
    assert recorded.rfind(second) >= past  # said after our first refresh, recorded
