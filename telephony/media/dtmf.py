"""In-band DTMF: keys heard as tone pairs in the audio (ITU-T Q.23/Q.24), for calls whose
SDP negotiated no RFC 2833/4733 telephone-event (older PSTN gateways send the tones as
G.711 audio).

One detector per call, fed the decoded 16-bit frames in order; it returns each key once,
when the press has lasted long enough. Pure: no sockets, no threads, no clock -- time is
the number of samples fed.

How a key is accepted (Q.24-like; the figures are the constants below):

- Goertzel bins at the eight DTMF frequencies and their second harmonics, over windows of
  205 samples (the classic size: bins about 39 Hz wide, so neighbouring row tones and the
  second harmonics fall apart), one window every 10 ms.
- In a window, the strongest row and the strongest column tone must each be loud enough,
  within the twist limits of each other, clear of the other tones of their group, and
  louder than their own second harmonic (speech and music are rich in harmonics, a DTMF
  generator is not); and the two tones together must carry most of the window's energy
  (speech, music and noise spread theirs).
- The same key in consecutive windows spanning at least ``MIN_TONE_MS`` (40 ms) is one
  press; it is reported once and the detector waits for the tone to stop (a few windows
  with no key) before it takes another, so a long press is one key.
"""

from __future__ import annotations

import numpy as np

# How a call's keys arrive, decided once per call from the negotiated SDP (``mode_for``).
RFC2833 = "rfc2833"  # telephone-event packets (RFC 2833/4733)
INBAND = "inband"  # tones in the audio, found by ``DtmfDetector``

SAMPLE_RATE = 8000
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")

WINDOW = 205  # samples (25.6 ms)
HOP = 80  # samples (10 ms) between window starts
MIN_TONE_MS = 40.0
# Windows in a row that must see the same key: as many as lie wholly inside a tone of
# MIN_TONE_MS whatever its alignment to the 10 ms grid, so such a tone always counts.
HITS_FOR_KEY = (round(MIN_TONE_MS * SAMPLE_RATE / 1000) - WINDOW) // HOP + 1
# Windows in a row without the key before the next press counts (Q.24: pauses >= 40 ms).
MISSES_FOR_RELEASE = 2

# Levels in dBm0: a 0 dBm0 sine has this amplitude in 16-bit G.711 samples (G.711's
# full-scale sine is +3.17 dBm0).
DBM0_AMPLITUDE = 32124 * 10 ** (-3.17 / 20)
MIN_TONE_DBM0 = -36.0  # each of the two tones (Q.24 accepts down to about -25..-30 dBm0)
MAX_HIGH_OVER_LOW_DB = 4.0  # column tone louder than the row tone ("forward twist")
MAX_LOW_OVER_HIGH_DB = 8.0  # row tone louder than the column tone ("reverse twist")
MIN_PEAK_OVER_GROUP_DB = 8.0  # over the other tones of the same group
MIN_OVER_HARMONIC_DB = 8.0  # a tone over its own second harmonic
MIN_SHARE_OF_TOTAL = 0.7  # of the window's energy (after removing DC) in the two tones


def mode_for(event_pt: int | None) -> str:
    """A call with a negotiated telephone-event payload gets its keys as events; one
    without (a gateway that offered plain PCMU/PCMA) can only send them as tones."""
    return RFC2833 if event_pt is not None else INBAND


def _db(ratio_db: float) -> float:
    return float(10 ** (ratio_db / 10))


# Q.24: a tone up to 1.5 % off its nominal frequency is still that tone. A 205-sample
# bin is only 39 Hz wide (1.5 % of 1633 Hz is 24 Hz), so each tone is looked for at its
# nominal frequency and 1.5 % either side and the strongest of the three counts; 3.5 % off
# still falls outside all three.
FREQUENCY_TOLERANCE = 0.015
_TONES = np.array(ROWS + COLUMNS + tuple(2 * f for f in ROWS + COLUMNS))
_FREQS = np.concatenate([_TONES * (1 + d)
                         for d in (-FREQUENCY_TOLERANCE, 0.0, FREQUENCY_TOLERANCE)])
