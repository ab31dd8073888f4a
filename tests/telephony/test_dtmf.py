"""In-band DTMF (telephony/media/dtmf.py), socket-free: every key from sox and numpy tones
at phone levels, through μ-law and A-law; the Q.24-like limits (frequency, twist, level,
duration); one key per press; and no key at all from speech (espeak-ng, the IVR's and the
outbound prompts as the renderer makes them), music-like chords and noise. Last, the RTP
receiver feeds it only on calls without telephone-event."""

from __future__ import annotations

import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from config.settings import Settings
from ivr.prompts import PROMPTS
from ivr.prompts import PromptLibrary as IvrPrompts
from outbound.prompts import PromptLibrary as OutboundPrompts
from outbound.survey import Q_RESOLVED, Q_SATISFIED
from telephony.media import dtmf, g711
from telephony.media.wav import read_wav_pcm16
from telephony.rtp import EVENT_END_SECONDS, Rtp16Stream
from tests.support.callers import espeak_pcm16
from tests.support.dtmf_tones import amplitude, dialled, pair, pcm16, silence, tone
from tests.support.run_once import seed_prompts

KEYS = "0123456789*#"
RATE = dtmf.SAMPLE_RATE
LAWS: dict[str, Callable[[bytes], bytes]] = {
    "linear": lambda pcm: pcm,
    "PCMU": lambda pcm: g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm)),
    "PCMA": lambda pcm: g711.alaw_to_pcm16(g711.pcm16_to_alaw(pcm)),
}


def sox_pcm16(out: Path, *effects: str) -> bytes:
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                    "-t", "raw", str(out), *effects], check=True, capture_output=True)
    return out.read_bytes()


def in_frames(detector: dtmf.DtmfDetector, pcm: bytes, frame: int = 320) -> str:
    return "".join(k for i in range(0, len(pcm), frame) for k in detector.feed(pcm[i:i + frame]))


# ---------------------------------------------------------------------------- accepted


@pytest.mark.parametrize("law", LAWS)
def test_every_key_from_sox_tones_through_the_line(law: str, tmp_path: Path) -> None:
    """sox makes each key (two sines mixed, 80 ms at about -10 dBm0 each, 80 ms apart),
    sent through μ-law or A-law; each key is heard once, in order."""
    audio = b""
    for key in KEYS:
        low, high = pair(key)
        audio += sox_pcm16(tmp_path / f"key{ord(key)}.raw", "synth", "0.08", "sine", str(low),
                           "synth", "0.08", "sine", "mix", str(high), "vol", "0.3",
                           "pad", "0", "0.08")
    assert dtmf.detect(LAWS[law](audio)) == KEYS


@pytest.mark.parametrize("law", LAWS)
@pytest.mark.parametrize("dbm0", [-3.0, -10.0, -20.0, -30.0])
def test_every_key_at_phone_levels(law: str, dbm0: float) -> None:
    assert dtmf.detect(LAWS[law](dialled(KEYS + "ABCD", dbm0=dbm0))) == KEYS + "ABCD"


def test_keys_fed_in_any_frame_size_are_the_same_keys() -> None:
    audio = LAWS["PCMU"](dialled("1#90"))
    for frame in (2, 14, 160, 320, 4000):
        assert in_frames(dtmf.DtmfDetector(), audio, frame) == "1#90", frame


@pytest.mark.parametrize("deviation", [-0.015, -0.01, 0.01, 0.015])
def test_tones_off_frequency_within_q24_tolerance_are_keys(deviation: float) -> None:
    assert dtmf.detect(dialled(KEYS, deviation=deviation)) == KEYS


@pytest.mark.parametrize("twist_db", [-6.0, -3.0, 3.0])
def test_twist_within_limits_is_a_key(twist_db: float) -> None:
    assert dtmf.detect(dialled(KEYS, twist_db=twist_db)) == KEYS


