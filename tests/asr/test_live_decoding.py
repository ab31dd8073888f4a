"""Live decoding under load: who gets a decoding slot first, and pushes of any size.

The slot tests are socket- and model-free (threads and the semaphore only); the chunking
test runs the real Vosk model on espeak-ng phone speech (asr tier).
"""

from __future__ import annotations

import threading

import pytest

from asr.engine import AsrEngine, DecodePriority, PrioritySlots
from asr.wer import edit_distance
from ivr.audio import MAX_PUSH_SECONDS

SECOND = 8000 * 2  # bytes of 16-bit mono 8 kHz


def _queue_waiters(slots: PrioritySlots, priorities: list[DecodePriority]) -> tuple[
        list[str], list[threading.Thread]]:
    """Start one thread per priority, each waiting for a slot in turn (arrival order is
    the list order); each records its name once served and gives the slot back."""
    served: list[str] = []
    threads = []
    for i, priority in enumerate(priorities):
        name = f"{priority.name}-{i}"

        def wait(priority: DecodePriority = priority, name: str = name) -> None:
            with slots.hold(priority):
                served.append(name)

        t = threading.Thread(target=wait, name=name)
        t.start()
        threads.append(t)
        # Queued before the next one arrives: arrival order is part of the rule.
        while slots.waiting < i + 1:
            threading.Event().wait(0.001)
    return served, threads


def test_a_freed_slot_goes_to_a_stream_whose_turn_has_ended_first() -> None:
    slots = PrioritySlots(1)
    slots.acquire()  # every slot busy: everyone below has to queue
    live, ended = DecodePriority.LIVE, DecodePriority.TURN_ENDED
    served, threads = _queue_waiters(slots, [live, live, ended, live, ended])
    slots.release()
    for t in threads:
        t.join(10)
    assert served == ["TURN_ENDED-2", "TURN_ENDED-4", "LIVE-0", "LIVE-1", "LIVE-3"]
    assert slots.waiting == 0


def test_free_slots_are_taken_without_queueing_and_bound_the_decoders() -> None:
    slots = PrioritySlots(2)
    slots.acquire(DecodePriority.LIVE)
    slots.acquire(DecodePriority.LIVE)
    served, threads = _queue_waiters(slots, [DecodePriority.TURN_ENDED])
    assert served == [] and slots.waiting == 1  # a third decoder waits, whatever its rank
    slots.release()
    threads[0].join(10)
    assert served == ["TURN_ENDED-0"]
    slots.release()
    # Both slots free again: two holders at once, no waiting.
    slots.acquire()
    slots.acquire()
    assert slots.waiting == 0
    slots.release()
    slots.release()


def test_slots_refuse_misuse() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PrioritySlots(0)
    slots = PrioritySlots(1)
    with pytest.raises(ValueError, match="more slots than were acquired"):
        slots.release()
    with slots.hold():
        pass
    with pytest.raises(ValueError):
        slots.release()


def test_a_finishing_stream_decodes_before_a_talking_one(vosk_model: object,
                                                         phone_speech: dict[str, bytes]) -> None:
    """Real streams on a one-slot engine: the slot is busy when a caller still talking
    pushes audio and then another stream is finished (someone waits for its words); the
    finish is served first although it came second."""
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    talking = engine.stream(sample_rate=8000, partial_interval=None)
    finishing = engine.stream(sample_rate=8000, partial_interval=None)
    finishing.push(phone_speech["가스 냄새가 납니다"])  # speech, no trailing silence: still open
    long_speech = b"".join(phone_speech[s] for s in ("물이 나오지 않습니다", "집에 물이 샙니다",
                                                      "아파트 전기 고장 났어요"))
    done: list[str] = []
    busy = engine.decode_slot()
    busy.__enter__()
    threads = [threading.Thread(target=lambda: (talking.push(long_speech), done.append("talking"))),
               threading.Thread(target=lambda: (finishing.finish(), done.append("finishing")))]
    for i, t in enumerate(threads):
        t.start()
        while engine._slots.waiting < i + 1:  # queued in this order
            threading.Event().wait(0.001)
    busy.__exit__(None, None, None)
    for t in threads:
        # A bound against a hang, not a speed limit: with the other decoding groups and
        # real calls on two shared cores, decoding these ~7 s of speech once took over 30 s.
        t.join(300)
    assert not any(t.is_alive() for t in threads)
    assert done == ["finishing", "talking"]
    assert finishing.finished and finishing.finish().text
    assert talking.finish().text


