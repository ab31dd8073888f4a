"""What `hotline serve` runs besides the API, wired in one place: the speech model (one per
process), the SIP IVR, the outbound worker with its dialer, and every scheduled job.

    background = start_background(settings, sessions, domain)   # the app's lifespan
    ...
    background.stop()

Jobs run by APScheduler with an in-memory store; their state lives in our own tables
(``hotline.scheduler`` has the ticket jobs):

    voice                  30 s   start the IVR if it is down, settle spooled calls, and
                                  start draining the transcription backlog (the one job
                                  that retries it) on a thread of its own, until it is empty
    escalate-utilities     30 s   utilities and urgent tickets waiting in the manual queue
    archive-unsurveyable   1 h    closed tickets whose citizen cannot be surveyed
    recordings-retention   24 h   only when recordings_retention_days > 0
    outbound               outbound.poll_seconds, only when outbound.enabled
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from asr.backlog import BacklogRun, Transcribe, run_backlog
from asr.batch import transcribe_clean
from asr.engine import AsrEngine, WarmUp
from asr.readiness import WARM_UP, WarmStatus, warm_status
from config import Settings
from hotline.roles import Part
from hotline.scheduler import (
    MonthlyReportRun,
    OutageQuiet,
    archive_job,
    escalate_utilities_job,
    idempotency_keys_job,
    retention_job,
)
from ivr.audio import ASR_NICE
from ivr.intake import recover_spool
from ivr.prompts import PromptLibrary
from ivr.runtime import IvrRuntime, load_engine, spool_for, start_ivr
from knowledge import search as kb_search
from outbound.dialers import Dialer, SipDialer, TwilioDialer
from outbound.prompts import PromptLibrary as OutboundPrompts
from outbound.sms import make_sms
from outbound.worker import OutboundWorker
from telephony.media.prompts import PromptError
from telephony.media.wav import PHONE_RATE
from telephony.sip.floodguard import untrusted_direct_warning
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.ledger import ledger_dir
from ticketing.context import Domain
from ticketing.phones import call_number

log = logging.getLogger("hotline.wiring")

VOICE_TICK_SECONDS = 30
# Recordings claimed per run_backlog call while draining. The drain goes on at once while
# a batch comes back full (after a surge the cores are free: a tick's wait would only idle
# them); the stop flag is looked at before each recording.
BACKLOG_BATCH = 20
# How long stopping the service waits for the recording being transcribed; past that its
# lease hands the job to the next worker (nothing lost, nothing applied twice).
BACKLOG_STOP_WAIT = 5.0
# What warms the recognizers at start-up: the first seconds of the greeting, the one speech
# in the callers' language a fresh node has (recorded or espeak-ng). Speech fills a new
# recognizer's cache far better than silence or noise, any speech nearly as well as the
# caller's own; past ~8 s it gains little (docs/asr.md, "Warm-up at start-up").
WARM_UP_PROMPT = "greeting"
WARM_UP_SECONDS = 8.0


def warm_up_recognizers(engine: AsrEngine, settings: Settings,
                        prompts: PromptLibrary) -> WarmUp | None:
    """Start warming ``settings.asr.warm_recognizers`` recognizers for the IVR's calls
    (phone rate, the live phrase list) in the background; None when there is nothing to
    warm or no greeting to warm them with (the calls then warm them, as before)."""
    count = settings.asr.warm_recognizers
    if count == 0:
        return None
    try:
        clip = prompts.pcm(WARM_UP_PROMPT)[: int(WARM_UP_SECONDS * PHONE_RATE) * 2]
    except PromptError as exc:
        log.warning("recognizers not warmed at start-up (no %s prompt: %s)", WARM_UP_PROMPT, exc)
        return None
    return engine.warm_up(count, clip, sample_rate=PHONE_RATE,
                          grammar=settings.asr.phrase_list or None)


# What warms the reading of callers' words at start-up: one complaint as a caller says it,
# through what the first ticket and the console's first live suggestion would run. The
# first classification in a process loaded jieba's dictionary (the intake model's word
# analyzer) and the knowledge base its own tokenizer and index: 2-8 s of wall on a loaded
# node, paid by the first caller's ticket and the operator's first suggestion.
WARM_UP_TEXT = "朝阳区望京西园三区5号楼从今天早上开始停水，家里有老人，请问什么时候能来水？"


@dataclass
class TextWarmUp:
    """The start-up warm-up of the classifier (jieba's dictionary, the intake model's first
    pass, the rules' and places' tables) and of the knowledge base's search (its own
    tokenizer), on a thread of its own (``warm_up_text``)."""

    done: threading.Event = field(default_factory=threading.Event)
    wall_seconds: float = 0.0
    error: BaseException | None = None

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def as_dict(self) -> dict[str, object]:
        """/healthz's ``classifier``: the node classifies either way; cold, the first
        classification waits for what the warm-up loads."""
        if not self.done.is_set():
            return {"warm": False, "detail": "loading jieba's dictionary, the intake model "
                    "and the knowledge base's tokenizer; classifications meanwhile wait for "
                    "it"}
        if self.error is not None:
            return {"warm": False, "detail": f"the warm-up failed ({self.error}); the first "
                    "classification loads what it needs"}
        return {"warm": True, "detail": "classifier and knowledge base warmed in "
                f"{self.wall_seconds:.1f} s"}


def warm_up_text(domain: Domain) -> TextWarmUp:
    """Classify ``WARM_UP_TEXT`` and cut it as the knowledge base's search does, once, in
    the background: the start goes on (a classification that comes meanwhile waits for
    the same load behind jieba's lock, never loads twice). No database: the index of the
    entries is built by the first search (each change of the entries builds it again),
    and a thread still warming when a stopped service drops its database holds no
    connection to it."""
    job = TextWarmUp()
    # Bound now, not on the thread: what replaces the domain's methods once the service is
    # up (a test's recorder of the requests' classifications) is not the warm-up's business.
    understand, locate = domain.understand, domain.locate

    def run() -> None:
        began = time.monotonic()
        try:
            understood = understand(WARM_UP_TEXT)
            locate(WARM_UP_TEXT, understood.district)
            kb_search.words(WARM_UP_TEXT)
            kb_search.sounds(WARM_UP_TEXT)
            kb_search.asked_objects(WARM_UP_TEXT)  # jieba's tagger, imported when first used
        except Exception as exc:  # nothing is lost: the first classification loads it
            job.error = exc
            log.warning("classifier warm-up failed: %s", exc)
        finally:
            job.wall_seconds = time.monotonic() - began
            # Said before it is done: whoever waits for ``done`` (a test, then its log
            # capture closed) must not have the line come after it.
            if job.error is None:
                log.info("classifier and knowledge base warm in %.1f s", job.wall_seconds)
            job.done.set()

    threading.Thread(target=run, name="text-warm-up", daemon=True).start()
    return job


def start_warm_up(background: Background) -> None:
    """Everything start-up warms, in the background, the one path for all of it: the
    classifier and the knowledge base where this process reads callers' words (the API:
    tickets and the console's suggestions; the voice part: calls), and the voice part's
    recognizers after the IVR answers (calls that come meanwhile are decoded,
    docs/asr.md). Reported by ``Background.warm_status`` and ``classifier_status``."""
    if background.parts & {Part.HTTP, Part.VOICE}:
        background.text_warm_up = warm_up_text(background.domain)
    if background.engine is not None:
        prompts = (background.ivr.services.prompts if background.ivr is not None
                   else PromptLibrary(background.settings))
        background.warm_up = warm_up_recognizers(background.engine, background.settings,
                                                 prompts)


def make_dialer(settings: Settings, sessions: sessionmaker[Session]
                ) -> tuple[Dialer, Callable[[], None]]:
    """The configured outbound dialer and how to stop it. SIP calls go out through a front
    end of their own (its own port and RTP range), so the IVR's lines stay the callers'."""
    if settings.outbound.dialer == "twilio":
        return TwilioDialer(settings, sessions), lambda: None
    if settings.outbound.dialer == "sip":
        sip = settings.sip.model_copy(update={
            "port": settings.outbound.sip_port,
            "rtp_port_low": settings.outbound.sip_rtp_port_low,
            "rtp_port_high": settings.outbound.sip_rtp_port_high,
        })
        frontend = SipFrontEnd(sip, read_number=call_number,
                               ring_timeout=settings.outbound.ring_seconds,
                               dialogs_dir=ledger_dir(settings.data_dir))
        frontend.start()
        return SipDialer(frontend, OutboundPrompts(settings), settings), frontend.stop
    raise ValueError(f"unknown outbound.dialer {settings.outbound.dialer!r} (sip | twilio)")


def build_outbound(sessions: sessionmaker[Session], domain: Domain
                   ) -> tuple[OutboundWorker, Callable[[], None]]:
    """The outbound worker (reminders, 催办, surveys, SMS) and how to stop it."""
    dialer, stop_dialer = make_dialer(domain.settings, sessions)
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                            sms=make_sms(domain.settings),
                            ended_calls=(dialer.ended_at_start()
                                         if isinstance(dialer, SipDialer) else ()))

    def stop() -> None:
        worker.shutdown(wait=False)
        stop_dialer()

    return worker, stop


@dataclass
class Background:
    settings: Settings
    sessions: sessionmaker[Session]
    domain: Domain
    engine: AsrEngine | None
    ivr: IvrRuntime | None = None
    warm_up: WarmUp | None = None  # the recognizers'
    text_warm_up: TextWarmUp | None = None  # the classifier's and knowledge base's
    scheduler: BackgroundScheduler | None = None
    outbound: OutboundWorker | None = None
    stop_outbound: Callable[[], None] = lambda: None
    parts: frozenset[Part] = frozenset(Part)
    # How the backlog decodes a recording; None: with ``engine`` (none without a model).
    transcribe: Transcribe | None = None
    _voice_lock: threading.Lock = field(default_factory=threading.Lock)
    _backlog: threading.Thread | None = None
    _backlog_lock: threading.Lock = field(default_factory=threading.Lock)
    # Under _backlog_lock: a drain owns the backlog (its thread may not have ended yet),
    # and was kicked while it did, so it goes round once more.
    _draining: bool = False
    _drain_again: bool = False
    _stopping: threading.Event = field(default_factory=threading.Event)
    _drain_lock: threading.Lock = field(default_factory=threading.Lock)
    _drained: bool = False

    @property
    def voice(self) -> bool:
        """Whether this process runs the voice part (the SIP IVR and the speech model)."""
        return Part.VOICE in self.parts

    def warm_status(self) -> WarmStatus | None:
        """The start-up warm-up, for /healthz and /metrics; None without the voice part.
        Calls are answered either way: this says how many it carries at once yet."""
        if not self.voice:
            return None
        return warm_status(self.settings.asr.warm_recognizers, self.warm_up)

    def classifier_status(self) -> dict[str, object] | None:
        """The start-up warm-up of the classifier and knowledge base, for /healthz; None
        in a process that reads no caller's words (the outbound role)."""
        return self.text_warm_up.as_dict() if self.text_warm_up is not None else None

    def job_ids(self) -> set[str]:
        return {job.id for job in self.scheduler.get_jobs()} if self.scheduler else set()

    def start_ivr(self) -> None:
        """Start (or retry starting) the SIP front end; a registrar that is down at start-up
        must not keep the API and the schedulers down, so failures are logged and retried."""
        # Once our stop began nothing starts (mend74): before, a retry still starting when
        # the drain ran (which saw no front end) was kept afterwards, answering calls
        # after the drain, under a closing engine.
        if self.ivr is not None or not self.settings.sip.enabled or self._stopping.is_set():
            return
        try:
            # A call whose words are left to the backlog starts the drain at once: its
            # ticket is dispatched when they come, not a voice tick later.
            ivr = start_ivr(self.settings, self.sessions, self.domain, engine=self.engine,
                            on_backlog=self.kick_backlog)
        except Exception as exc:  # SipRegistrationError, port in use, ...
            log.error("IVR not answering yet (%s); retrying in %d s", exc, VOICE_TICK_SECONDS)
            return
        # Under the drain's lock: the drain either sees this front end (and stops it) or
        # began before it was kept, and then it is stopped here.
        with self._drain_lock:
            stopped = self._stopping.is_set()
            if not stopped:
                self.ivr = ivr
        if stopped:
            log.info("IVR started as our stop began: stopped again")
            ivr.stop()
            return
        if warning := untrusted_direct_warning(self.settings.sip):
            log.warning("%s", warning)

    def voice_tick(self) -> None:
        """Retry the IVR if it is down, settle spooled calls, run the transcription backlog."""
        if not self._voice_lock.acquire(blocking=False):
            return
        try:
            self.start_ivr()
            done = recover_spool(sessions=self.sessions, domain=self.domain,
                                 spool=spool_for(self.settings))
            if done:
                log.info("settled %d spooled call(s): %s", len(done), ", ".join(done))
            # Not here: a drain lasts minutes after a surge, and this job must go on
            # retrying the IVR and settling the spool meanwhile.
            self.kick_backlog()
        finally:
            self._voice_lock.release()

    def backlog_transcriber(self) -> Transcribe | None:
        if self.transcribe is not None:
            return self.transcribe
        if self.engine is None:
            return None
        engine, phrases = self.engine, self.settings.asr.phrase_list
        return lambda path: transcribe_clean(engine, path, phrases)

    def kick_backlog(self) -> bool:
        """Start draining the transcription backlog on a thread of its own; False when a
        drain is under way already (one per process: it holds at most one decoding slot),
        there is no model, or the service is stopping."""
        transcribe = self.backlog_transcriber()
        if transcribe is None or self._stopping.is_set():
            return False
        with self._backlog_lock:
            if self._draining:
                # The drain under way may have found nothing more just before this job was
                # queued: it looks again before it ends (else the job waits for a tick).
                self._drain_again = True
                return False
            self._draining, self._drain_again = True, False
            self._backlog = threading.Thread(target=self._backlog_thread, args=(transcribe,),
                                             name="asr-backlog", daemon=True)
            try:
                self._backlog.start()
            except RuntimeError:  # no thread to be had: the next kick tries again
                self._draining = False
                raise
        return True

    def wait_backlog(self, timeout: float | None = None) -> bool:
        """Wait for the drain under way (if any) to end; False if it is still going."""
        thread = self._backlog
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _backlog_thread(self, transcribe: Transcribe) -> None:
        # Live calls keep the priority: each push of a recording takes a decoding slot at
        # DecodePriority.BACKLOG (handed to live waiters first), and the thread runs at the
        # live decoders' nice, below the RTP threads. Not SCHED_IDLE like the warm-up: a
        # slot held by a thread the kernel starves would keep a live call waiting for it.
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ASR_NICE)
        try:
            while True:
                self.drain_backlog(transcribe)
                with self._backlog_lock:
                    if not self._drain_again or self._stopping.is_set():
                        self._draining = False
                        return
                    self._drain_again = False
        except Exception:  # the database gone, say: the next voice tick starts it again
            with self._backlog_lock:
                self._draining = False
            log.exception("transcription backlog stopped; retried at the next voice tick")

    def drain_backlog(self, transcribe: Transcribe) -> BacklogRun:
        """Transcribe recordings until none is left to claim or the service stops."""
        began, total = time.monotonic(), BacklogRun()
        while not self._stopping.is_set():
            run = run_backlog(sessions=self.sessions, domain=self.domain, limit=BACKLOG_BATCH,
                              transcribe=transcribe, stop=self._stopping)
            total.add(run)
            if run.taken < BACKLOG_BATCH:
                break
        if total.taken:
            log.info("transcription backlog: %d transcribed, %d to retry, %d given up in %.0f s",
                     total.done, total.retried, total.failed, time.monotonic() - began)
        return total

    def stop_taking_calls(self) -> None:
        """The drain's first effect, at the signal itself: no INVITE taken from now on
        (``SipFrontEnd.stop_taking``; the drain's own first step follows on its thread)."""
        if self.ivr is not None:
            self.ivr.frontend.stop_taking()

    def drain(self, *, also: Callable[[float], None] = lambda _deadline: None) -> None:
        """The stop up to the speech engine's close: new calls refused, the callers up told,
        their words filed within ``sip.stop_drain_seconds``, the jobs, the backlog and the
        outbound worker stopped, the front end stopped. ``also`` is given the drain's
        deadline and runs before the front end stops (`hotline serve`'s Twilio calls,
        ``hotline.serving``). Once: a second caller (the app's shutdown after a signal's
        drain) waits for the first to finish and does nothing more."""
        with self._drain_lock:
            if self._drained:
                return
            self._stopping.set()
            try:
                self._drain_steps(also)
            finally:
                # Done only once every step ran (mend74): before, "done" was marked first,
                # so a step that raised left the rest undone and the stop after it did
                # nothing more -- the engine closed under a live SIP front end.
                self._drained = True

    def _drain_steps(self, also: Callable[[float], None]) -> None:
        """Each step runs even when one before it raised (logged): the front end is always
        hung up, whatever the Twilio side or the outbound worker did."""
        drain = time.monotonic() + self.settings.sip.stop_drain_seconds
        if self.ivr is not None:
            # First, so that no call is taken from now on and the callers up are told at
            # once (``IvrRuntime.refuse_and_tell``); their dialogues finish meanwhile.
            drain = _step("the SIP front end's refusal", self.ivr.refuse_and_tell, drain)
        if self.scheduler is not None:
            scheduler, self.scheduler = self.scheduler, None
            _step("the scheduler's shutdown", lambda: scheduler.shutdown(wait=False), None)
        _step("the backlog's wait", lambda: self.wait_backlog(BACKLOG_STOP_WAIT), None)
        _step("the outbound worker's stop", self.stop_outbound, None)
        self.stop_outbound = lambda: None
        _step("the drain's other part", lambda: also(drain), None)
        if self.ivr is not None:
            ivr = self.ivr
            _step("the SIP front end's hang-up", lambda: ivr.hang_up(drain), None)

    def stop(self) -> None:
        self.drain()
        if self.engine is not None:
            self.engine.close()