def test_key_with_background_noise(tmp_path: Path) -> None:
    noise = np.frombuffer(sox_pcm16(tmp_path / "noise.raw", "synth", "1.4", "pinknoise",
                                    "vol", "0.02"), dtype="<i2")
    keys = np.frombuffer(dialled("2580"), dtype="<i2")
    n = min(len(noise), len(keys))
    mixed = pcm16(keys[:n].astype(float) + noise[:n])
    assert dtmf.detect(LAWS["PCMU"](mixed)) == "2580"


# ---------------------------------------------------------------------------- press logic


def test_a_long_press_is_one_key() -> None:
    assert dtmf.detect(pcm16(np.concatenate((tone("5", 1500), silence(100))))) == "5"


@pytest.mark.parametrize("offset_samples", range(0, dtmf.HOP, 8))
@pytest.mark.parametrize(("deviation", "twist_db"), [(0.0, 0.0), (-0.015, -6.0), (0.015, 3.0)])
def test_the_same_key_after_a_40_ms_pause_is_two_keys(offset_samples: int, deviation: float,
                                                      twist_db: float) -> None:
    # Q.24: a 40 ms pause separates two presses, whatever its alignment to the windows.
    for key in KEYS:
        press = tone(key, 60, deviation=deviation, twist_db=twist_db)
        audio = np.concatenate((np.zeros(offset_samples), press, silence(40), press,
                                silence(60)))
        assert dtmf.detect(pcm16(audio)) == key * 2, key


@pytest.mark.parametrize("offset_samples", range(0, dtmf.HOP, 8))
@pytest.mark.parametrize(("deviation", "twist_db"), [(0.0, 0.0), (-0.015, -6.0), (0.015, 3.0)])
def test_a_10_ms_break_in_a_press_is_still_one_key(offset_samples: int, deviation: float,
                                                   twist_db: float) -> None:
    # Q.24: an interruption of up to 10 ms must not make two keys of one press (the tone
    # comes back where it would have been: its phase jumps).
    for key in KEYS:
        press = tone(key, 200, deviation=deviation, twist_db=twist_db)
        audio = np.concatenate((np.zeros(offset_samples), press[:800], silence(10),
                                press[800:], silence(80)))
        assert dtmf.detect(pcm16(audio)) == key, key


@pytest.mark.parametrize("offset_samples", range(0, dtmf.HOP, 8))
def test_forty_ms_is_a_key_and_twenty_is_not_whatever_the_alignment(offset_samples: int
                                                                     ) -> None:
    lead = np.zeros(offset_samples)
    assert dtmf.detect(pcm16(np.concatenate((lead, tone("7", 40), silence(60))))) == "7"
    assert dtmf.detect(pcm16(np.concatenate((lead, tone("7", 20), silence(60))))) == ""


def test_a_press_is_reported_when_it_has_lasted_not_when_it_ends() -> None:
    detector = dtmf.DtmfDetector()
    audio = pcm16(tone("9", 2000))
    assert in_frames(detector, audio[: 2 * 8 * 60]) == "9"  # within the first 60 ms
    assert in_frames(detector, audio[2 * 8 * 60:]) == ""


# ---------------------------------------------------------------------------- refused


@pytest.mark.parametrize("deviation", [-0.035, 0.035])
def test_tones_far_off_frequency_are_not_keys(deviation: float) -> None:
    assert dtmf.detect(dialled(KEYS, deviation=deviation)) == ""


@pytest.mark.parametrize("twist_db", [-12.0, 8.0])
def test_twist_beyond_limits_is_not_a_key(twist_db: float) -> None:
    assert dtmf.detect(dialled(KEYS, twist_db=twist_db)) == ""


def test_tones_below_the_level_floor_are_not_keys() -> None:
    assert dtmf.detect(dialled(KEYS, dbm0=-45.0)) == ""


def test_one_tone_alone_is_not_a_key() -> None:
    t = np.arange(RATE) / RATE
    for f in dtmf.ROWS + dtmf.COLUMNS:
        assert dtmf.detect(pcm16(amplitude(-10) * np.sin(2 * np.pi * f * t))) == ""