def _decode_all(engine: AsrEngine, audios: list[bytes], push_ms: int) -> list[str]:
    texts = []
    for audio in audios:
        stream = engine.stream(sample_rate=8000, partial_interval=None)
        step = SECOND * push_ms // 1000
        for offset in range(0, len(audio), step):
            stream.push(audio[offset : offset + step])
        texts.append(stream.finish().text)
    return texts


def test_larger_pushes_keep_the_words(vosk_model_without_dither: object,
                                      phone_speech: dict[str, bytes]) -> None:
    """Pushing up to 400 ms per AcceptWaveform instead of 20 ms, as the IVR's recognizer
    does when it has fallen behind (ivr.audio.MAX_PUSH_SECONDS). With dither 0
    decoding depends on the audio only (test_decoder_options.py), so what differs is the
    push size's doing. 40 ms gave the 20 ms words in the runs measured; larger pushes not:
    Vosk weighs the speaker statistics by its running best path (silence weighting),
    which it updates once per AcceptWaveform, so a few words change (measured: 1-4 of the
    12 sentences at 100-400 ms on the model's own beams, 1 at 200 and 400 ms on the
    shipped ones this test decodes with) -- no sentence is lost, and the error rate stays
    put. The CPU it saves on one stream was within run-to-run noise (docs/asr.md); what it
    saves is the slot and GIL hand-overs of a recognizer catching up, so the IVR pushes
    20 ms while it keeps up and everything queued (up to the cap) once it is behind."""
    engine = AsrEngine(vosk_model_without_dither, workers=1)  # type: ignore[arg-type]
    sentences = list(phone_speech)
    audios = [bytes(SECOND // 2) + phone_speech[s] + bytes(SECOND) for s in sentences]
    try:
        by_push = {ms: _decode_all(engine, audios, ms)
                   for ms in (20, 40, 200, round(MAX_PUSH_SECONDS * 1000))}
    finally:
        engine.close()

    def cer(texts: list[str]) -> float:
        edits = sum(edit_distance(list(ref.replace(" ", "")), list(hyp.replace(" ", "")))
                    for ref, hyp in zip(sentences, texts, strict=True))
        return edits / sum(len(ref.replace(" ", "")) for ref in sentences)

    for ms, texts in by_push.items():
        assert all(texts), (ms, texts)  # every sentence still heard
        # ~100 characters: five of them may come out otherwise (a changed word is 2-3),
        # not a sentence's worth.
        assert cer(texts) <= cer(by_push[20]) + 0.05, (ms, texts, by_push[20])


def test_within_a_rank_the_stream_waiting_longest_is_served_first() -> None:
    """Turns that ended at 10, 20 and 30 s (``since``) queue their pushes in another order:
    the freed slots go to the oldest wait, push after push, so the turn whose transcript
    wait runs out first is decoded first instead of every turn getting a push in turn."""
    slots = PrioritySlots(1)
    slots.acquire()
    served: list[str] = []
    threads = []
    ended = DecodePriority.TURN_ENDED
    order = [("ended-30s", ended, 30.0), ("live-0s", DecodePriority.LIVE, 0.0),
             ("ended-10s", ended, 10.0), ("ended-20s", ended, 20.0)]
    for i, (name, priority, since) in enumerate(order):
        def wait(name: str = name, priority: DecodePriority = priority,
                 since: float = since) -> None:
            with slots.hold(priority, since):
                served.append(name)

        t = threading.Thread(target=wait)
        t.start()
        threads.append(t)
        while slots.waiting < i + 1:
            threading.Event().wait(0.001)
    slots.release()
    for t in threads:
        t.join(10)
    # The rank still comes first: a live push waits behind every ended turn however old.
    assert served == ["ended-10s", "ended-20s", "ended-30s", "live-0s"]


def test_without_a_stamp_waiters_are_served_in_arrival_order() -> None:
    slots = PrioritySlots(1)
    slots.acquire()
    served, threads = _queue_waiters(slots, [DecodePriority.LIVE] * 3)
    slots.release()
    for t in threads:
        t.join(10)
    assert served == ["LIVE-0", "LIVE-1", "LIVE-2"]


def test_the_older_turn_decodes_first_on_real_streams(vosk_model: object,
                                                      phone_speech: dict[str, bytes]) -> None:
    """Two turns have ended, the slot is busy; the younger turn's push queues first. The
    older one (its ``since`` earlier: the IVR sets it when the turn ended) gets the slot."""
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    older = engine.stream(sample_rate=8000, partial_interval=None)
    younger = engine.stream(sample_rate=8000, partial_interval=None)
    for stream, since in ((older, 1.0), (younger, 2.0)):
        stream.priority, stream.since = DecodePriority.TURN_ENDED, since
    speech = phone_speech["가스 냄새가 납니다"]
    done: list[str] = []  # who decoded, in order: noted under the slot
    for stream, name in ((older, "older"), (younger, "younger")):
        def noted(chunk: bytes, events: list[object], accept=stream._accept,
                  name: str = name) -> None:
            done.append(name)
            accept(chunk, events)

        stream._accept = noted  # type: ignore[method-assign]
    busy = engine.decode_slot()
    busy.__enter__()
    threads = [threading.Thread(target=younger.push, args=(speech,)),
               threading.Thread(target=older.push, args=(speech,))]
    for i, t in enumerate(threads):
        t.start()
        while engine._slots.waiting < i + 1:
            threading.Event().wait(0.001)
    busy.__exit__(None, None, None)
    for t in threads:
        t.join(300)  # a bound against a hang on two shared cores, not a speed limit
    assert done == ["older", "younger"]
    assert older.finish().text and younger.finish().text


def test_a_stream_takes_a_recognizer_only_once_it_decodes(vosk_model: object,
                                                         phone_speech: dict[str, bytes]) -> None:
    """A call on the line whose caller has not spoken (the greeting playing, silence the
    gate keeps from the decoder) holds no recognizer: streams made for ten such calls leave
    the one idle (warm) recognizer to the first stream that has speech to decode, which
    hands it back for the next when it finishes."""
    engine = AsrEngine(vosk_model, workers=1)  # type: ignore[arg-type]
    first = engine.stream(sample_rate=8000, partial_interval=None)
    first.push(phone_speech["물이 나오지 않습니다"])
    assert first.finish().text
    (warm,) = [rec for recs in engine._idle.values() for rec, _, _ in recs]
    waiting = [engine.stream(sample_rate=8000, partial_interval=None) for _ in range(10)]
    for stream in waiting:
        stream.push(bytes(SECOND))  # silence: gated, nothing decoded
    assert engine._idle_count == 1  # none was taken
    talking = waiting[-1]
    talking.push(phone_speech["가스 냄새가 납니다"])
    assert talking._rec is warm and engine._idle_count == 0
    assert talking.finish().words  # its words (free-form Korean: which ones varies)
    for stream in waiting[:-1]:
        assert not stream.finish().text  # nothing said, nothing to give back
    assert engine._idle_count == 1
    (back,) = [rec for recs in engine._idle.values() for rec, _, _ in recs]
    assert back is warm
