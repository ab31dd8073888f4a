"""The caller's audio during one call: recording, speech detection, live transcription.

Three jobs, two threads per call, so none can hold up another:

- the *pump* thread reads every 20 ms frame the adapter delivers, appends it to the
  recording at once (``CallRecorder``: a crash loses at most a second of it), runs the
  energy gate that tells the dialogue whether the caller is speaking, forwards the frame to
  an operator leg when one is bridged, and queues it for the recognizer;
- the *ASR* thread feeds the queue to a ``StreamingTranscriber``. Decoding is the slow part
  (a Vosk stream costs ~0.2 of a core on continuous speech, and ``AsrEngine`` bounds the
  decoders to the core count), so on a busy node it lags; the recording and the turn
  signals never do, because they are on the pump thread. When it lags, it takes all the
  frames queued for the turn (up to ``MAX_PUSH_SECONDS``) in one push: one decoding slot
  and one ``AcceptWaveform`` for the lot instead of one per 20 ms frame, each of which
  cost a hand-over of the slot and the GIL twice (docs/asr.md, "Hang-up -> ticket").

A *turn* is one answer to a prompt ("say your complaint"). Each turn gets a fresh
transcriber; ``finish_turn`` waits (bounded) for the recognizer to catch up with the audio
queued so far and returns the turn's transcript. Any exception from the recognizer (Vosk
aborts, a model pulled from under it) switches live ASR off for the rest of the call: the
call goes on, and the ticket's words come from the transcription backlog later.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asr.cleanup import normalize
from asr.engine import DecodePriority
from asr.recording import CallRecorder, Recording
from asr.vad import EnergyGate, fax_tone, frame_rms

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from asr.engine import AsrEngine
    from asr.stream import StreamingTranscriber, Transcript
    from telephony.call import CallHandle

log = logging.getLogger("hotline.ivr.audio")

FRAME_SECONDS = 0.02
# A cough or a click opens the gate for a frame or two; a complaint is longer than this.
MIN_SPEECH_SECONDS = 0.3
ASR_NICE = 10
# Most audio a recognizer that is behind takes in one push. Pushes up to 400 ms measured
# the same accuracy as 20 ms ones (docs/asr.md, "Live calls under load"); a push holds
# its slot, so a turn waited for queues at most this much decoding behind it.
MAX_PUSH_SECONDS = 0.4


def enough_speech(frames: int) -> bool:
    """Whether ``frames`` 20 ms frames the energy gate passed as speech are the caller
    speaking (not a cough or a click): the one rule of a live call's turns
    (``CallAudio.speech_started``) and of a recording read after a crash (:func:`holds_speech`)."""
    return frames * FRAME_SECONDS >= MIN_SPEECH_SECONDS


def _heard(pcm16: bytes, frame_bytes: int = 320) -> tuple[bool, bool]:
    """(speech, fax tones) in a recording, by the gate a live call listens with."""
    gate, frames = EnergyGate(), 0
    for start in range(0, len(pcm16) - frame_bytes + 1, frame_bytes):
        if gate.process(pcm16[start:start + frame_bytes]).speech:
            frames += 1
            if enough_speech(frames):
                return True, enough_speech(gate.fax_frames)
    return False, enough_speech(gate.fax_frames)


def holds_speech(pcm16: bytes, frame_bytes: int = 320) -> bool:
    """Whether a call's recording (16-bit PCM, 8 kHz) holds the caller speaking, by the
    energy gate a live call listens with: a call cut by the death of its process is
    settled from its recording alone, and its silence, or the line's noise, is no
    complaint there either."""
    return _heard(pcm16, frame_bytes)[0]


# Below this a 20 ms frame is the line's idle (mu-law idle is ~0-20 RMS): speech however
# quiet, -60 dBFS (RMS 33) and up, is above it.
LINE_IDLE_RMS = 25.0


def fax_only(pcm16: bytes, frame_bytes: int = 320) -> bool:
    """Whether a recording is a fax machine's tones and no speech (``CallAudio.fax_heard``
    on a live call): the Twilio carrier's recording is judged by it (loose28). Any sound
    beside the tones' bursts, as long as speech would be (``enough_speech``), keeps it a
    complaint however quiet: speech below the gate's floor (-53 dBFS and under) with a
    fax's CNG was dropped as a fax, where without the tone it was a ticket (review62; a
    complaint is never lost, one more manual-queue ticket is the lesser harm)."""
    speech, fax = _heard(pcm16, frame_bytes)
    if speech or not fax:
        return False
    sound = 0
    for start in range(0, len(pcm16) - frame_bytes + 1, frame_bytes):
        frame = pcm16[start:start + frame_bytes]
        if frame_rms(frame) > LINE_IDLE_RMS and not fax_tone(frame):
            sound += 1
            if enough_speech(sound):
                return False
    return True


@dataclass(frozen=True)
class TurnResult:
    transcript: Transcript | None  # None: no live ASR for this turn (see error)
    error: str | None = None  # why there is no transcript (no model, ASR failed, too slow)


class CallAudio:
    def __init__(self, call: CallHandle, *, recording_path: Path, engine: AsrEngine | None,
                 phrase_list: Sequence[str] = (), sample_rate: int = 8000) -> None:
        self.call = call
        self.engine = engine
        self.phrase_list = list(phrase_list)
        self.sample_rate = sample_rate
        # A recording that cannot be kept (its volume full or failing) never ends the call:
        # the dialogue, the live words and the keys go on without it. It was the call's
        # end: hung up at the answer, or deaf from the first write that failed, the
        # complaint lost (fault trial, fifteenth round, docs/scaling.md).
        self.recorder: CallRecorder | None = None
        self._recording_stopped = False
        # (seconds kept, why) once the recording failed: the ticket says so, since what the
        # caller said after it is in no file (twenty-fourth round: a full disk cut a
        # complaint at 8.7 s of 32 and the ticket read as if the whole was kept).
        self.recording_failure: tuple[float, str] | None = None
        try:
            self.recorder = CallRecorder(recording_path, sample_rate=sample_rate)
        except OSError as exc:
            self.recording_failure = (0.0, exc.strerror or str(exc))
            log.error("call %s: no recording (%s); the call goes on without one",
                      call.call_id, exc)
        self.asr_error: str | None = None if engine is not None else "no speech model installed"
        # Set by the dialogue: called with each caller frame (operator bridge).
        self.forward: Callable[[bytes], None] | None = None
        # Set by the dialogue while a prompt may be cut short by the caller speaking.
        self.barge_in_armed = False
        self._gate = EnergyGate()
        self._lock = threading.Lock()
        self._frames = 0  # frames received since answer (the call's audio clock)
        self._turn = 0
        self._turn_active = False
        self._waited_turn = 0  # the turn whose final words someone waits for (hurry)
        self._waited_since = 0.0  # since when (monotonic): the oldest wait is served first
        self._given_up = 0  # the last turn whose words nobody waits for any more
        # A turn ``close_turn`` ended, its decoding queued, its words not yet collected by
        # ``finish_turn``: (turn, future, asr error).
        self._closed: tuple[int, Future[Transcript], str | None] | None = None
        self._stream: StreamingTranscriber | None = None  # the ASR thread's, for _give_up
        self._turn_started_frame = 0
        self._speech_frames = 0  # in the current turn
        self._last_speech_frame: int | None = None
        self.spoke = False  # some turn of this call had speech
        self._q: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._pump = threading.Thread(target=self._run_pump, daemon=True,
                                      name=f"ivr-pump-{call.call_id[:10]}")
        self._asr = threading.Thread(target=self._run_asr, daemon=True,
                                     name=f"ivr-asr-{call.call_id[:10]}")
        self._recording: Recording | None = None
        self._closing = False

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._pump.start()
        if self.engine is not None:
            self._asr.start()

    def close(self, timeout: float = 5.0) -> Recording | None:
        """After the call has ended: drain, stop the threads, close the recording (None:
        none could be made)."""
        self._pump.join(timeout)
        # Whatever the recognizer still has queued is no longer wanted (the dialogue took
        # its transcript, or gave up waiting for it): skip it rather than burn a decoding
        # slot other calls need, and do not wait for it. Not even briefly: a recognizer
        # that is behind is inside a push, and a join here held every hang-up's ticket
        # for its whole timeout (bench/ivr.py, docs/asr.md). The thread ends at the None.
        self._closing = True
        self._give_up(self._turn)
        self._q.put(None)
        if self._recording is None and self.recorder is not None:
            self._recording = self.recorder.close()
        return self._recording

    def wait_drained(self, timeout: float = 3.0) -> None:
        """Once the call has ended: wait until every received frame was recorded/queued."""
        self._pump.join(timeout)

    @property
    def path(self) -> Path | None:
        return self.recorder.path if self.recorder is not None else None

    # ---------------------------------------------------------------- turns
    def begin_turn(self) -> None:
        """Start listening for a new answer: fresh speech flags and a fresh recognizer."""
        with self._lock:
            self._turn += 1
            self._turn_active = True
            self._closed = None  # (a closed turn's words nobody collected are not this one's)
            self._turn_started_frame = self._frames
            self._speech_frames = 0
            self._last_speech_frame = None
            if self.asr_error is None:
                self._q.put(("begin", self._turn))

    def catch_up(self, timeout: float) -> None:
        """Wait (up to ``timeout`` s) until the pump has taken in every frame the call had
        received when this was called. A key reaches the dialogue at once while the frames
        before it go through the pump, which on a busy node lags (seconds, bench/scale.py):
        whether the caller spoke before a # is known only once those are counted."""
        mark = self.call.audio_received
        deadline = time.monotonic() + timeout
        while self._frames < mark and self._pump.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    @property
    def speech_started(self) -> bool:
        return enough_speech(self._speech_frames)

    @property
    def fax_heard(self) -> bool:
        """Whether the line sent a fax machine's tones (``asr.vad.fax_tone``) this call, as
        long as speech must last to count (``enough_speech``)."""
        return enough_speech(self._gate.fax_frames)

    @property
    def silence_after_speech(self) -> float:
        last = self._last_speech_frame
        if last is None or not self.speech_started:
            return 0.0
        return (self._frames - last) * FRAME_SECONDS

    @property
    def listening(self) -> bool:
        """A turn is open (begun and not yet finished)."""
        return self._turn_active

    def drop_turn(self) -> None:
        """End a turn in which nothing was said; its recognizer is discarded unread."""
        with self._lock:
            self._turn_active = False
            if self.asr_error is None:
                self._q.put(("drop", self._turn))

    def hurry(self) -> None:
        """Someone now waits for this turn's words (the caller for the read-back, or the
        ticket after a hang-up): its decoding goes ahead of calls still talking, and of
        turns that ended later."""
        with self._lock:
            self._wait_for(self._turn)

    def _wait_for(self, turn: int) -> None:
        """Someone waits for ``turn``'s words from now on (once). Under ``_lock``."""
        if self._waited_turn != turn:
            self._waited_turn, self._waited_since = turn, time.monotonic()

    def close_turn(self) -> None:
        """End the turn now and queue its decoding, at the rank of a turn someone waits
        for, without waiting for it: ``finish_turn`` collects the words. Our stop closes the
        turn before its notice plays, so the notice overlaps the decoding and the caller's
        reply to it is no part of their complaint (review64)."""
        with self._lock:
            self._turn_active = False
            turn = self._turn
            self._wait_for(turn)  # before the finish is queued: it is decoded at that rank
            error = self.asr_error
            future: Future[Transcript] = Future()
            if error is None:
                self._q.put(("finish", turn, future))
            self._closed = (turn, future, error)

    @property
    def closed_turn(self) -> bool:
        """A turn ``close_turn`` ended whose words ``finish_turn`` has not collected."""
        return self._closed is not None

    def finish_turn(self, timeout: float) -> TurnResult:
        """The turn's transcript (closing it first, unless ``close_turn`` did); waits up to
        ``timeout`` s for the recognizer to catch up."""
        if self._closed is None:
            self.close_turn()
        assert self._closed is not None
        (turn, future, error), self._closed = self._closed, None
        if error is not None:
            return TurnResult(None, error)
        try:
            return TurnResult(future.result(timeout=timeout))
        except FutureTimeout:
            self._give_up(turn)
            log.warning("call %s: live transcript not ready after %.1f s; the backlog will "
                        "transcribe the recording", self.call.call_id, timeout)
            return TurnResult(None, f"live transcription more than {timeout:g} s behind")
        except Exception as exc:  # the ASR thread recorded why
            return TurnResult(None, self.asr_error or repr(exc))

    def _give_up(self, turn: int) -> None:
        """Nobody will read the words of ``turn`` or any before it (the wait timed out, the
        call is over): the ASR thread decodes none of their audio, nor the FinalResult of
        their finish, and a push of theirs waiting for a slot decodes nothing once it gets
        one. Finished anyway, at the ended turn's top priority, a surge's timed-out calls
        held every slot for minutes after the calls while the backlog waited (docs/asr.md,
        "The wait before the drain")."""
        with self._lock:
            self._given_up = max(self._given_up, turn)
            stream = self._stream
        if stream is not None:
            stream.abandon()

    def _wanted(self, turn: int) -> bool:
        return not self._closing and turn > self._given_up

    # ---------------------------------------------------------------- threads
    def _run_pump(self) -> None:
        call = self.call
        try:
            while True:
                frame = call.read_pcm16(timeout=0.2)
                if frame is None:
                    if call.ended:
                        return
                    continue
                self._on_frame(frame)
        except Exception:
            log.exception("call %s: audio pump failed", call.call_id)

    def _on_frame(self, frame: bytes) -> None:
        self._record(frame)
        forward = self.forward
        if forward is not None:
            try:
                forward(frame)
            except Exception:
                log.exception("call %s: forwarding audio failed", self.call.call_id)
        decision = self._gate.process(frame)
        with self._lock:
            self._frames += 1
            if not self._turn_active:
                return
            if decision.speech:
                self._speech_frames += 1
                self._last_speech_frame = self._frames
                if not self.spoke and self.speech_started:
                    self.spoke = True
            if self.asr_error is None:
                self._q.put(("frame", self._turn, frame))
        if decision.speech and self.barge_in_armed and self.speech_started:
            self.barge_in_armed = False
            self.call.stop_playback()  # the caller talks over the prompt: let them

    def _record(self, frame: bytes) -> None:
        if self.recorder is None or self._recording_stopped:
            return
        try:
            self.recorder.write(frame)
        except OSError as exc:
            # Kept as far as written (the header is rewritten at close).
            self._recording_stopped = True
            self.recording_failure = (self.recorder.duration_seconds, exc.strerror or str(exc))
            log.error("call %s: recording stopped after %.1f s (%s); the call goes on",
                      self.call.call_id, self.recorder.duration_seconds, exc)

    def _run_asr(self) -> None:
        assert self.engine is not None
        # Decoding may use every core; the RTP send threads must not wait behind it or
        # callers hear gaps. Linux nice is per thread (native id), and raising it needs no
        # privilege: the decoder yields the CPU to the prompt pacing, never the reverse.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ASR_NICE)
        stream: StreamingTranscriber | None = None
        turn = 0
        carried: list[tuple[Any, ...] | None] = []  # taken from the queue, not yet handled
        while True:
            item = carried.pop() if carried else self._q.get()
            if item is None:
                if stream is not None:  # its recognizer serves the next call
                    self._discard(stream)
                return
            kind = item[0]
            try:
                if kind == "begin":
                    turn = item[1]
                    if stream is not None:  # the last turn's, never finished
                        self._discard(stream)
                    # No partial results: the call flow waits for the final transcript,
                    # and asking Vosk for a partial every 0.2 s cost about a sixth of
                    # the decoder's CPU (bench/asr_sweep.py).
                    stream = self.engine.stream(
                        sample_rate=self.sample_rate, grammar=self.phrase_list or None,
                        postprocess=normalize, partial_interval=None)
                    with self._lock:
                        self._stream = stream
                    if not self._wanted(turn):  # given up before its stream was made
                        stream.abandon()
                elif kind == "frame":
                    if stream is not None and item[1] == turn and self._wanted(turn):
                        self._rank(stream, turn)
                        stream.push(self._queued_audio(item, carried))
                elif kind == "drop":
                    if item[1] == turn and stream is not None:
                        self._discard(stream)
                        stream = None
                elif kind == "finish":
                    future: Future[Transcript] = item[2]
                    if stream is None or item[1] != turn:
                        future.set_exception(RuntimeError("no recognizer for this turn"))
                        continue
                    if not self._wanted(turn):  # the wait timed out: nobody reads the words
                        future.set_exception(RuntimeError("nobody waits for these words"))
                        self._discard(stream)
                        stream = None
                        continue
                    self._rank(stream, turn)
                    future.set_result(stream.finish())
                    stream = None
            except Exception as exc:
                # Vosk/Kaldi errors surface as bare Exceptions from cffi; whatever it is,
                # this call continues without live ASR.
                log.exception("call %s: live ASR failed; continuing without it",
                              self.call.call_id)
                with self._lock:
                    self.asr_error = f"live ASR failed: {exc!r}"[:300]
                if kind == "finish":
                    item[2].set_exception(exc)
                self._fail_pending(carried)
                return

    def _rank(self, stream: StreamingTranscriber, turn: int) -> None:
        """Read per push: the dialogue raises it (hurry, finish_turn) from its thread."""
        with self._lock:
            waited, since = self._waited_turn == turn, self._waited_since
        if waited:
            stream.priority, stream.since = DecodePriority.TURN_ENDED, since
        else:
            stream.priority = DecodePriority.LIVE

    def _discard(self, stream: StreamingTranscriber) -> None:
        # Abandoned: its recognizer is cleared by the next stream that takes it, at that
        # stream's priority, not here at this one's for words nobody reads.
        stream.abandon()
        try:
            stream.discard()
        except Exception:  # the call goes on (or is over) either way; nothing is lost
            log.exception("call %s: handing back a recognizer failed", self.call.call_id)

    def _queued_audio(self, item: tuple[Any, ...],
                      carried: list[tuple[Any, ...] | None]) -> bytes:
        """``item``'s frame and the frames of the same turn queued behind it, up to
        MAX_PUSH_SECONDS; the first other item is put in ``carried`` to handle next."""
        frames = [item[2]]
        while len(frames) * FRAME_SECONDS < MAX_PUSH_SECONDS:
            try:
                nxt = self._q.get_nowait()
            except queue.Empty:
                break
            if nxt is None or nxt[0] != "frame" or nxt[1] != item[1]:
                carried.append(nxt)
                break
            frames.append(nxt[2])
        return b"".join(frames)

    def _fail_pending(self, carried: list[tuple[Any, ...] | None]) -> None:
        """After an ASR failure: answer any finish request still queued (or taken from
        the queue and not yet handled)."""
        while True:
            try:
                item = carried.pop() if carried else self._q.get_nowait()
            except queue.Empty:
                return
            if item is not None and item[0] == "finish":
                item[2].set_exception(RuntimeError(self.asr_error or "ASR failed"))
