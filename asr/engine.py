"""One Vosk model per process, shared by every call; decoding bounded by the core count.

Vosk's Model is read-only after loading and safe to share between threads; a
KaldiRecognizer is not (vosk-api #606, #1651: "share the model, create a recognizer per
thread"), so each call/stream owns its recognizer and uses it from one thread at a time.

cffi releases the GIL while Vosk decodes, so Python threads decode truly in parallel.
That is also the danger: 20 calls pushing audio from 20 threads would run 20 decoders on
2 cores and all fall behind together. Every AcceptWaveform therefore runs under
`decode_slot()`, a semaphore sized from the cores (settings.asr.workers, 0 = all cores);
`executor` is a pool of the same size for callers (asyncio) that must not block.

A recognizer is costly to start: the small models decode through a lookahead composition
of their graphs (HCLr.fst with Gr.fst) that each recognizer builds lazily and caches for
itself, so a new one pays for that cache on every call (measured: ~4x the decoder CPU per
second of a short call, docs/asr.md). A finished stream therefore hands its recognizer
back, cleared, and the next stream with the same rate and grammar takes it (`lend`).
A process that has just started has none to hand out, so `warm_up` builds some in the
background and decodes speech through each before the calls need them.

When the slots are short, who decodes next matters: a call whose turn has ended has a
caller (or a ticket) waiting for its final words, while a caller still talking will not
need them for seconds. The semaphore therefore hands a freed slot to the most urgent
waiter (`DecodePriority`), first come first served within a priority.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Hashable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.model_store import DecoderOptions, load_model

if TYPE_CHECKING:
    import vosk

    from asr.stream import StreamingTranscriber

log = logging.getLogger("hotline.asr.engine")

# Audio fed to a recognizer per push while warming up.
WARM_UP_PUSH_SECONDS = 0.2
# The warm-up thread runs under SCHED_IDLE (Linux), so it takes only the CPU the live
# decoders (ivr.audio.ASR_NICE, 10) and the RTP threads (0) leave; where that is refused,
# at this nice. At nice 19 alone it still took ~0.3 of a core from a surge's decoders.
WARM_UP_NICE = 19


class DecodePriority(IntEnum):
    """Lower is served first when decoding slots are short."""

    TURN_ENDED = 0  # someone waits for this stream's final transcript
    LIVE = 1  # the caller is still talking: the words are not needed yet
    BACKLOG = 2  # a recording (asr.batch): nobody is on the line
    # Filling a new recognizer's cache for calls still to come (warm_up): decoded outside
    # the slots, by a thread at the lowest CPU priority (decode_slot).
    WARM_UP = 3


class PrioritySlots:
    """A counting semaphore whose waiters get a freed slot by priority, then by how long
    their stream has been waiting (``since``), then arrival.

    A released slot is handed to the chosen waiter directly (never put back for anyone to
    grab), so a steady stream of LIVE pushes cannot overtake a waiting TURN_ENDED one.
    ``since`` puts the oldest stream of a rank first, push after push: the turn that ended
    first (its transcript wait runs out first) is decoded to its end before the next one,
    where arrival order alone served every waiting turn a push in turn and, when slots were
    short, let every turn's wait run out (docs/asr.md, "Hang-up -> dispatched ticket, step
    by step"). Without it a waiter ranks by the time it arrived.
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._free = slots
        self._mutex = threading.Lock()
        self._waiters: list[tuple[int, float, int, threading.Lock]] = []
        self._arrival = itertools.count()

    def acquire(self, priority: int = DecodePriority.LIVE, since: float | None = None) -> None:
        """``since``: a ``time.monotonic()`` stamp; the earlier, the sooner served."""
        with self._mutex:
            if self._free and not self._waiters:
                self._free -= 1
                return
            # A lock taken here and released by whoever hands us the slot: the cheapest
            # one-shot wake-up for exactly this thread.
            baton = threading.Lock()
            baton.acquire()
            heapq.heappush(self._waiters, (int(priority),
                                           time.monotonic() if since is None else since,
                                           next(self._arrival), baton))
        baton.acquire()

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                heapq.heappop(self._waiters)[-1].release()
            elif self._free < self.slots:
                self._free += 1
            else:
                raise ValueError("released more slots than were acquired")

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.contextmanager
    def hold(self, priority: int = DecodePriority.LIVE,
             since: float | None = None) -> Iterator[None]:
        self.acquire(priority, since)
        try:
            yield
        finally:
            self.release()


@dataclass(frozen=True)
class Grammar:
    """A phrase list as Vosk will see it, with what had to be dropped."""

    phrases: tuple[str, ...]
    missing_words: tuple[str, ...]  # not in the model's vocabulary: Vosk would ignore them

    def to_json(self) -> str:
        return json.dumps(list(self.phrases), ensure_ascii=False)


@dataclass
class WarmUp:
    """A background warm-up of recognizers (`AsrEngine.warm_up`); its figures are for logs
    and bench/ivr.py."""

    count: int
    clip_seconds: float
    done: threading.Event = field(default_factory=threading.Event)
    warmed: int = 0  # handed to the idle recognizers so far
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # the warm-up thread's own, decoding included
    error: BaseException | None = None

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)


