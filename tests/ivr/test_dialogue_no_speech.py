"""A line that sends sound but no voice (loose28): a fax machine's calling or answer tone
into the shipped state (no speech model) is no complaint, where each such call was a
"（录音待转写）" ticket in the manual queue (judge27); it ends NO_SPEECH, no ticket, its
recording on the call record. A caller's quiet words are still a ticket. SIPp as the
caller, our IVR, SQLite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asr.vad import EnergyGate, fax_tone
from ivr.audio import fax_only, holds_speech
from ivr.callrecords import CallOutcome
from tests.ivr.ivrkit import assert_ok
from tests.support.callers import CallerScript, espeak_pcm16
from ticketing.service import TRANSCRIPT_PENDING

pytestmark = pytest.mark.sip

RATE = 8000


def _sine(hz: float, seconds: float, dbfs: float = -12.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return 32767 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t)


def _pcm(x: np.ndarray) -> bytes:
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def fax_cng(seconds: float) -> bytes:
    """A calling fax machine (ITU-T T.30 CNG): 1100 Hz, 0.5 s on, 3 s off."""
    cycle = np.concatenate((_sine(1100, 0.5), np.zeros(int(RATE * 3.0))))
    return _pcm(np.resize(cycle, int(RATE * seconds)))


def fax_ced(seconds: float) -> bytes:
    """An answering fax machine's tone (T.30 CED): 2100 Hz, steady."""
    return _pcm(_sine(2100, seconds))


LONG_COMPLAINT = "我家楼下的路灯坏了，已经三天了，晚上走路看不见，麻烦派人来修一下。"


def quiet_speech(tmp: Path, dbfs: float = -30.0, text: str = LONG_COMPLAINT) -> bytes:
    """Mandarin from espeak-ng at ``dbfs`` RMS over its voiced samples."""
    x = np.frombuffer(espeak_pcm16(text, tmp, voice="cmn"), dtype="<i2").astype(float)
    voiced = np.abs(x) > 0.01 * np.abs(x).max()
    rms = np.sqrt(np.mean(x[voiced] ** 2))
    return _pcm(x * (32767 * 10 ** (dbfs / 20) / rms))


@pytest.mark.parametrize("tone", ["cng", "ced"])
def test_a_fax_machine_is_no_complaint_and_its_call_is_counted_as_no_speech(
        tone: str, ivr_factory, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=None)  # the shipped state: no speech model
    sound = fax_cng(8) if tone == "cng" else fax_ced(4)
    assert_ok(ivr.caller(CallerScript(tmp_path).say(sound, then_wait=0), timeout_s=60).run())

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.NO_SPEECH
    assert rec.ticket_id is None and ivr.tickets() == []
    assert Path(rec.recording_path or "").is_file()  # kept, for the operator to hear
    assert not holds_speech(sound)  # a call cut by a crash: settled the same way


def test_quiet_words_without_a_model_are_still_a_ticket(ivr_factory, tmp_path: Path) -> None:
    """A caller far from the phone (-30 dBFS): words, not a fax: the ticket is made."""
    ivr = ivr_factory(engine=None)
    # Two clauses (7.8 s), not the four of the socket-free checks (13.6 s): the call plays
    # them in real time, and what it proves (quiet words pass the gate and make a ticket,
    # no model) needs words, not their length; the gate's verdict is asserted first.
    speech = quiet_speech(tmp_path, text="我家楼下的路灯坏了，麻烦派人来修一下。")
    assert holds_speech(speech)
    script = (CallerScript(tmp_path).wait(2.2).say(speech, then_wait=0.3)
              .key("#", then_wait=1.5).key("1", then_wait=0))
    assert_ok(ivr.caller(script).run())

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    assert ticket.demand == TRANSCRIPT_PENDING


def test_the_gate_takes_no_fax_tone_for_speech_and_no_speech_for_a_fax_tone(
        tmp_path: Path) -> None:
    """Socket-free: every frame of CNG and CED (the whole T.30 tolerance) is a fax tone;
    no frame of speech in four voices is one, however quiet."""
    for hz in (1062, 1081, 1100, 1119, 1138, 2085, 2100, 2115):
        for phase in range(4):
            frame = _pcm(_sine(hz, 0.02 + phase / RATE)[phase:])
            assert fax_tone(frame), (hz, phase)
    for voice in ("cmn", "yue", "en", "cmn+f3"):
        pcm = espeak_pcm16("您好，我家楼下的路灯坏了。啊——喂——咿——呜——。Hello, please help.",
                           tmp_path / voice.replace("+", "_"), voice=voice)
        assert not any(fax_tone(pcm[i:i + 320]) for i in range(0, len(pcm) - 320, 320))
    gate = EnergyGate()
    cng = fax_cng(7)
    speech = [gate.process(cng[i:i + 320]).speech for i in range(0, len(cng) - 320, 320)]
    assert not any(speech) and gate.fax_frames >= 40


@pytest.mark.parametrize("dbfs", [-50.0, -56.0, -60.0])
def test_quiet_words_beside_a_fax_tone_are_no_fax(tmp_path: Path, dbfs: float) -> None:
    """review62: words below the gate's floor (-53 dBFS and under) with a CNG cadence were
    taken as a fax (no ticket on Twilio), where the same words alone are a ticket. Sound
    beside the tone's bursts keeps the recording a complaint; the tone alone is a fax."""
    words = np.frombuffer(quiet_speech(tmp_path, dbfs), dtype="<i2").astype(float)
    cng = np.frombuffer(fax_cng(len(words) / RATE + 2.0), dtype="<i2").astype(float)
    mixed = cng.copy()
    mixed[RATE:RATE + len(words)] += words
    assert fax_only(cng.astype("<i2").tobytes())
    assert not fax_only(_pcm(mixed))
