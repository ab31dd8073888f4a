"""A caller's side of an IVR dialogue for SIPp: audio pcaps and timed scenario steps.

SIPp plays one pcap at a time per call (a new ``play_pcap_audio`` cancels the one still
playing), and sends nothing once a pcap ends -- unlike a phone, which keeps sending RTP
(silence included) for the whole call. So every step here is followed by a long silence
pcap, cancelled by the next step: the IVR sees a continuous stream, as from a real phone,
and its RTP-inactivity watchdog stays quiet.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from telephony.media import g711
from telephony.media.prompts import espeak_argv
from tests.support import dtmf_tones
from tests.support.harness import dtmf_event_pcap, dtmf_pcap, uac_reinvite, write_rtp_pcap

FRAME = 160  # μ-law bytes per 20 ms


def espeak_pcm16(text: str, out_dir: Path, *, voice: str = "ko", speed: int = 150) -> bytes:
    """espeak-ng speech as 16-bit 8 kHz mono PCM (phone band)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw, wav = out_dir / "say.espeak.wav", out_dir / "say.8k.raw"
    subprocess.run(espeak_argv(text, raw, voice=voice, options=["-s", str(speed)]),
                   check=True)
    subprocess.run(["sox", str(raw), "-t", "raw", "-r", "8000", "-c", "1", "-b", "16",
                    "-e", "signed-integer", str(wav), "gain", "-n", "-3"],
                   check=True, capture_output=True)
    return wav.read_bytes()


def g711_pcap(path: Path, pcm16: bytes, codec: str = "PCMU") -> Path:
    """``pcm16`` as 20 ms RTP packets of ``codec`` (PCMU or PCMA), padded with silence."""
    pcm16 += b"\x00" * (-len(pcm16) % (2 * FRAME))
    payload = g711.ENCODERS[codec](pcm16)
    pt = {"PCMU": g711.PCMU_PAYLOAD_TYPE, "PCMA": g711.PCMA_PAYLOAD_TYPE}[codec]
    return write_rtp_pcap(path, [payload[i:i + FRAME] for i in range(0, len(payload), FRAME)],
                          payload_type=pt)


def ulaw_pcap(path: Path, pcm16: bytes) -> Path:
    return g711_pcap(path, pcm16, "PCMU")


def silence_pcm16(seconds: float) -> bytes:
    return b"\x00\x00" * int(8000 * seconds)


class CallerScript:
    """Builds the @MEDIA@ block of tests/support/scenarios/uac_call.xml step by step."""

    def __init__(self, workdir: Path, *, hold_seconds: float = 120.0,
                 codec: str = "PCMU") -> None:
        """``codec``: what the caller's audio is sent as (PCMU or PCMA; offer the same)."""
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.codec = codec
        self.hold_seconds = hold_seconds
        self.silence = g711_pcap(self.dir / "silence.pcap", silence_pcm16(hold_seconds), codec)
        self.steps: list[str] = []
        self._n = 0

    def _play(self, pcap: Path) -> None:
        self.steps.append(f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>')

    def _pause(self, ms: int) -> None:
        if ms > 0:
            self.steps.append(f'  <pause milliseconds="{ms}"/>')

    def wait(self, seconds: float) -> CallerScript:
        """Stay on the line, sending silence."""
        self._play(self.silence)
        self._pause(int(seconds * 1000))
        return self

    def say(self, pcm16: bytes, *, then_wait: float = 0.5) -> CallerScript:
        """Speak, then keep sending silence."""
        self._n += 1
        pcap = g711_pcap(self.dir / f"speech{self._n}.pcap", pcm16, self.codec)
        self._play(pcap)
        self._pause(len(pcm16) // 16)  # ms of audio
        return self.wait(then_wait)

    def key(self, digit: str, *, then_wait: float = 0.3,
            timestamp: int | None = None) -> CallerScript:
        """An RFC 2833 key press. The same digit (or any key) pressed again in one call
        needs its own ``timestamp``: a receiver takes a repeated timestamp for the same
        press (tests/outbound/dtmf.py). The next step's pcap cancels this one 250 ms on;
        under load SIPp's player stalled 190 ms inside the 140 ms capture, and a key cut
        before its end packets keys nothing (with the pause at 10 ms: keys "1" for
        "#1"). Where the dialogue's path hangs on a key, ``ivrkit.press`` sends it whole
        (``ivrkit.converse``)."""
        if timestamp is None:
            self._play(dtmf_pcap(digit))
        else:
            from tests.outbound.dtmf import dtmf_pcap as stamped

            self._n += 1
            self._play(stamped(self.dir / f"key{self._n}.pcap", digit, timestamp=timestamp))
        self._pause(250)  # the Debian captures last about 0.2 s
        return self.wait(then_wait)

    def complain(self, speech: bytes) -> CallerScript:
        """Say the complaint, end it with #, and confirm what is read back with 1."""
        return (self.say(speech, then_wait=0.3).key("#", then_wait=1.5)
                .key("1", then_wait=0))

    def tone_key(self, digit: str, *, then_wait: float = 0.3) -> CallerScript:
        """The key as a tone in the audio (a phone without telephone-event): 100 ms of
        tone at -10 dBm0 per frequency, then silence."""
        self._n += 1
        pcm = dtmf_tones.dialled(digit, on_ms=100, off_ms=100)
        self._play(g711_pcap(self.dir / f"tone{self._n}.pcap", pcm, self.codec))
        self._pause(len(pcm) // 16)
        return self.wait(then_wait)

    def dial(self, digits: str, *, then_wait: float = 0.3) -> CallerScript:
        """Key in a number, each press a distinct RFC 4733 event (repeated digits too)."""
        for digit in digits:
            self._n += 1
            pcap = dtmf_event_pcap(self.dir / f"key{self._n}.pcap", digit,
                                   timestamp=self._n * 80_000)
            self._play(pcap)
            self._pause(250)
            self.wait(0.1)
        return self.wait(then_wait)

    def reinvite(self, codec: str, *, cseq: int = 2, media_port: str = "[media_port]",
                 direction: str = "sendrecv") -> CallerScript:
        """Mid-call, the caller's re-INVITE offering ``codec`` alone (PCMU or PCMA; with
        telephone-event), as a phone or SBC switching the law does (``direction``
        sendonly: putting the call on hold, sendrecv again: resuming it); what it says
        from then on is sent in that codec."""
        pt = {"PCMU": g711.PCMU_PAYLOAD_TYPE, "PCMA": g711.PCMA_PAYLOAD_TYPE}[codec]
        self.steps.append(uac_reinvite(cseq, codecs=str(pt), media_port=media_port,
                                       direction=direction))
        self.codec = codec
        # (Its silence so far is in the old law: from here on, the new one's.)
        self.silence = g711_pcap(self.dir / f"silence-{codec}.pcap",
                                 silence_pcm16(self.hold_seconds), codec)
        return self.wait(0)

    def render(self) -> str:
        return "\n".join(self.steps)

    @property
    def seconds(self) -> float:
        total = 0
        for s in self.steps:
            if "<pause" in s:
                total += int(s.split('"')[1])
        return total / 1000
