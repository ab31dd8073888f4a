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
  within the twist limits of each other (Q.24: 4 and 8 dB), clear of the other tones of
  their group, nearer their nominal frequency than 3.5 % off (Q.24's non-operate figure),
  and well over their own second and third harmonics (speech and music are rich in
  harmonics, a keypad is not: Q.23 puts its unwanted components 20 dB down); and the two
  tones together must carry 80 % of the window's energy (speech, music and noise spread
  theirs). Two sines within tolerance are a key whatever played them (loose28).
- The same key in consecutive windows spanning at least ``MIN_TONE_MS`` (40 ms) is one
  press; it is reported once, and held (hysteresis: its two tones still the strongest, at
  a fair part of their level) until ``MISSES_FOR_RELEASE`` windows in a row no longer hold
  it; only then can the next press count. A long press is one key, a 10 ms break in it
  changes nothing, a 40 ms pause parts two presses.

Also the keypad's one table of RFC 4733 event codes (``EVENT_KEYS``), which the RTP
receiver's telephone-events and a SIP INFO's ``Signal=`` are both read by.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# How a call's keys arrive, decided once per call from the negotiated SDP (``mode_for``).
RFC2833 = "rfc2833"  # telephone-event packets (RFC 2833/4733)
INBAND = "inband"  # tones in the audio, found by ``DtmfDetector``

SAMPLE_RATE = 8000
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
# RFC 4733 3.2: the key of each telephone-event code (10 *, 11 #, 12-15 A-D). A SIP INFO
# names a key itself or by this code (Asterisk takes both): ``signalled_key``.
EVENT_KEYS = "0123456789*#ABCD"
_SIGNALS = {**{str(code): key for code, key in enumerate(EVENT_KEYS)},
            **{key: key for key in EVENT_KEYS}, **{key.lower(): key for key in "ABCD"}}

WINDOW = 205  # samples (25.6 ms)
HOP = 80  # samples (10 ms) between window starts
MIN_TONE_MS = 40.0
# Windows in a row that must see the same key: as many as lie wholly inside a tone of
# MIN_TONE_MS whatever its alignment to the 10 ms grid, so such a tone always counts.
HITS_FOR_KEY = (round(MIN_TONE_MS * SAMPLE_RATE / 1000) - WINDOW) // HOP + 1
# Windows in a row that no longer hold the key (see MIN_SHARE_TO_HOLD) before the next
# press counts. Q.24 wants a 40 ms pause to part two presses (at least 3 windows fail in
# one, whatever its alignment) and a break of up to 10 ms not to (at most 1 fails).
MISSES_FOR_RELEASE = 2

# Levels in dBm0: a 0 dBm0 sine has this amplitude in 16-bit G.711 samples (G.711's
# full-scale sine is +3.17 dBm0).
DBM0_AMPLITUDE = 32124 * 10 ** (-3.17 / 20)
MIN_TONE_DBM0 = -36.0  # each of the two tones (Q.24 accepts down to about -25..-30 dBm0)
MAX_HIGH_OVER_LOW_DB = 4.0  # column tone louder than the row tone ("forward twist")
MAX_LOW_OVER_HIGH_DB = 8.0  # row tone louder than the column tone ("reverse twist")
MIN_PEAK_OVER_GROUP_DB = 8.0  # over the other tones of the same group
MIN_OVER_HARMONIC_DB = 8.0  # a tone over its own second harmonic
# A tone over its own third harmonic, where it is in band. Q.23 puts a keypad's at 20 dB
# and more below; a square wave's is 9.5 dB below (loose28).
MIN_OVER_THIRD_HARMONIC_DB = 14.0
# Of the window's energy (after removing DC) in the two tones: the rest (speech, noise) at
# least 6 dB below them. A keypad's own unwanted components are 20 dB below (Q.23); a key
# with speech 10 dB under it still keeps 0.8 in most of its windows (the press needs two in
# a row). At 0.7, music whose notes lay 2-3.5 % off the keypad's tones (their power partly
# outside the bins) or FM tones with their energy spread over sidebands passed (judge27).
MIN_SHARE_OF_TOTAL = 0.8
# A key already reported is held (hysteresis) while its two tones are still the strongest,
# carry this share of the energy, and keep this fraction of the most power they had in the
# press: a window straddling a 10 ms break keeps at least 60 % of its samples of tone
# (about 37 % of the power, less where the break shifts the phase), the windows in a 40 ms
# pause far less.
MIN_SHARE_TO_HOLD = 0.25
MIN_POWER_TO_HOLD = 0.2


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
# Q.24 too: a tone 3.5 % or more off is no tone of the keypad. The bins at 1.5 % either side
# still take much of such a tone (F#5, 740 Hz, 3.9 % below 770 Hz, was heard as row 770 in
# judge27's music); its power at 3.5 % off is then higher than at 1.5 %, so the tone is
# refused when a bin this far off is stronger than the best of the three within tolerance:
# the line falls between the two figures, about 2.5 % off.
NON_OPERATE = 0.035
_TONES = np.array(ROWS + COLUMNS + tuple(2 * f for f in ROWS + COLUMNS))
_FREQS = np.concatenate(
    [_TONES * (1 + d) for d in (-FREQUENCY_TOLERANCE, 0.0, FREQUENCY_TOLERANCE)]
    + [np.array(ROWS + COLUMNS) * (1 + d) for d in (-NON_OPERATE, NON_OPERATE)]
    # Third harmonics (Q.23: a keypad's unwanted components lie 20 dB and more below its
    # tones): a square wave, all odd harmonics, has its third 9.5 dB below the note, and
    # square-wave chords on keypad notes passed the second-harmonic test (judge27). Those
    # above the 4 kHz band (1336 Hz and up) are not looked for: nothing is there.
    + [3 * np.array(ROWS + COLUMNS[:1]) * (1 + d)
       for d in (-FREQUENCY_TOLERANCE, 0.0, FREQUENCY_TOLERANCE)])