def test_a_key_under_loud_speech_harmonics_is_not_a_key() -> None:
    """A row and column tone plus strong harmonics of a voice (a 175 Hz fundamental):
    most of the energy is elsewhere, so it is not a key press."""
    t = np.arange(RATE) / RATE
    voice = sum(amplitude(-12) / k * np.sin(2 * np.pi * 175 * k * t) for k in range(1, 12))
    assert dtmf.detect(pcm16(voice + np.resize(tone("1", 1000), len(t)) * 0.3)) == ""


@pytest.mark.parametrize("voice", ["cmn", "yue", "en", "ko"])
def test_speech_is_never_a_key(voice: str, tmp_path: Path) -> None:
    text = ("您好，这里是一二三四五市民服务热线。按一查询，按零转人工，说完请按井号键。"
            "一二三四五六七八九零。Hello, please press one. 물이 나오지 않습니다.")
    speech = espeak_pcm16(text, tmp_path, voice=voice)
    assert len(speech) > 2 * RATE * 5
    for law in LAWS.values():
        assert dtmf.detect(law(speech)) == ""


# Reads the whole prompt catalogue (~50 prompts; rendered once per run by espeak-ng and sox,
# tests/conftest.py's shipped_prompts, ~1.3-2.6 CPU-s when this test is the first to ask):
# the whole suite only (marker "slow"). The fast tier keeps speech in four languages, music
# and noise.
@pytest.mark.slow
def test_our_own_prompts_are_never_keys(tmp_path: Path, shipped_prompts: Path) -> None:
    """Every IVR prompt (the shipped catalogue, digits, the beep tone) and the outbound
    survey questions, as the one renderer makes them."""
    settings = Settings(data_dir=tmp_path, prompts_dir=tmp_path / "recorded")
    seed_prompts(shipped_prompts, tmp_path)  # the IVR's, rendered once per run
    ivr = IvrPrompts(settings)
    keys = [k for k in PROMPTS if "{" not in PROMPTS[k]]
    audio = [ivr.pcm(k) for k in keys] + [ivr.number("0123456789")]
    outbound = OutboundPrompts(settings)
    with outbound.for_call() as call:
        audio += [read_wav_pcm16(call.wav(f"q{i}", q))
                  for i, q in enumerate((Q_RESOLVED, Q_SATISFIED))]
    assert len(audio) > 20
    for pcm in audio:
        assert dtmf.detect(LAWS["PCMU"](pcm)) == ""


@pytest.mark.parametrize("effects", [
    ("synth", "3", "sine", "261.63", "synth", "3", "sine", "mix", "329.63", "synth", "3",
     "sine", "mix", "392", "vol", "0.3"),  # C major triad
    ("synth", "3", "square", "440", "synth", "3", "square", "mix", "554.37", "vol", "0.3"),
    ("synth", "3", "sawtooth", "220", "synth", "3", "triangle", "mix", "659.25", "vol", "0.3"),
    ("synth", "0.4", "pluck", "C4", "synth", "0.4", "pluck", "mix", "E4", "synth", "0.4",
     "pluck", "mix", "G4", "repeat", "5"),
    ("synth", "5", "sine", "300-3400", "vol", "0.5"),  # a sweep through every DTMF tone
    ("synth", "3", "whitenoise", "vol", "0.5"),
    ("synth", "3", "pinknoise", "vol", "0.5"),
    ("synth", "3", "brownnoise", "vol", "0.5"),
], ids=["triad", "square-chord", "saw-triangle", "plucked-chord", "sweep", "white", "pink",
        "brown"])
def test_music_like_audio_and_noise_are_never_keys(effects: tuple[str, ...],
                                                   tmp_path: Path) -> None:
    audio = sox_pcm16(tmp_path / "music.raw", *effects)
    assert len(audio) > 2 * RATE
    for law in LAWS.values():
        assert dtmf.detect(law(audio)) == ""


