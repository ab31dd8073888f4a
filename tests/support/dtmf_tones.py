"""Key presses as a phone without telephone-event sends them: two sines in the audio
(ITU-T Q.23 frequencies), at a level in dBm0, for the in-band DTMF tests."""

from __future__ import annotations

import numpy as np

from telephony.media import dtmf


def amplitude(dbm0: float) -> float:
    return dtmf.DBM0_AMPLITUDE * 10 ** (dbm0 / 20)


def pair(key: str) -> tuple[float, float]:
    """(row, column) frequencies of a key."""
    row = next(i for i, keys in enumerate(dtmf.KEYPAD) if key in keys)
    return dtmf.ROWS[row], dtmf.COLUMNS[dtmf.KEYPAD[row].index(key)]


def tone(key: str, ms: float, *, dbm0: float = -10.0, twist_db: float = 0.0,
         deviation: float = 0.0) -> np.ndarray:
    """The row tone at ``dbm0``, the column tone ``twist_db`` louder, both ``deviation``
    (a fraction) off their nominal frequency."""
    low, high = pair(key)
    t = np.arange(round(dtmf.SAMPLE_RATE * ms / 1000)) / dtmf.SAMPLE_RATE
    a = amplitude(dbm0)
    return (a * np.sin(2 * np.pi * low * (1 + deviation) * t)
            + a * 10 ** (twist_db / 20) * np.sin(2 * np.pi * high * (1 + deviation) * t + 1))


def silence(ms: float) -> np.ndarray:
    return np.zeros(round(dtmf.SAMPLE_RATE * ms / 1000))


def pcm16(x: np.ndarray) -> bytes:
    return np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()


def dialled(keys: str, *, on_ms: float = 70, off_ms: float = 70, **kw: float) -> bytes:
    """16-bit PCM of ``keys`` dialled: each ``on_ms`` of tone then ``off_ms`` of silence
    (a phone's 70/70 ms by default), and 100 ms of silence at the end."""
    return pcm16(np.concatenate([np.concatenate((tone(k, on_ms, **kw), silence(off_ms)))
                                 for k in keys] + [silence(100)]))