class AsrEngine:
    def __init__(
        self,
        model: vosk.Model | Path | str,
        *,
        workers: int = 0,
        low_confidence: float = 0.6,
        decoder: DecoderOptions | None = None,
        idle_recognizers: int = 32,
    ) -> None:
        # `decoder` applies when the model is loaded here; a loaded Model keeps its own.
        self.model = (
            model if _is_vosk_model(model) else load_model(model, decoder)  # type: ignore[arg-type]
        )
        self.model_path = None if _is_vosk_model(model) else Path(model)  # type: ignore[arg-type]
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.low_confidence = low_confidence
        self._slots = PrioritySlots(self.workers)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()
        # Finished streams' recognizers by (rate, grammar), at most idle_recognizers in all.
        self.idle_recognizers = idle_recognizers
        # With each, the samples it has been fed (Vosk's word times count from its
        # creation) and whether it is cleared (`give_back`).
        self._idle: dict[Hashable, list[tuple[vosk.KaldiRecognizer, int, bool]]] = {}
        self._idle_count = 0
        self._idle_lock = threading.Lock()
        # Set by close: a warm-up still running stops at its next push (a stopped service,
        # or a test's, must not keep building recognizers nobody will lend).
        self._closing = threading.Event()

    @classmethod
    def from_settings(cls, settings: Any = None) -> AsrEngine:
        if settings is None:
            from config import get_settings

            settings = get_settings()
        asr = settings.asr
        return cls(
            Path(asr.model_dir) / asr.model_name,
            workers=asr.workers,
            low_confidence=asr.low_confidence,
            decoder=DecoderOptions.from_settings(asr),
            idle_recognizers=asr.idle_recognizers,
        )

    # ------------------------------------------------------------------ concurrency
    def decode_slot(
        self, priority: int = DecodePriority.LIVE, since: float | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Hold one of `workers` decoding slots (blocks while all are busy; the most urgent
        waiter gets the next free one). WARM_UP takes none: its thread runs at the lowest
        CPU priority, and a slot held by a thread the kernel starves (a busy node) would
        keep a live call waiting for it (with slots and nice 0, calls at 1/s fell 2.6 s
        behind, docs/asr.md)."""
        if priority >= DecodePriority.WARM_UP:
            return contextlib.nullcontext()
        return self._slots.hold(priority, since)

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="asr")
            return self._executor

    def close(self) -> None:
        self._closing.set()
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    # ------------------------------------------------------------------ recognizers
    def grammar(self, phrases: Iterable[str] | str) -> Grammar:
        """Filter a phrase list down to words the model knows.

        Vosk logs a warning per unknown word and silently drops it (vosk-api #1314); a
        phrase that loses words then matches something else. We drop the whole phrase
        instead and report the words, so the caller can fix its list.
        """
        if isinstance(phrases, str):
            phrases = [p for p in (s.strip() for s in phrases.split(",")) if p]
        kept: list[str] = []
        missing: list[str] = []
        for phrase in phrases:
            words = phrase.split()
            unknown = [w for w in words if self.model.vosk_model_find_word(w) < 0]
            if unknown:
                missing.extend(w for w in unknown if w not in missing)
            elif words:
                kept.append(" ".join(words))
        # "[unk]" lets out-of-list speech come out as [unk] instead of being forced onto
        # the nearest phrase -- but only models trained with it have the word.
        if self.model.vosk_model_find_word("[unk]") >= 0:
            kept.append("[unk]")
        return Grammar(tuple(kept), tuple(missing))

    def _checked_grammar(self, grammar: Grammar | Sequence[str] | str | None) -> Grammar | None:
        if grammar is not None and not isinstance(grammar, Grammar):
            grammar = self.grammar(grammar)
        if grammar is not None and not grammar.phrases:
            raise ValueError(
                f"no phrase of the grammar is in the model's vocabulary "
                f"(unknown words: {', '.join(grammar.missing_words)})"
            )
        return grammar

    def lend(
        self, sample_rate: int, grammar: Grammar | Sequence[str] | str | None = None
    ) -> tuple[vosk.KaldiRecognizer, Hashable, int, bool]:
        """A recognizer for one stream, the key to hand it back under (`give_back`), the
        samples it was fed before (Vosk's word times count from there) and whether it is
        cleared: an idle one for the same rate and grammar when there is one (a cleared one
        first), else a new one. One not cleared still holds its last stream's features; the
        stream clears it under its own decoding slot before its first audio."""
        grammar = self._checked_grammar(grammar)
        key = (float(sample_rate), None if grammar is None else grammar.to_json())
        with self._idle_lock:
            idle = self._idle.get(key)
            if idle:
                self._idle_count -= 1
                at = next((i for i in range(len(idle) - 1, -1, -1) if idle[i][2]), -1)
                rec, fed, cleared = idle.pop(at)
                return rec, key, fed, cleared
        return self.recognizer(sample_rate, grammar), key, 0, True

    def give_back(self, rec: vosk.KaldiRecognizer, key: Hashable, fed_samples: int,
                  cleared: bool = True) -> None:
        """Keep a finished stream's recognizer for the next stream. ``cleared``: its last
        call was FinalResult (no features or decoder state left); a stream nobody waits
        for hands it back as it is, and whoever takes it next pays the clearing, at its
        own priority (a FinalResult nobody reads must not go ahead of anyone's decoding).
        ``fed_samples``: all it was ever fed."""
        with self._idle_lock:
            if self._idle_count < self.idle_recognizers:
                self._idle.setdefault(key, []).append((rec, fed_samples, cleared))
                self._idle_count += 1

    def warm_up(
        self,
        count: int,
        clip: bytes,
        *,
        sample_rate: int = 8000,
        grammar: Grammar | Sequence[str] | str | None = None,
    ) -> WarmUp:
        """Build ``count`` recognizers for (``sample_rate``, ``grammar``) in a background
        thread, decode ``clip`` (16-bit mono speech at ``sample_rate``) through each so its
        graph cache fills, and hand each to the idle ones as soon as it is warm.

        Calls go on meanwhile: the warm-up takes no decoding slot and its thread runs
        under SCHED_IDLE, so it decodes on the CPU the calls leave; a call that comes
        before a recognizer is warm makes its own, as without the warm-up."""
        if count < 0:
            raise ValueError("count must not be negative")
        if count and len(clip) < 2 * sample_rate // 10:
            raise ValueError("the warm-up clip must hold at least 0.1 s of audio")
        grammar = self._checked_grammar(grammar)  # a bad grammar fails here, not in the thread
        job = WarmUp(count, len(clip) / 2 / sample_rate)
        thread = threading.Thread(target=self._warm_up, args=(job, clip, sample_rate, grammar),
                                  name="asr-warm-up", daemon=True)
        thread.start()
        return job

    def _warm_up(self, job: WarmUp, clip: bytes, sample_rate: int,
                 grammar: Grammar | None) -> None:
        # Linux scheduling is per thread (native id); lowering it needs no privilege.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_UP_NICE)
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))
        began, cpu = time.monotonic(), time.thread_time()
        step = int(sample_rate * WARM_UP_PUSH_SECONDS) * 2
        try:
            # All lent before any is handed back: each is a different recognizer (a call
            # that finished meanwhile may hand one in; warming it again does no harm).
            streams = [self.stream(sample_rate, grammar, vad=False, partial_interval=None)
                       for _ in range(job.count)]
            for stream in streams:
                # A close meanwhile builds no more: each costs ~0.1 CPU-s, and a service
                # stopping at start-up would build the whole count for nobody.
                if self._warm_up_stopped(job):
                    return
                stream.priority = DecodePriority.WARM_UP
                stream.take_recognizer()  # now: a stream takes one at its first audio
            for stream in streams:
                for offset in range(0, len(clip), step):
                    if self._warm_up_stopped(job):
                        return
                    stream.push(clip[offset : offset + step])
                stream.discard()  # cleared and handed to the idle ones: nobody wants its words
                job.warmed += 1
        except Exception as exc:  # a failed warm-up leaves the calls to warm them, as before
            job.error = exc
            log.exception("recognizer warm-up stopped after %d of %d", job.warmed, job.count)
        finally:
            job.wall_seconds = time.monotonic() - began
            job.cpu_seconds = time.thread_time() - cpu
            job.done.set()
        if job.error is None:
            log.info("%d recognizers warmed in %.1f s (%.1f CPU s, %.1f s of audio each)",
                     job.warmed, job.wall_seconds, job.cpu_seconds, job.clip_seconds)

    def _warm_up_stopped(self, job: WarmUp) -> bool:
        if not self._closing.is_set():
            return False
        log.info("recognizer warm-up stopped by close after %d of %d", job.warmed, job.count)
        return True

    def recognizer(
        self, sample_rate: int, grammar: Grammar | Sequence[str] | str | None = None
    ) -> vosk.KaldiRecognizer:
        """A new recognizer. Kaldi resamples internally to the model rate (conf/mfcc.conf
        allows up/down-sampling), so 8 kHz phone audio goes in as is."""
        import vosk

        grammar = self._checked_grammar(grammar)
        if grammar is None:
            rec = vosk.KaldiRecognizer(self.model, float(sample_rate))
        else:
            rec = vosk.KaldiRecognizer(self.model, float(sample_rate), grammar.to_json())
        rec.SetWords(True)
        rec.SetPartialWords(False)
        return rec

    def stream(
        self,
        sample_rate: int = 8000,
        grammar: Grammar | Sequence[str] | str | None = None,
        **options: Any,
    ) -> StreamingTranscriber:
        from asr.stream import StreamingTranscriber

        return StreamingTranscriber(self, sample_rate=sample_rate, grammar=grammar, **options)


def _is_vosk_model(obj: object) -> bool:
    return type(obj).__name__ == "Model" and hasattr(obj, "vosk_model_find_word")