# judge27's music (loose28): two-note chords whose notes lie 2-4 % off the keypad's tones
# (A5 880 Hz, 3.3 % over 852; F#5 740 Hz, 3.9 % under 770; D6, D#6), heard through bins
# 1.5 % either side, and square waves on keypad notes (odd harmonics: the second-harmonic
# test sees nothing). Each chord was a key (the key in the id) before.
@pytest.mark.parametrize("effects", [
    ("sine", "A5", "sine", "G#6"), ("sine", "F#5", "sine", "G#6"),
    ("sine", "D6", "sine", "A#5"), ("sine", "D#6", "sine", "G5"),
    ("square", "A5", "square", "G#6"), ("square", "A#5", "square", "E6"),
    ("square", "G5", "square", "E6"), ("square", "F5", "square", "E6"),
], ids=["C-sine", "B-sine", "star-sine", "4-sine", "C-square", "0-square", "5-square",
        "2-square"])
def test_chords_off_the_keypads_tones_or_rich_in_odd_harmonics_are_never_keys(
        effects: tuple[str, str, str, str], tmp_path: Path) -> None:
    low_kind, low, high_kind, high = effects
    audio = sox_pcm16(tmp_path / "chord.raw", "synth", "0.25", low_kind, low, "synth", "0.25",
                      high_kind, "mix", high, "vol", "0.3", "pad", "0", "0.05", "repeat", "5")
    for law in ("PCMU", "PCMA"):
        assert dtmf.detect(LAWS[law](audio)) == "", law


def test_two_sines_within_q24s_tolerance_are_a_key_even_from_a_synthesiser(
        tmp_path: Path) -> None:
    """F5 (698.5 Hz, 0.2 % over 697) and E6 (1318.5 Hz, 1.3 % under 1336): two sines the
    keypad's tolerance takes, whatever played them. Q.24 leaves no test that parts them
    from key 2 (docs/ivr.md, "In-band keys")."""
    audio = sox_pcm16(tmp_path / "f5e6.raw", "synth", "0.25", "sine", "F5", "synth", "0.25",
                      "sine", "mix", "E6", "vol", "0.3", "pad", "0", "0.05")
    assert dtmf.detect(LAWS["PCMU"](audio)) == "2"


@pytest.mark.parametrize("law", ["PCMU", "PCMA"])
@pytest.mark.parametrize("dbm0", [-10.0, -20.0])
def test_keys_with_speech_10_db_under_them_are_still_keys(law: str, dbm0: float,
                                                         tmp_path: Path) -> None:
    """A caller keys while someone talks beside the phone: espeak-ng speech 10 dB below the
    tones (power over the speech's voiced samples against the keys' own), through the
    line. Every key is heard, in order, once (loose28: the tighter share of the energy
    still takes them)."""
    speech = np.frombuffer(espeak_pcm16(
        "您好，这里是一二三四五市民服务热线，我家楼下的路灯坏了，已经三天了，请问什么时候能修好。",
        tmp_path, voice="cmn"), dtype="<i2").astype(float)
    keys = (KEYS + "ABCD") * 2
    tones = np.frombuffer(dialled(keys, dbm0=dbm0), dtype="<i2").astype(float)
    assert len(speech) >= len(tones)
    speech = speech[:len(tones)]
    voiced = np.abs(speech) > 100
    gain = np.sqrt(np.mean(tones[tones != 0] ** 2) / np.mean(speech[voiced] ** 2) / 10)
    assert dtmf.detect(LAWS[law](pcm16(tones + gain * speech))) == keys


# ---------------------------------------------------------------------------- the call


def rtp_packets(pcm: bytes, payload_type: int = 0) -> list[bytes]:
    encode = g711.pcm16_to_ulaw if payload_type == 0 else g711.pcm16_to_alaw
    payload = encode(pcm + b"\x00" * (-len(pcm) % 320))
    return [struct.pack("!BBHII", 0x80, payload_type, i, 160 * i, 0x1234) + payload[j:j + 160]
            for i, j in enumerate(range(0, len(payload), 160))]


