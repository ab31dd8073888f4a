"""Energy-based voice-activity gate for 16-bit PCM frames.

Phone lines carry long stretches of silence and line noise; decoding them costs as much
CPU as speech and produces junk words. The gate passes a frame to the decoder only while
speech is likely, plus `preroll` before the onset (so the first consonant is not clipped:
onsets are quiet) and `hangover` after the last loud frame (word endings are quiet too,
and Vosk needs some trailing silence to place the word end).

The threshold adapts to the line: a noise-floor estimate that falls quickly when the
frame is quieter than it and rises slowly otherwise, so steady hum or hiss closes the
gate after a few seconds while a speaker's syllables, far above the floor, keep it open.
"""

from __future__ import annotations

import functools
import math
import sys
from array import array
from collections import deque
from dataclasses import dataclass
from typing import Any


def frame_rms(frame: bytes) -> float:
    samples = array("h", frame)
    if sys.byteorder != "little":  # pragma: no cover
        samples.byteswap()
    if not samples:
        return 0.0
    # sum of squares via map(mul) runs in C; ~5 µs for a 20 ms frame at 8 kHz.
    return math.sqrt(sum(map(int.__mul__, samples, samples)) / len(samples))


# A fax machine's tones (ITU-T T.30): the calling tone CNG, 1100 Hz ± 38 Hz (0.5 s on,
# 3 s off), and the answer tone CED, 2100 Hz ± 15 Hz. A frame is one when these bins hold
# most of its energy: a single steady sine, which no voice is (a sung or hummed note is a
# fundamental and its harmonics; speech spreads its energy over many).
FAX_TONES_HZ = (1062.0, 1081.0, 1100.0, 1119.0, 1138.0, 2085.0, 2100.0, 2115.0)
FAX_TONE_SHARE = 0.75


@functools.lru_cache(maxsize=16)
def _fax_basis(n: int, sample_rate: int) -> Any:
    """The tones' cosines and sines over a frame of ``n`` samples at ``sample_rate``: one
    read-only array per (size, rate), shared by every call's thread. Before (review62) one
    module-level array was checked, then used, and rebuilt when another thread's frame size
    differed: a thread could multiply its frame by the other size's basis."""
    import numpy as np

    t = np.arange(n)[:, None] / sample_rate
    phase = 2 * np.pi * t * np.array(FAX_TONES_HZ)[None, :]
    basis = np.hstack((np.cos(phase), np.sin(phase))) * (np.sqrt(2) / n)
    basis.flags.writeable = False
    return basis


def fax_tone(frame: bytes, sample_rate: int = 8000) -> bool:
    """Whether a 16-bit frame at ``sample_rate`` is a fax machine's CNG or CED tone
    (``FAX_TONES_HZ``)."""
    import numpy as np  # the gate's hot path reads it only for loud frames

    x = np.frombuffer(frame[: len(frame) // 2 * 2], dtype="<i2").astype(np.float64)
    n = len(x)
    if n < 64:
        return False
    basis = _fax_basis(n, sample_rate)
    x = x - x.mean()
    total = float(x @ x) / n
    if total <= 0.0:
        return False
    y = x @ basis
    k = len(FAX_TONES_HZ)
    power = y[:k] ** 2 + y[k:] ** 2
    # Neighbouring bins see the same tone (a 20 ms frame's bins are 50 Hz wide): the
    # strongest of the bins across CNG's tolerance, and of CED's.
    return float(power.max()) >= FAX_TONE_SHARE * total


@dataclass
class GateDecision:
    frames: list[bytes]  # what to feed the decoder now, in order (preroll + this frame)
    speech: bool  # this frame counts as speech
    opened: bool  # the gate opened on this frame
    closed: bool  # the gate closed on this frame (hangover ran out)


class EnergyGate:
    def __init__(
        self,
        *,
        frame_ms: int = 20,
        min_rms: float = 200.0,
        ratio: float = 3.0,
        attack_frames: int = 2,
        preroll_ms: int = 300,
        hangover_ms: int = 600,
        sample_rate: int = 8000,
    ) -> None:
        self.frame_ms = frame_ms
        # The frames' rate, for the fax tones' frequencies (a 16 kHz stream's gate read
        # them at 8 kHz before: 1100 Hz looked for at 550 Hz; review62).
        self.sample_rate = sample_rate
        self.min_rms = min_rms  # below this a frame is never speech (μ-law idle is ~0-20)
        self.ratio = ratio  # speech must be this far above the noise floor
        self.attack_frames = attack_frames  # consecutive loud frames needed to open
        self.noise_floor = min_rms / ratio
        self._preroll: deque[bytes] = deque(maxlen=max(1, preroll_ms // frame_ms))
        self._hangover_frames = max(1, hangover_ms // frame_ms)
        self._loud_run = 0
        self._quiet_run = 0
        self.is_open = False
        self.fax_frames = 0  # loud frames that were a fax tone (``fax_tone``), never speech

    @property
    def threshold(self) -> float:
        return max(self.min_rms, self.noise_floor * self.ratio)

    def _track_floor(self, rms: float) -> None:
        if rms < self.noise_floor:
            self.noise_floor += (rms - self.noise_floor) * 0.2
        else:  # ~10 s time constant at 50 frames/s
            self.noise_floor += (rms - self.noise_floor) * 0.002
        self.noise_floor = max(self.noise_floor, 1.0)

    def process(self, frame: bytes) -> GateDecision:
        rms = frame_rms(frame)
        loud = rms > self.threshold
        if loud and fax_tone(frame, self.sample_rate):
            # Loud, but a fax machine's tone: never speech, so a fax call is no complaint
            # (loose28: each became a "（录音待转写）" ticket in the manual queue).
            self.fax_frames += 1
            loud = False
        self._track_floor(rms)
        self._loud_run = self._loud_run + 1 if loud else 0
        if not self.is_open:
            self._preroll.append(frame)
            if self._loud_run >= self.attack_frames:
                self.is_open = True
                self._quiet_run = 0
                frames = list(self._preroll)
                self._preroll.clear()
                return GateDecision(frames, True, True, False)
            return GateDecision([], False, False, False)
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._quiet_run >= self._hangover_frames:
            self.is_open = False
            self._quiet_run = 0
            return GateDecision([frame], False, False, True)
        return GateDecision([frame], loud, False, False)
