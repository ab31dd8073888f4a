"""Streaming transcription of one call: push 16-bit PCM frames, read events.

    t = engine.stream(sample_rate=8000, grammar=None)
    for event in t.push(pcm16):          # any length; 20 ms frames are typical
        ...                              # SpeechStarted / Partial / UtteranceEnd
    if t.speech_started and t.silence_after_speech_seconds > 3.0:
        result = t.finish()              # Transcript(text, words, low_confidence)

Audio passes the energy gate (asr.vad) before Vosk sees it: silence costs no decoding.
When the gate closes after an utterance the recognizer is finalised, which is the
utterance endpoint; Vosk's own endpointer (trailing-silence rules in conf/model.conf)
can end one earlier. Word times are reported on the stream's clock (seconds since the
first pushed sample), not on the decoder's, which never saw the skipped silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asr import telemetry
from asr.engine import DecodePriority
from asr.vad import EnergyGate

if TYPE_CHECKING:
    from asr.engine import AsrEngine, Grammar


@dataclass(frozen=True)
class Word:
    text: str
    conf: float
    start: float  # seconds on the stream clock
    end: float


@dataclass(frozen=True)
class Transcript:
    text: str
    words: list[Word] = field(default_factory=list)
    low_confidence: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.text


@dataclass(frozen=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True)
class Partial:
    text: str


@dataclass(frozen=True)
class UtteranceEnd:
    at: float
    transcript: Transcript


Event = SpeechStarted | Partial | UtteranceEnd


class StreamingTranscriber:
    """One call's recognizer. Not thread-safe for concurrent pushes by design: a call's
    audio is ordered, so pushes are serialised by a lock (and the recognizer, which Vosk
    does not allow to be shared, is only touched under it)."""

    def __init__(
        self,
        engine: AsrEngine,
        *,
        sample_rate: int = 8000,
        grammar: Grammar | Sequence[str] | str | None = None,
        frame_ms: int = 20,
        vad: bool = True,
        gate: EnergyGate | None = None,
        partial_interval: float | None = 0.2,
        postprocess: Callable[[str], str] | None = None,
    ) -> None:
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        self.engine = engine
        self.sample_rate = sample_rate
        self.frame_bytes = sample_rate * frame_ms // 1000 * 2
        self.gate: EnergyGate | None = None
        if vad:
            self.gate = gate if gate is not None else EnergyGate(frame_ms=frame_ms,
                                                                  sample_rate=sample_rate)
        self.partial_interval = partial_interval
        self.postprocess = postprocess
        # A bad grammar fails here, not at the first audio.
        self._grammar = engine._checked_grammar(grammar)
        # The recognizer is taken at the first audio to decode, under its decoding slot
        # (take_recognizer), not here: a call holds one only once its caller's speech is
        # being decoded, so a node uses as many as it decodes at once, not one per call on
        # the line, and when slots are short the streams served first (the oldest turns)
        # get the recognizers the last ones warmed (docs/asr.md, "Hang-up -> dispatched
        # ticket, step by step").
        self._rec: Any = None
        self._rec_key: Hashable = None
        # A recognizer used before counts its word times from its first stream's start.
        self._rec_base = 0
        self._rec_cleared = True  # no audio since its last FinalResult: fit to lend again
        # Handed back uncleared by a stream nobody waited for: cleared before our first audio.
        self._rec_stale = False
        # Set by abandon(): nobody will read this stream's words.
        self._abandoned = False
        self._lock = threading.Lock()
        self._pending = b""  # bytes short of a whole frame
        self._stream_samples = 0  # everything pushed
        self._fed_samples = 0  # what the decoder has seen
        # (decoder sample, stream sample) at each point the decoder resumed after a skip;
        # pruned as utterances end, so a 2-hour call keeps a handful.
        self._segments: list[tuple[int, int]] = [(0, 0)]
        self._utterance_open = False
        self._last_partial = ""
        self._last_partial_at = 0
        self._utterances: list[Transcript] = []
        self._last_speech_sample: int | None = None
        self.decoded_seconds = 0.0
        self.finished = False
        # Who decodes first when the engine's slots are short; the owner raises it to
        # DecodePriority.TURN_ENDED once someone waits for this stream's final words.
        self.priority: int = DecodePriority.LIVE
        # Among streams of one priority, the one waiting longest is served first
        # (asr.engine.PrioritySlots): its start, until its owner moves it to when its turn
        # ended (someone has waited for the words since then).
        self.since = time.monotonic()

    # ------------------------------------------------------------------ turn signals
    @property
    def stream_seconds(self) -> float:
        return self._stream_samples / self.sample_rate

    @property
    def speech_started(self) -> bool:
        """Some speech has been heard since the stream began (or since reset_turn)."""
        return self._last_speech_sample is not None

    @property
    def silence_after_speech_seconds(self) -> float:
        """Seconds since the last speech frame; 0.0 while speaking or before any speech."""
        if self._last_speech_sample is None:
            return 0.0
        return (self._stream_samples - self._last_speech_sample) / self.sample_rate

    def reset_turn(self) -> None:
        """Forget that speech was heard (the IVR starts a new question)."""
        self._last_speech_sample = None

    # ------------------------------------------------------------------ audio in
    def push(self, pcm16: bytes) -> list[Event]:
        """Feed little-endian 16-bit mono PCM at `sample_rate`; returns new events."""
        if self.finished:
            raise RuntimeError("push() after finish()")
        with self._lock:
            data = self._pending + pcm16 if self._pending else pcm16
            whole = len(data) - len(data) % self.frame_bytes
            self._pending = data[whole:]
            events: list[Event] = []
            batch: list[bytes] = []
            for offset in range(0, whole, self.frame_bytes):
                frame = data[offset : offset + self.frame_bytes]
                self._stream_samples += len(frame) // 2
                if self.gate is None:
                    self._note_speech(True)
                    batch.append(frame)
                    continue
                decision = self.gate.process(frame)
                self._note_speech(decision.speech)
                if decision.opened:
                    preroll_samples = sum(len(f) for f in decision.frames) // 2
                    start = self._stream_samples - preroll_samples
                    self._segments.append((self._fed_samples, start))
                    events.append(SpeechStarted(start / self.sample_rate))
                batch.extend(decision.frames)
                if decision.closed:
                    self._end_utterance(events, b"".join(batch))
                    batch = []
            if batch:
                self._decode(b"".join(batch), events)
            return events

    async def push_async(self, pcm16: bytes) -> list[Event]:
        """push() on the engine's bounded pool, for asyncio callers."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.engine.executor, self.push, pcm16)

    @property
    def fed_seconds(self) -> float:
        """Seconds of audio the decoder has been given (the gate keeps the rest from it)."""
        return self._fed_samples / self.sample_rate

    def finish(self) -> Transcript:
        """End of call: flush, return everything said (all utterances, joined)."""
        if self.priority == DecodePriority.LIVE:  # a live caller's words: someone waits
            self.priority = DecodePriority.TURN_ENDED
        with self._lock:
            if not self.finished:
                events: list[Event] = []
                # Less than a frame: the gate never judged it, so only an open utterance
                # takes it.
                self._end_utterance(events, self._pending if self._utterance_open else b"")
                self._pending = b""
                self.finished = True
                self._give_back()
                telemetry.stream_finished(self._stream_samples / self.sample_rate,
                                          self._fed_samples / self.sample_rate,
                                          self.decoded_seconds)
            return _join(self._utterances, self.postprocess)

    def take_recognizer(self) -> None:
        """Take this stream's recognizer now if it has none (an idle one, else a new one).
        Decoding does it by itself; the warm-up does it first for each of its streams, so
        that each warms a different one."""
        if self._rec is None:
            self._rec, self._rec_key, self._rec_base, cleared = self.engine.lend(
                self.sample_rate, self._grammar)
            self._rec_cleared = cleared
            self._rec_stale = not cleared

    def abandon(self) -> None:
        """Nobody will read this stream's words (the wait for them timed out, the call is
        over). Safe from any thread: a push waiting for its decoding slot decodes nothing
        once it gets it, and the recognizer goes back uncleared (`discard`, `finish`): the
        next stream to take it clears it at its own priority. Clearing costs a FinalResult
        -- most of a second of CPU on a recognizer that is still cold -- and done here,
        at the ended turn's priority, the FinalResults of a surge's timed-out calls held
        the slots for minutes after the calls while the backlog waited (docs/asr.md)."""
        self._abandoned = True

    def discard(self) -> None:
        """Nobody wants this stream's words any more (the turn was dropped, the call is
        over): end it and hand its recognizer back for the next stream, cleared (unless
        abandoned). On a node that is behind, a recognizer not handed back would make the
        next call start a new one, whose cost puts it further behind."""
        with self._lock:
            if not self.finished:
                self.finished = True
                self._pending = b""
                self._give_back()

    @property
    def utterances(self) -> list[Transcript]:
        return list(self._utterances)

    # ------------------------------------------------------------------ internals
    def _note_speech(self, speech: bool) -> None:
        if speech:
            self._last_speech_sample = self._stream_samples

    def _give_back(self) -> None:
        """Hand the recognizer back to the engine for the next stream, cleared (unless
        abandoned: then as it is, for the next stream to clear). After Vosk's endpointer
        (Result) it still holds this caller's features and i-vector, which a FinalResult
        drops. One this stream took uncleared and never fed goes back as it came: nobody
        need pay for clearing it before someone takes it. A stream that never decoded
        took none."""
        if self._rec is None:
            return
        if not self._rec_cleared and not self._rec_stale:
            with self._slot() as ours:
                if ours:
                    self._clear()
        # Another stream may now take it: this one never touches it again (finished).
        self.engine.give_back(self._rec, self._rec_key, self._rec_base + self._fed_samples,
                              self._rec_cleared)

    def _clear(self) -> None:
        """Drop the recognizer's features and decoder state (FinalResult; a frame of
        silence first, as FinalResult only runs on audio it has not ended). The caller
        holds a decoding slot."""
        self._rec.AcceptWaveform(bytes(self.frame_bytes))
        self._rec.FinalResult()
        self._rec_base += self.frame_bytes // 2
        self._rec_cleared = True
        self._rec_stale = False

    def _decode(self, chunk: bytes, events: list[Event]) -> None:
        if not chunk:
            return
        with self._slot() as ours:
            if ours:
                self._accept(chunk, events)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[bool]:
        """A decoding slot at this stream's priority; yields whether to decode: False once
        the stream is abandoned, looked at again when the slot is ours (a push may have
        waited long for it, and the call ended meanwhile)."""
        if self._abandoned:
            yield False
            return
        with self.engine.decode_slot(self.priority, self.since):
            yield not self._abandoned

    def _accept(self, chunk: bytes, events: list[Event]) -> None:
        """One AcceptWaveform; the caller holds a decoding slot."""
        self.take_recognizer()
        if self._rec_stale:
            self._clear()
        self._utterance_open = True
        self._rec_cleared = False
        began = time.perf_counter()
        endpoint = self._rec.AcceptWaveform(chunk)
        self._fed_samples += len(chunk) // 2
        if endpoint:
            result = self._rec.Result()
        elif self.partial_interval is not None and (
            self._fed_samples - self._last_partial_at
        ) >= self.partial_interval * self.sample_rate:
            self._last_partial_at = self._fed_samples
            partial = json.loads(self._rec.PartialResult()).get("partial", "")
            if partial and partial != self._last_partial:
                self._last_partial = partial
                events.append(Partial(partial))
        self.decoded_seconds += time.perf_counter() - began
        if endpoint:
            self._emit_final(result, events)

    def _end_utterance(self, events: list[Event], tail: bytes = b"") -> None:
        """Decode ``tail`` and take the final result under one slot: a finish waited for
        must not queue twice behind other streams (DecodePriority)."""
        if not self._utterance_open and not tail:
            return
        with self._slot() as ours:
            if not ours:
                return
            if tail:
                self._accept(tail, events)
            if not self._utterance_open:  # Vosk's endpointer ended it on the tail
                return
            result = self._rec.FinalResult()
            self._rec_cleared = True
        self._emit_final(result, events)

    def _emit_final(self, raw: str, events: list[Event]) -> None:
        self._utterance_open = False
        self._last_partial = ""
        parsed = json.loads(raw)
        words = [
            Word(
                w["word"],
                float(w.get("conf", 1.0)),
                self._to_stream(w["start"]),
                self._to_stream(w["end"]),
            )
            for w in parsed.get("result", [])
            if w.get("word") and w["word"] != "[unk]"
        ]
        # Keep only the latest resume point: older ones map audio already reported.
        self._segments = self._segments[-1:]
        if not words:
            return
        text = " ".join(w.text for w in words)
        low = [w.text for w in words if w.conf < self.engine.low_confidence]
        transcript = Transcript(text, words, low)
        self._utterances.append(transcript)
        events.append(UtteranceEnd(words[-1].end, transcript))

    def _to_stream(self, fed_seconds: float) -> float:
        fed = round(fed_seconds * self.sample_rate) - self._rec_base
        base_fed, base_stream = self._segments[0]
        for seg_fed, seg_stream in self._segments:
            if seg_fed <= fed:
                base_fed, base_stream = seg_fed, seg_stream
        return round((base_stream + fed - base_fed) / self.sample_rate, 3)


def _join(utterances: list[Transcript], postprocess: Callable[[str], str] | None) -> Transcript:
    words = [w for u in utterances for w in u.words]
    low = [w for u in utterances for w in u.low_confidence]
    text = " ".join(u.text for u in utterances)
    if postprocess is not None:
        text = postprocess(text)
    return Transcript(text, words, low)
