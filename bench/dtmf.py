"""In-band DTMF bench: CPU per 20 ms frame, keys found at each level and signal-to-noise
ratio, and false keys in speech and noise.

    .venv/bin/python bench/dtmf.py [--minutes 2]

Speech is espeak-ng (Mandarin, Cantonese, English, Korean voices) through sox to 8 kHz
and μ-law; noise is sox's white/pink/brown noise; keys are numpy tone pairs through μ-law.
Figures are for this machine; the tests (tests/telephony/test_dtmf.py) assert behaviour.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.wer import edit_distance
from telephony.media import dtmf, g711
from tests.support.callers import espeak_pcm16
from tests.support.dtmf_tones import dialled

KEYS = "0123456789*#"
TEXT = ("您好，这里是一二三四五市民服务热线，请在提示音后说出您的诉求，说完请按井号键。"
        "按零转人工服务，按一查询您的工单办理情况。我家楼下的路灯坏了，已经三天了。")


def line(pcm: bytes) -> bytes:
    return g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm))


def speech(voice: str, seconds: float, tmp: Path) -> bytes:
    one = espeak_pcm16(TEXT, tmp / voice, voice=voice)
    return (one * (int(seconds * 16000 / len(one)) + 1))[: int(seconds * 16000)]


def noise(kind: str, seconds: float, tmp: Path) -> bytes:
    out = tmp / f"{kind}.raw"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                    "-t", "raw", str(out), "synth", str(seconds), kind, "vol", "0.5"],
                   check=True)
    return out.read_bytes()


def score(pcm: bytes, sent: str) -> str:
    """Per press (each 140 ms stretch of ``dialled`` audio, a fresh detector): heard
    right, missed, or heard as another key or more than once; and the edit distance of
    the whole stream as one detector heard it."""
    step = 2 * round(dtmf.SAMPLE_RATE * 0.14)
    right = missed = wrong = 0
    for i, key in enumerate(sent):
        heard = dtmf.detect(pcm[i * step:(i + 1) * step])
        right += heard == key
        missed += heard == ""
        wrong += heard not in ("", key)
    distance = edit_distance(sent, dtmf.detect(pcm))
    return f"{right} right, {missed} missed, {wrong} wrong; stream edit distance {distance}"


def per_frame_us(pcm: bytes) -> float:
    detector = dtmf.DtmfDetector()
    frames = [pcm[i:i + 320] for i in range(0, len(pcm) - 319, 320)]
    start = time.perf_counter()
    for f in frames:
        detector.feed(f)
    return (time.perf_counter() - start) / len(frames) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=2.0,
                        help="speech and noise per source for the false-key count")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        sources = {v: line(speech(v, seconds, tmp)) for v in ("cmn", "yue", "en", "ko")}
        sources |= {k: line(noise(k, seconds, tmp))
                    for k in ("whitenoise", "pinknoise", "brownnoise")}

    print("false keys (μ-law), source: minutes, keys")
    for name, pcm in sources.items():
        print(f"  {name}: {len(pcm) / 16000 / 60:.1f} min, {dtmf.detect(pcm)!r}")

    keys = line(dialled(KEYS * 10))
    silence = b"\x00" * 16000 * 10
    print("CPU per 20 ms frame (one detector, this machine)")
    for name, pcm in (("speech cmn", sources["cmn"][:16000 * 30]), ("keys", keys),
                      ("silence", silence)):
        us = per_frame_us(pcm)
        print(f"  {name}: {us:.0f} µs per frame = {us / 20000 * 100:.2f} % of a core per call")

    print("120 keys (70 ms on, 70 ms off) through μ-law, by level per tone")
    for dbm0 in (-3, -10, -20, -30, -33, -35, -36, -37):
        print(f"  {dbm0} dBm0: {score(line(dialled(KEYS * 10, dbm0=dbm0)), KEYS * 10)}")

    print("120 keys through μ-law, -20 dBm0 per tone, by white-noise level")
    rng = np.random.default_rng(1)
    clean = np.frombuffer(dialled(KEYS * 10, dbm0=-20), dtype="<i2").astype(float)
    a = dtmf.DBM0_AMPLITUDE * 10 ** (-20 / 20)  # each tone's amplitude
    for snr_db in (20, 10, 6, 4, 3, 2):
        # Two tones of amplitude a carry a^2 of power; the noise sigma^2.
        sigma = a / 10 ** (snr_db / 20)
        noisy = clean + rng.normal(0, sigma, len(clean))
        pcm = np.clip(np.round(noisy), -32768, 32767).astype("<i2").tobytes()
        print(f"  SNR {snr_db} dB (both tones vs noise): {score(line(pcm), KEYS * 10)}")


if __name__ == "__main__":
    main()