_N = np.arange(WINDOW)
# A Goertzel bin is the DFT at one (not necessarily integer) frequency; for a whole
# window it equals a dot product with a cosine and a sine, which numpy does for all bins
# and several windows at once (one matrix product, cosines then sines). Scaled so
# cos^2 + sin^2 is the tone's power (A^2 / 2) for a sine of amplitude A.
_PHASE = 2 * np.pi * np.outer(_N, _FREQS) / SAMPLE_RATE
_BASIS = np.hstack((np.cos(_PHASE), np.sin(_PHASE))) * (np.sqrt(2) / WINDOW)
# 3 offsets x (8 tones + 8 second harmonics), then the 8 tones 3.5 % below and above, then
# 3 offsets x the 5 third harmonics in band.
_BINS = len(_FREQS)
_OUTER = 48
_THIRD = 64
_MIN_POWER = (DBM0_AMPLITUDE * 10 ** (MIN_TONE_DBM0 / 20)) ** 2 / 2
_TWIST_HIGH = _db(MAX_HIGH_OVER_LOW_DB)
_TWIST_LOW = _db(MAX_LOW_OVER_HIGH_DB)
_PEAK = _db(MIN_PEAK_OVER_GROUP_DB)
_HARMONIC = _db(MIN_OVER_HARMONIC_DB)
_THIRD_HARMONIC = _db(MIN_OVER_THIRD_HARMONIC_DB)


class _Verdict(NamedTuple):
    key: str | None  # every test passed
    strongest: str | None  # the key of the strongest row and column tone, when together
    # they carry at least MIN_SHARE_TO_HOLD of the energy (enough to hold a press)
    power: float = 0.0  # of those two tones


_NOTHING = _Verdict(None, None)


def _verdicts(windows: np.ndarray) -> list[_Verdict]:
    """One verdict per window (rows of ``WINDOW`` float samples)."""
    mean = windows.sum(axis=1) / WINDOW
    # Energy without DC (a DC offset is no part of any tone; the bins, 17 bins and more
    # away from 0 Hz, do not see it either).
    total = ((windows * windows).sum(axis=1) / WINDOW - mean * mean).tolist()
    if max(total) < 2 * _MIN_POWER:
        return [_NOTHING] * len(total)  # too quiet for two tones: silence, most of a call
    y = windows @ _BASIS
    bins = (y[:, :_BINS] ** 2 + y[:, _BINS:] ** 2).tolist()
    return [_key_of(b, t) if t >= 2 * _MIN_POWER else _NOTHING
            for b, t in zip(bins, total, strict=True)]