def stream(event_pt: int | None, codec: str = "PCMU") -> tuple[Rtp16Stream, list[str], list[bytes]]:
    keys: list[str] = []
    frames: list[bytes] = []
    s = Rtp16Stream(local=("127.0.0.1", 0), remote=("127.0.0.1", 9), codec=codec,
                    audio_pt=0 if codec == "PCMU" else 8, event_pt=event_pt,
                    on_audio=frames.append, on_dtmf=keys.append)
    return s, keys, frames


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_rtp_without_telephone_event_hears_keys_in_the_audio(codec: str) -> None:
    s, keys, frames = stream(None, codec)
    assert s.dtmf_mode == dtmf.INBAND
    audio = dialled("1")
    for packet in rtp_packets(audio, 0 if codec == "PCMU" else 8):
        s.parse_packet(packet)
    assert keys == ["1"]
    assert b"".join(frames)[: len(audio)] == LAWS[codec](audio)  # the audio still flows


def test_rtp_with_telephone_event_leaves_tones_in_the_audio_alone() -> None:
    # Such a phone sends both: detecting the tones as well would double every key.
    s, keys, _ = stream(101)
    assert s.dtmf_mode == dtmf.RFC2833
    for packet in rtp_packets(dialled("1")):
        s.parse_packet(packet)
    assert keys == []


def test_outbound_stream_takes_its_mode_from_the_answer() -> None:
    """Outbound calls bind before the answer; ``configure`` sets the mode it negotiated."""
    from telephony.sip.sdp import Negotiated

    s, keys, _ = stream(None)
    s.configure(Negotiated(codec="PCMU", audio_pt=0, event_pt=101, remote_ip="127.0.0.1",
                           remote_port=9))
    assert s.dtmf_mode == dtmf.RFC2833
    s.configure(Negotiated(codec="PCMA", audio_pt=8, event_pt=None, remote_ip="127.0.0.1",
                           remote_port=9))
    assert s.dtmf_mode == dtmf.INBAND
    for packet in rtp_packets(dialled("#"), 8):
        s.parse_packet(packet)
    assert keys == ["#"]


def test_audio_on_a_dynamic_payload_number_is_decoded_with_its_codec() -> None:
    """An offer may map PCMU to a dynamic number (a=rtpmap:96 PCMU/8000); we answer with
    it and must hear what comes on it, not only on the static 0 and 8."""
    keys: list[str] = []
    frames: list[bytes] = []
    s = Rtp16Stream(local=("127.0.0.1", 0), remote=("127.0.0.1", 9), codec="PCMU",
                    audio_pt=96, event_pt=None, on_audio=frames.append, on_dtmf=keys.append)
    audio = dialled("5")
    for packet in rtp_packets(audio):
        s.parse_packet(bytes([packet[0], 96]) + packet[2:])
    assert keys == ["5"]
    assert b"".join(frames)[: len(audio)] == LAWS["PCMU"](audio)


def long_press_packets(digit: str, *, timestamp: int, seconds: float) -> list[bytes]:
    """One RFC 4733 press held ``seconds`` (past the 16-bit duration's 8.19 s), sent as
    RFC 4733 2.5.1.3 says: a segment's updates every 50 ms up to duration 0xFFFF, then a
    new segment of the same event at the timestamp where that one's duration ended, and
    three end packets (E bit) only on the last one."""
    event, total, step = "0123456789*#".index(digit), int(seconds * 8000), 400
    packets, seq, start = [], 0, timestamp
    while True:
        length = min(total - (start - timestamp), 0xFFFF)
        durations = [*range(step, length, step), length]
        last = start - timestamp + length >= total
        for n, duration in enumerate(durations):
            final = last and n == len(durations) - 1
            for _ in range(3 if final else 1):
                payload = bytes([event, (0x80 if final else 0) | 10]) + duration.to_bytes(2, "big")
                packets.append(struct.pack("!BBHII", 0x80, 101, seq & 0xFFFF,
                                           start & 0xFFFFFFFF, 0x1234) + payload)
                seq += 1
        if last:
            return packets
        start += length