_T = TypeVar("_T")


def _step(what: str, run: Callable[[], _T], otherwise: _T) -> _T:
    """One step of the stop's drain: one that raises is logged and the drain goes on."""
    try:
        return run()
    except Exception:
        log.exception("our stop: %s failed; the drain goes on", what)
        return otherwise


def schedule_jobs(background: Background) -> BackgroundScheduler:
    """Every job of the service on one scheduler (not started)."""
    sessions, domain = background.sessions, background.domain
    settings = domain.settings
    scheduler = BackgroundScheduler(timezone=domain.tz)
    if background.voice:
        scheduler.add_job(background.voice_tick, "interval", seconds=VOICE_TICK_SECONDS,
                          id="voice", max_instances=1, coalesce=True)

    def ticket_job(job_id: str, job: Callable[..., object], trigger: object,
                   **options: object) -> None:
        # Named, or APScheduler's lines name every ticket job by the wrapper's class.
        scheduler.add_job(OutageQuiet(job_id, job), trigger, args=(sessions, domain),
                          id=job_id, name=job_id, max_instances=1, coalesce=True, **options)

    if Part.JOBS in background.parts:
        ticket_job("escalate-utilities", escalate_utilities_job, "interval", seconds=30)
        ticket_job("archive-unsurveyable", archive_job, "interval", hours=1)
        ticket_job("idempotency-keys", idempotency_keys_job, "interval", hours=1)
        report = MonthlyReportRun(domain)
        ticket_job("monthly-report", report, report.trigger(domain))
    if Part.JOBS in background.parts and settings.recordings_retention_days > 0:
        ticket_job("recordings-retention", retention_job, "interval", hours=24,
                   next_run_time=datetime.now(domain.tz) + timedelta(minutes=5))
    if background.outbound is not None:
        # Jobs stay in memory: the due rows in outbound_tasks are the state (docs/outbound.md).
        scheduler.add_job(background.outbound.tick, "interval",
                          seconds=settings.outbound.poll_seconds, id="outbound",
                          max_instances=1, coalesce=True)
    return scheduler


def start_background(settings: Settings, sessions: sessionmaker[Session], domain: Domain,
                     parts: frozenset[Part] = frozenset(Part)) -> Background:
    """Start the non-HTTP ``parts`` (``hotline.roles``; all of them by default; HTTP among
    them says the API runs in this process too): the voice part loads the speech model and
    starts the IVR (retried by the voice job when it cannot start yet); the start-up
    warm-up (``start_warm_up``); the outbound part builds the outbound worker; then every
    job of those parts on one scheduler (none when no part needs one)."""
    voice = Part.VOICE in parts
    background = Background(settings=settings, sessions=sessions, domain=domain,
                            engine=load_engine(settings) if voice else None, parts=parts)
    if voice:
        background.start_ivr()
    start_warm_up(background)
    if voice:
        WARM_UP.track(background.warm_status)
    if Part.OUTBOUND in parts and settings.outbound.enabled:
        background.outbound, background.stop_outbound = build_outbound(sessions, domain)
    if parts & {Part.VOICE, Part.JOBS, Part.OUTBOUND}:
        background.scheduler = schedule_jobs(background)
        background.scheduler.start()
    return background