_N = np.arange(WINDOW)
# A Goertzel bin is the DFT at one (not necessarily integer) frequency; for a whole
# window it equals this dot product, which numpy does for all bins and several windows
# at once. Scaled so |bin|^2 is the tone's power (A^2 / 2) for a sine of amplitude A.
_BASIS = (np.exp(-2j * np.pi * np.outer(_N, _FREQS) / SAMPLE_RATE) * (np.sqrt(2) / WINDOW))
_MIN_POWER = (DBM0_AMPLITUDE * 10 ** (MIN_TONE_DBM0 / 20)) ** 2 / 2


def classify(windows: np.ndarray) -> list[str | None]:
    """The key each window (rows of ``WINDOW`` float samples) holds, or None."""
    x = windows - windows.mean(axis=1, keepdims=True)
    total = np.einsum("ij,ij->i", x, x) / WINDOW
    bins = (np.abs(x @ _BASIS) ** 2).reshape(len(x), 3, 2, 8)
    # Per tone: the best of its 3 bins, and its second harmonic at twice that bin's
    # frequency (at the other two, a harmonic bin can sit on a column tone: 2 x 697 Hz
    # less 1.5 % is 17 Hz from 1336 Hz plus 1.5 %).
    best = bins[:, :, 0, :].argmax(axis=1, keepdims=True)
    fundamental = np.take_along_axis(bins[:, :, 0, :], best, axis=1)[:, 0, :]
    harmonic = np.take_along_axis(bins[:, :, 1, :], best, axis=1)[:, 0, :]
    power = np.concatenate((fundamental, harmonic), axis=1)
    keys: list[str | None] = []
    for p, t in zip(power.tolist(), total.tolist(), strict=True):
        keys.append(_key_of(p, t))
    return keys


def _key_of(p: list[float], total: float) -> str | None:
    rows, cols = p[0:4], p[4:8]
    r = max(range(4), key=rows.__getitem__)
    c = max(range(4), key=cols.__getitem__)
    low, high = rows[r], cols[c]
    if low < _MIN_POWER or high < _MIN_POWER:
        return None
    if high > low * _db(MAX_HIGH_OVER_LOW_DB) or low > high * _db(MAX_LOW_OVER_HIGH_DB):
        return None
    peak = _db(MIN_PEAK_OVER_GROUP_DB)
    if any(v * peak > low for i, v in enumerate(rows) if i != r):
        return None
    if any(v * peak > high for i, v in enumerate(cols) if i != c):
        return None
    harmonic = _db(MIN_OVER_HARMONIC_DB)
    if p[8 + r] * harmonic > low or p[12 + c] * harmonic > high:
        return None
    if low + high < MIN_SHARE_OF_TOTAL * total:
        return None
    return KEYPAD[r][c]


class DtmfDetector:
    """Keys in a stream of 16-bit little-endian mono 8 kHz audio, each press once."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)
        self._candidate: str | None = None
        self._hits = 0
        self._reported: str | None = None  # key reported and not yet released
        self._misses = 0

    def feed(self, pcm16: bytes) -> list[str]:
        """Keys completed by this audio (usually none, at most one per press)."""
        samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2")
        buf = np.concatenate((self._pending, samples.astype(np.float64)))
        count = 0 if len(buf) < WINDOW else (len(buf) - WINDOW) // HOP + 1
        if count == 0:
            self._pending = buf
            return []
        windows = np.lib.stride_tricks.sliding_window_view(buf, WINDOW)[::HOP][:count]
        self._pending = buf[count * HOP:]
        found: list[str] = []
        for key in classify(windows):
            if self._step(key):
                assert key is not None
                found.append(key)
        return found

    def _step(self, key: str | None) -> bool:
        """One window's verdict; True when it completes a new press."""
        if self._reported is not None:
            if key == self._reported:
                self._misses = 0
                return False
            self._misses += 1
            if self._misses < MISSES_FOR_RELEASE:
                return False
            self._reported = None
        if key is None or key != self._candidate:
            self._candidate, self._hits = key, 1 if key is not None else 0
        else:
            self._hits += 1
        if key is not None and self._hits >= HITS_FOR_KEY:
            self._reported, self._misses = key, 0
            self._candidate, self._hits = None, 0
            return True
        return False


def detect(pcm16: bytes) -> str:
    """Every key in a stretch of audio, in order (a fresh detector)."""
    detector = DtmfDetector()
    return "".join(detector.feed(pcm16))