@pytest.mark.parametrize("seconds", [9.0, 20.0])
def test_a_key_held_past_the_longest_event_segment_is_one_key(seconds: float) -> None:
    """A key held longer than an event's 16-bit duration holds (8.19 s) goes on in new
    segments, same event, new timestamp, the end bit only on the last (RFC 4733 2.5.1.3 and
    2.5.2.3: the receiver joins them). Each segment was read as a press whose end packets
    were lost: a 9 s press of 1 at a survey's first question answered both ("11")."""
    s, keys, _ = stream(101)
    for packet in long_press_packets("1", timestamp=4000, seconds=seconds):
        s.parse_packet(packet)
    assert keys == ["1"]
    # The same key pressed again afterwards is a press of its own.
    for packet in long_press_packets("1", timestamp=4000 + int(seconds * 8000) + 8000,
                                     seconds=0.2):
        s.parse_packet(packet)
    assert keys == ["1", "1"]


def test_a_long_press_is_one_key_though_updates_at_the_segment_cut_were_lost() -> None:
    """The segments of one press are joined by their timestamps (the next at the last's
    + 0xFFFF, RFC 4733 2.5.1.3), not by the last duration seen: with 250 ms of updates
    lost before the cut that duration was short of full, and a 9 s press keyed "11"."""
    s, keys, _ = stream(101)
    packets = long_press_packets("1", timestamp=1000, seconds=9.0)
    cut = next(n for n, p in enumerate(packets) if struct.unpack_from("!I", p, 4)[0] != 1000)
    for packet in packets[:cut - 5] + packets[cut:]:
        s.parse_packet(packet)
    assert keys == ["1"]


def test_a_long_press_whose_ends_were_lost_and_the_same_key_again_are_two_keys() -> None:
    """A press past a segment's full duration whose end packets were lost, then the same
    key pressed again (no audio between, a caller with silence suppression): the new
    event is at a timestamp of its own, not the old segment's end, so two presses. Before,
    any event of the same key after a duration near full was taken for the press going on:
    one key."""
    s, keys, _ = stream(101)
    first = long_press_packets("2", timestamp=1000, seconds=8.19)
    for packet in first[:-3]:  # its ends lost
        s.parse_packet(packet)
    for packet in long_press_packets("2", timestamp=1000 + 0xFFFF + 4000, seconds=0.2):
        s.parse_packet(packet)
    assert keys == ["2", "2"]


def test_a_key_whose_end_packets_were_all_lost_counts_once_its_updates_stop() -> None:
    """A press whose three end packets were all lost, the caller's audio going on: the key
    counts once no update has come for ``EVENT_END_TIMEOUT`` of the audio's clock (as
    Asterisk's dtmftimeout does), not at the caller's next key: waiting for it, a caller who
    pressed 1 heard nothing happen, pressed again and keyed "11" (at a survey, both
    questions)."""
    s, keys, _ = stream(101)
    event = "0123456789*#".index("1")
    for n in range(6):  # 120 ms of updates at timestamp 8000; the ends lost
        s.parse_packet(struct.pack("!BBHII", 0x80, 101, n, 8000, 0x1234)
                       + bytes([event, 10]) + (160 * (n + 1)).to_bytes(2, "big"))
    audio = [struct.pack("!BBHII", 0x80, 0, 6 + n, 8000 + 160 * (6 + n), 0x1234)
             + b"\xff" * 160 for n in range(20)]
    for packet in audio[:2]:  # still within the event's reach: no key yet
        s.parse_packet(packet)
    assert keys == []
    for packet in audio[2:]:
        s.parse_packet(packet)
    assert keys == ["1"]