def _key_of(bins: list[float], total: float) -> _Verdict:
    """``bins``: for each frequency offset (-1.5 %, 0, +1.5 %), 8 tones then their 8
    second harmonics. Cheapest tests first: most windows are speech and fail the first."""
    power = [max(a, b, c) for a, b, c in zip(bins[0:8], bins[16:24], bins[32:40],
                                               strict=True)]
    rows, cols = power[0:4], power[4:8]
    low, high = max(rows), max(cols)
    if low + high < MIN_SHARE_TO_HOLD * total:
        return _NOTHING
    r, c = rows.index(low), cols.index(high)
    held = _Verdict(None, KEYPAD[r][c], low + high)
    if low + high < MIN_SHARE_OF_TOTAL * total:
        return held
    if low < _MIN_POWER or high < _MIN_POWER:
        return held
    if high > low * _TWIST_HIGH or low > high * _TWIST_LOW:
        return held
    if any(v * _PEAK > low for i, v in enumerate(rows) if i != r):
        return held
    if any(v * _PEAK > high for i, v in enumerate(cols) if i != c):
        return held
    # Each tone's second harmonic at twice the frequency of its best bin (at the other
    # two, a harmonic bin can sit on a column tone: 2 x 697 Hz less 1.5 % is 17 Hz from
    # 1336 Hz plus 1.5 %).
    for tone, level in ((r, low), (4 + c, high)):
        at = max((tone, 16 + tone, 32 + tone), key=bins.__getitem__)
        if bins[at + 8] * _HARMONIC > level:
            return held
        # Q.24's non-operate figure: more of the tone 3.5 % off than within tolerance.
        if max(bins[_OUTER + tone], bins[_OUTER + 8 + tone]) > level:
            return held
        # The third harmonic at three times the frequency of the tone's best bin.
        if tone < 5 and bins[_THIRD + 5 * (at // 16) + tone] * _THIRD_HARMONIC > level:
            return held
    return _Verdict(KEYPAD[r][c], KEYPAD[r][c], low + high)


_INDEX = np.arange(WINDOW)[None, :] + HOP * np.arange(4)[:, None]


def _window_index(count: int) -> np.ndarray:
    """Sample indices of ``count`` windows HOP apart (one fancy index, no Python loop)."""
    if count <= len(_INDEX):
        return _INDEX[:count]
    return np.arange(WINDOW)[None, :] + HOP * np.arange(count)[:, None]


class DtmfDetector:
    """Keys in a stream of 16-bit little-endian mono 8 kHz audio, each press once."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)
        self._candidate: str | None = None
        self._hits = 0
        self._reported: str | None = None  # key reported and not yet released
        self._reported_power = 0.0
        self._misses = 0

    def feed(self, pcm16: bytes) -> list[str]:
        """Keys completed by this audio (usually none, at most one per press)."""
        samples = np.frombuffer(pcm16[: len(pcm16) // 2 * 2], dtype="<i2")
        buf = np.concatenate((self._pending, samples.astype(np.float64)))
        count = 0 if len(buf) < WINDOW else (len(buf) - WINDOW) // HOP + 1
        if count == 0:
            self._pending = buf
            return []
        windows = buf[_window_index(count)]
        self._pending = buf[count * HOP:]
        found: list[str] = []
        for verdict in _verdicts(windows):
            if self._step(verdict):
                assert verdict.key is not None
                found.append(verdict.key)
        return found

    def _step(self, verdict: _Verdict) -> bool:
        """One window's verdict; True when it completes a new press."""
        key = verdict.key
        if self._reported is not None:
            # Hysteresis: a press goes on while its two tones still dominate at most of
            # their level, even in a window the full tests would refuse (one straddling a
            # short break).
            if (verdict.strongest == self._reported
                    and verdict.power >= MIN_POWER_TO_HOLD * self._reported_power):
                self._misses = 0
                self._reported_power = max(self._reported_power, verdict.power)
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
            self._reported, self._reported_power, self._misses = key, verdict.power, 0
            self._candidate, self._hits = None, 0
            return True
        return False


def detect(pcm16: bytes) -> str:
    """Every key in a stretch of audio, in order (a fresh detector)."""
    detector = DtmfDetector()
    return "".join(detector.feed(pcm16))


def signalled_key(signal: str) -> str | None:
    """The one key a SIP INFO's ``Signal=`` (or an application/dtmf body) names: the key
    itself (a letter key in either case) or its event code; None for anything else ("123"
    is three keys no gateway sends in one INFO, not a key)."""
    return _SIGNALS.get(signal)