def _unended_press(s: Rtp16Stream, digit: str) -> None:
    """120 ms of updates of ``digit`` at timestamp 8000, its three end packets lost."""
    event = "0123456789*#".index(digit)
    for n in range(6):
        s.parse_packet(struct.pack("!BBHII", 0x80, 101, n, 8000, 0x1234)
                       + bytes([event, 10]) + (160 * (n + 1)).to_bytes(2, "big"))


def test_a_lost_end_key_counts_on_the_comfort_noise_of_a_caller_with_silence_suppression(
        ) -> None:
    """A caller with silence suppression sends comfort noise (PT 13, RFC 3389) after a key,
    not audio: it runs on the same clock. Before, only G.711 ended the press: after 3 s of
    comfort noise the key was still waiting, and counted only at the next press ("11")."""
    s, keys, _ = stream(101)
    _unended_press(s, "1")
    for n in range(20):  # 400 ms of comfort noise, one octet each (RFC 3389's level)
        s.parse_packet(struct.pack("!BBHII", 0x80, 13, 6 + n, 8960 + 160 * n, 0x1234)
                       + b"\x40")
    assert keys == ["1"]


def test_a_lost_end_key_counts_after_a_second_with_nothing_from_the_caller() -> None:
    """Silence suppression without comfort noise: nothing at all after the key, no clock to
    end it on. The receive thread ends an event not updated for ``EVENT_END_SECONDS``
    (``end_stalled_event``, after each packet and each socket timeout); updates going on
    keep a long press open."""
    s, keys, _ = stream(101)
    _unended_press(s, "7")
    s.end_stalled_event()
    assert keys == []  # just updated
    s.end_stalled_event(now=time.monotonic() + EVENT_END_SECONDS / 2)
    assert keys == []
    s.end_stalled_event(now=time.monotonic() + EVENT_END_SECONDS)
    assert keys == ["7"]
    s.parse_packet(struct.pack("!BBHII", 0x80, 101, 9, 8000, 0x1234)
                   + bytes([7, 0x80 | 10]) + (960).to_bytes(2, "big"))
    assert keys == ["7"]  # its end, late: the same press, counted once


def test_rtcp_on_the_rtp_port_does_not_end_a_press() -> None:
    """RTCP multiplexed on the RTP port (RFC 5761) reads as version 2 with a payload type
    of 72-76, and where RTP has its timestamp it has the sender's SSRC: it is not the
    caller's clock, so a press going on is not taken as over (nor its key reported before
    its end)."""
    s, keys, _ = stream(101)
    event = "0123456789*#".index("4")
    update = [struct.pack("!BBHII", 0x80, 101, n, 8000, 0x1234)
              + bytes([event, 10]) + (160 * (n + 1)).to_bytes(2, "big") for n in range(6)]
    for packet in update[:3]:
        s.parse_packet(packet)
    # A receiver report: PT 201, length 7, then the SSRC where RTP's timestamp would be.
    s.parse_packet(struct.pack("!BBHI", 0x81, 201, 7, 0x7FFF0000) + bytes(24))
    assert keys == []
    for packet in update[3:]:
        s.parse_packet(packet)
    s.parse_packet(struct.pack("!BBHII", 0x80, 101, 6, 8000, 0x1234)
                   + bytes([event, 0x80 | 10]) + (960).to_bytes(2, "big"))
    assert keys == ["4"]


def _segment_starts(packets: list[bytes]) -> list[int]:
    """Where each new RTP timestamp (each segment of a press) begins in ``packets``."""
    stamps = [struct.unpack_from("!I", p, 4)[0] for p in packets]
    return [n for n in range(1, len(stamps)) if stamps[n] != stamps[n - 1]]


def _ended_by(s: Rtp16Stream, how: str, *, from_timestamp: int) -> None:
    """The open press is taken for over, its ends lost: the caller's audio going on past
    ``from_timestamp`` (``EVENT_END_TIMEOUT``) or a second with nothing (``EVENT_END_SECONDS``)."""
    if how == "audio":
        for n in range(60):  # 1.2 s of the caller's audio on the events' clock
            s.parse_packet(struct.pack("!BBHII", 0x80, 0, 40000 + n, from_timestamp + 160 * n,
                                       0x1234) + b"\xff" * 160)
    else:
        s.end_stalled_event(now=time.monotonic() + EVENT_END_SECONDS)


@pytest.mark.parametrize("how", ["audio", "silence"])
@pytest.mark.parametrize("seconds", [12.0, 20.0])
def test_a_long_press_whose_segment_cut_was_lost_for_over_a_second_is_one_key(
        how: str, seconds: float) -> None:
    """A key held past 8.19 s whose first segment's last updates were lost (with its cut)
    for long enough that the press was taken for over and counted: its next segment comes
    at the first's timestamp + 0xFFFF (RFC 4733 2.5.1.3), the same press going on, not a
    new one (which starts at a timestamp of its own). Before, it counted again: "55"."""
    s, keys, _ = stream(101)
    packets = long_press_packets("5", timestamp=1000, seconds=seconds)
    cut = _segment_starts(packets)[0]
    lost = cut - 30  # the last 1.5 s of the first segment's updates, 50 ms apart
    for packet in packets[:lost]:
        s.parse_packet(packet)
    assert keys == []
    last_duration = int.from_bytes(packets[lost - 1][14:16], "big")
    _ended_by(s, how, from_timestamp=1000 + last_duration + 160)
    assert keys == ["5"]
    for packet in packets[cut:]:  # the next segment(s), and the press's end
        s.parse_packet(packet)
    assert keys == ["5"]


@pytest.mark.parametrize("how", ["audio", "silence"])
def test_the_same_key_pressed_again_after_a_lost_end_is_a_key_of_its_own(how: str) -> None:
    """A press whose ends were lost, counted once its updates stopped; the caller lets go
    and presses the same key again 8.2 s after the first began: the new event's timestamp
    is its own start on the audio's 20 ms grid (not the first's + 0xFFFF), so two keys."""
    s, keys, _ = stream(101)
    first = long_press_packets("5", timestamp=1000, seconds=0.3)
    for packet in first[:-3]:  # its three ends lost
        s.parse_packet(packet)
    _ended_by(s, how, from_timestamp=1000 + 2400 + 160)
    assert keys == ["5"]
    again = 1000 + 160 * 410  # 8.2 s on, the grid's nearest to + 0xFFFF (409.6 frames)
    for packet in long_press_packets("5", timestamp=again, seconds=0.3):
        s.parse_packet(packet)
    assert keys == ["5", "5"]


# Every Signal= a SIP INFO may carry and its key (None: refused with 400), as the INFO reader
# took them before the one table (review122 compared the two on this list): the key, a
# letter key in either case, or its RFC 4733 code 0-15; 16 (flash), a code with a leading
# zero, several keys, a space or a non-ASCII digit is no key.
SIGNALS = {
    **{str(d): str(d) for d in range(10)}, "*": "*", "#": "#",
    **{k: k for k in "ABCD"}, **{k.lower(): k for k in "ABCD"},
    "10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D",
    "16": None, "17": None, "00": None, "01": None, "123": None, "": None, " ": None,
    "1 ": None, "e": None, "E": None, "+": None, "\xb2": None, "\uff11": None,
}


def test_signalled_keys_and_rtp_event_keys_are_the_rfc_4733_table() -> None:
    assert {s: dtmf.signalled_key(s) for s in SIGNALS} == SIGNALS
    # The RTP receiver's telephone-event codes: 0-15, and 16 (flash) keys nothing.
    assert [dtmf.EVENT_KEYS[c] for c in range(16)] == list("0123456789*#ABCD")
    assert len(dtmf.EVENT_KEYS) == 16
