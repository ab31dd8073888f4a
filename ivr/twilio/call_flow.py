"""The Twilio call flow, one method per webhook; blocking code, run in a worker thread.

Same dialogue as the SIP IVR (issue 5): greeting with 0 (operator) and 1 (status) open,
record until # / silence / maximum length, read back what was understood, 1 confirms and
2 re-records, then 1 保密 / 2 不要回访 (#, or nothing, files), then the ticket number digit by
digit and the deadline. What the words lead to is ``ivr.decisions``' call, as on the SIP
line (issue 14): an emergency (110/119/120) files an urgent ticket with its hand-over event
before the <Dial> is returned, without read-back or key; a question a knowledge entry
answers is answered first, then 1 files a 直接答复 and 2 (or no key) goes on to the
read-back. Whatever happens to
the download or the recognizer, a recorded complaint becomes a ticket; what could not be
transcribed in time goes to the transcription backlog (intake enqueues it).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from asr.engine import AsrEngine
from config.settings import Settings
from ivr import prompts
from ivr.audio import fax_only
from ivr.caller_trust import number_verified, twilio_caller
from ivr.callrecords import CallOutcome, last_sign, presumed_dead
from ivr.decisions import (
    DECLINE_WAIT_SECONDS,
    PREFERENCE_SAID,
    AfterAnswer,
    Handover,
    OfferReply,
    Step,
    after_answer,
    ask_callback_number,
    choose_preference,
    confirm_again,
    deadline_told,
    emergency_service,
    emergency_target,
    file_direct_answer,
    file_emergency,
    handover_way,
    keyed_digits,
    offer_pending,
    offer_reply,
    readback_sentence,
    rerecord,
    stop_notice,
    take_turn,
)
from ivr.intake import (
    MAX_CALLBACK_DIGITS,
    RERECORD_ASKED,
    RERECORD_TAKEN,
    CallJournal,
    FiledTicket,
    Spool,
    filed_ticket,
)
from ivr.kb_answer import answer_reading, rest_part
from ivr.ticket_lookup import (
    TICKET_TRIES_PER_CALL,
    KeyedLookups,
    StatusReport,
    keyed_count_keys,
    keyed_ticket_status,
    open_tickets,
)
from ivr.transfer import ALIVE_SECONDS
from ivr.twilio import twiml
from ivr.twilio.calls import CARRIER, TwilioCall, TwilioCalls
from ivr.twilio.decode import Decoded, decode_within
from ivr.twilio.fetch import (
    CALL_UP_STATUSES,
    FetchError,
    UrlRefused,
    call_recordings,
    call_status,
    fetch_recording,
    sha256_of,
    twilio_recording_path,
)
from telephony.call import CallerVouch
from telephony.media.wav import AudioFormatError, read_wav, read_wav_pcm16
from telephony.sip.floodguard import (
    counted_source,
    resolve_trusted,
    trusted_entries,
    trusted_networks,
)
from ticketing import phones
from ticketing.context import Domain
from ticketing.models import Ticket, utcnow
from ticketing.service import (
    HANDOVER_CALLER_GONE,
    HANDOVER_PUT_THROUGH,
    HANDOVER_REFUSED,
    HANDOVER_RUNG_OPERATOR,
    HANDOVER_STOPPED,
    HANDOVER_UNANSWERED,
)

log = logging.getLogger("hotline.ivr.twilio")

# The watcher's wait after failures in a row: doubled each time, to this many ALIVE_SECONDS
# at most (a bridge still gets a heartbeat well inside the 15 minutes of recover_spool).
_WATCH_BACKOFF = 4

# Twilio's final call statuses and the outcome they give a call that made no ticket.
FINAL_CALL_STATUS: dict[str, CallOutcome | None] = {
    "completed": None,  # the journal knows best (ticket, status query, abandoned...)
    "busy": CallOutcome.BUSY,
    "no-answer": CallOutcome.ABANDONED,
    "canceled": CallOutcome.ABANDONED,
    "failed": CallOutcome.FAILED,
}
DIAL_ANSWERED = ("completed", "answered")
# A hand-over's <Dial> (its DialCallStatus) as the ticket's trail names it, as the SIP line's
# ivr.call_flow.HANDOVER_RESULTS: "failed" is the trunk's refusal, "canceled" the caller's
# hang-up while it rang.
DIAL_HANDOVER_RESULTS = {
    **dict.fromkeys(DIAL_ANSWERED, HANDOVER_PUT_THROUGH),
    "no-answer": HANDOVER_UNANSWERED,
    "busy": HANDOVER_REFUSED,
    "failed": HANDOVER_REFUSED,
    "canceled": HANDOVER_CALLER_GONE,
}
_STATUS_LINES = 3
_FETCH_ATTEMPTS = 3
# How often a stop's drain looks whether a Twilio call is still in a dialogue.
_DRAIN_POLL_SECONDS = 0.2
# Twilio stops waiting for a webhook's answer after this long (its documented timeout;
# ``views.ANSWER_WITHIN_SECONDS`` answers before it).
TWILIO_WEBHOOK_SECONDS = 15.0
# Mandarin TTS's slow end (config.settings' kb_part_chars: 4-5 characters a second).
_SAID_CHARS_PER_SECOND = 4.0


def longest_step_seconds(settings: Settings) -> float:
    """The longest a Twilio call in a dialogue (not bridged) can go between two webhooks
    of ours, by the call's own timers: the longest prompt said (a knowledge answer's part,
    ``ivr.kb_part_chars`` at the slow end of Mandarin TTS), then the longest wait Twilio
    runs before its next request -- a ``<Record>`` to its ``maxLength`` and its silence
    ``timeout``, a ``<Gather>``'s key wait, an operator's ring -- then Twilio's wait for
    our answer. 168 s with the shipped settings (30 + 123 + 15)."""
    sip = settings.sip
    said = settings.ivr.kb_part_chars / _SAID_CHARS_PER_SECOND
    # The timers as the TwiML gives them to Twilio (one rounding rule, twiml's).
    waited = max(sip.max_record_seconds + twiml.record_silence_seconds(settings),
                 twiml.key_seconds(settings), DECLINE_WAIT_SECONDS,
                 settings.twilio.operator_ring_seconds)
    return said + waited + TWILIO_WEBHOOK_SECONDS


def _arrived(j: CallJournal, now: datetime) -> datetime:
    try:
        return datetime.fromisoformat(j.arrived_at)
    except ValueError:  # a journal written by hand: its file's time still counts
        return now


def gone_after_seconds(settings: Settings) -> float:
    """A journal entry of a Twilio call in a dialogue not heard from (no webhook, no
    write) for this long is a call long gone -- an earlier process died with it, or Twilio's
    final status callback never came -- and does not hold a stop's drain: two of the call's
    longest steps (``longest_step_seconds``), so that a live call, even one whose webhook
    Twilio sent again, is never taken for one. Its settling is recovery's, as before
    (``ivr.intake.recover_spool``, or Twilio's word at the next start,
    ``TwilioDialogue.reconcile``)."""
    return 2 * longest_step_seconds(settings)
_FETCH_RETRY_SECONDS = 0.5  # read at most this many tickets; a phone menu is no report


class RecordingNotFetched(Exception):
    """A recording status callback whose recording could not be downloaded: its URL is
    kept; the webhook answers Twilio an error (``views``) rather than a 200."""

    def __init__(self, call_sid: str, url: str, error: str | None) -> None:
        super().__init__(f"call {call_sid}: recording {url} not downloaded: {error}")


@dataclass(frozen=True)
class Taken:
    path: Path
    sha256: str | None  # None: not downloaded (``error`` says why)
    error: str | None
    url: str  # the RecordingUrl it is fetched from, kept while it is not downloaded


class TwilioDialogue:
    def __init__(self, *, settings: Settings, sessions: sessionmaker[Session],
                 read_sessions: sessionmaker[Session], domain: Domain,
                 engine: Callable[[], AsrEngine | None]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.domain = domain
        self.engine = engine
        # The SIP IVR's spool (ivr.runtime.spool_for, not imported: it pulls in the SIP
        # stack), so its start-up recover_spool also settles Twilio calls after a crash.
        self.calls = TwilioCalls(sessions=sessions, read_sessions=read_sessions, domain=domain,
                                 spool=Spool(Path(settings.data_dir) / "spool" / "calls"))
        self.urls = twiml.Urls(settings.twilio.public_base_url)
        # The ticket numbers keyed by callers Twilio did not vouch for, counted across calls
        # in the SIP line's one table (``_keyed_key``: by From).
        # A SipSourceIp that is a trunk we trust names no caller (``counted_source``): the
        # SIP front end's trust list, one rule for both carriers.
        self.trusted_sources = trusted_networks(resolve_trusted(trusted_entries(settings.sip)))
        self.keyed_lookups = KeyedLookups(
            sessions=sessions, read_sessions=read_sessions,
            per_address=settings.ivr.ticket_numbers_per_address)
        # Webhooks hold a thread for up to the download + decoding budget; asyncio's
        # default pool (cores + 4) would make quick webhooks of other calls queue behind
        # them. Decoding itself stays bounded by the engine's decode slots.
        self.executor = ThreadPoolExecutor(max_workers=max(8, 2 * settings.sip.max_calls),
                                           thread_name_prefix="twilio")
        # The heartbeat of bridges living at Twilio (``bridges_alive``).
        self._watcher: threading.Thread | None = None
        self._watcher_guard = threading.Lock()
        self._closing = threading.Event()
        # Our stop has begun (``drain``): every webhook of a call in a dialogue is answered
        # with the stop's notice (``stop_notice``), as the SIP IVR's callers are told.
        self.stopping = threading.Event()
        # When each call's last webhook came (wall clock, as the spool's times): not every
        # webhook writes its journal, and a call whose keys were all it sent for a while
        # must not be taken for one long gone (``gone_after_seconds``).
        self._heard: dict[str, datetime] = {}
        self._heard_guard = threading.Lock()
        # The start's look at Twilio's word on the spool's calls (``reconcile``).
        self.reconciling: threading.Thread | None = None

    def heard(self, call_sid: str) -> None:
        """A webhook of ``call_sid`` came (signed, well formed): its sign of life."""
        now = utcnow()
        after = gone_after_seconds(self.settings)
        with self._heard_guard:
            self._heard[call_sid] = now
            for sid in [s for s, t in self._heard.items() if presumed_dead(t, now, after=after)]:
                del self._heard[sid]

    def drain(self, deadline: float) -> None:
        """A stop's part for Twilio's calls (`hotline serve` keeps its HTTP listener up
        meanwhile, ``hotline.serving``): from now on each webhook of a call in a dialogue
        ends it with the notice, its words filed, and a new call hears that the service
        stops; wait until no call of ours is in a dialogue, or the monotonic
        ``deadline``. A call bridged at Twilio (operator, hand-over) is Twilio's to run:
        not waited for. Before (review70), from the signal on the webhooks found no
        listener, and Twilio played its own English error."""
        self.stopping.set()
        while time.monotonic() < deadline and self._in_dialogue():
            time.sleep(min(_DRAIN_POLL_SECONDS, max(0.0, deadline - time.monotonic())))

    def _in_dialogue(self) -> bool:
        now = utcnow()
        return any(j.carrier == "twilio" and not j.ended_at and not j.bridged_at
                   and not self._gone(j, now) for j in self.calls.spool.pending())

    def _gone(self, j: CallJournal, now: datetime) -> bool:
        """Whether the spool's entry ``j`` is of a call long gone (``gone_after_seconds``
        since its last sign: arrival, journal written, or a webhook heard). Before
        (twilio36) such an entry held every stop's drain for its whole
        ``sip.stop_drain_seconds``."""
        with self._heard_guard:
            heard = self._heard.get(j.call_id)
        signs = [t for t in (self.calls.spool.written_at(j.call_id), heard) if t is not None]
        last = last_sign(_arrived(j, now), max(signs, default=None))
        return presumed_dead(last, now, after=gone_after_seconds(self.settings))

    def stop_notice(self, call_sid: str) -> str:
        """Any webhook but a recording's, a dial's end or the status, once our stop began:
        the SIP IVR's notice (``Dialogue._stop_notice``) -- "您的诉求已记录…" when the
        caller's words are kept (a ticket filed, or a recording taken: filed now, marked
        服务停止 as a SIP call our stop cut), else "服务即将暂停"; "请挂机后直接拨打119" to a
        caller asked whether to be put through to a service nobody will ring now. A new
        call is not taken (no journal, as the SIP front end's 503)."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.say_and_hang_up(prompts.text("stopping"))
            return self._at_stop(call)

    def _at_stop(self, call: TwilioCall) -> str:
        if call.ended:
            return self._replay(call) if call.journal.want_ticket else twiml.hang_up()
        return self._stop_notice(call)

    def _stop_notice(self, call: TwilioCall) -> str:
        """The notice (``decisions.stop_notice``, the SIP line's rule). The service the
        words call for and the caller was not put through to: between webhooks that is
        the hand-over announced and not answered (``offer_pending``); the recording's
        webhook classifies its words first (``_turn``)."""
        j = call.journal
        if call.ended:  # a webhook sent again (``_replay``): said again, nothing recorded
            return twiml.say_and_hang_up(prompts.text(stop_notice(None, kept=j.want_ticket)))
        unserved = (j.handover_asked if offer_pending(j.handover_asked, j.handover,
                                                      j.handover_declined) else None)
        if unserved is not None:
            # Nobody is rung from here on: journaled as the SIP stop's hand-over it cut.
            call.intake.journal_handover(unserved, HANDOVER_STOPPED)
        kept = j.want_ticket
        if j.want_ticket and not j.ticket_number:
            call.intake.stopped()
            call.intake.file_ticket()  # None: the database is down; the spool keeps it
        call.intake.end()
        return twiml.say_and_hang_up(prompts.text(stop_notice(unserved, kept=kept)))

    def close(self) -> None:
        """The app stops: the bridges' watcher with it (a bridge still up at Twilio is
        then aged by the 15-minute rule, as any call of a stopped process is)."""
        self._closing.set()

    # ------------------------------------------------------------------ webhooks
    def incoming(self, call_sid: str, caller: str, verstat: str = "", address: str = "",
                 *, callee: str = "") -> str:
        """A new call; ``caller`` its ``From``, ``verstat`` Twilio's STIR/SHAKEN verdict on
        it (its ``StirVerstat``, absent on calls that came with no PASSporT): whether key 1
        may read what that number filed (``ivr.caller_trust``; a SIP-domain caller's From
        URI is read as the SIP front end reads an unverified From, ``twilio_caller``);
        ``callee`` its ``To``, the number dialled, kept on the call record as the SIP flow
        keeps its To user."""
        with self.calls.lock(call_sid):
            # Twilio retries a webhook that timed out: the call then already has a journal.
            if self.calls.find(call_sid) is None:
                if self.calls.taken(call_sid):  # another carrier's call: not ours to touch
                    return twiml.unknown_call()
                number, vouch = twilio_caller(caller, verstat)
                self.calls.start(call_sid, number, vouch,
                                 address=counted_source(address, self.trusted_sources),
                                 callee=callee)
        return twiml.greeting(self.settings, self.urls)

    def late(self, call_sid: str) -> str:
        """The answer for a webhook whose step has not finished in time (``views``; a
        write waiting on SQLite's lock): the step goes on in its thread, holding the call's
        lock, and files or settles when the database lets it; the spool keeps the call
        meanwhile (and ``recover_spool`` files it if the step gives up). A caller whose
        complaint is taken is told it is recorded and the number will follow, as when the
        database is down; anyone else hears the apology, not Twilio's English error.
        Read without the call's lock (the step holds it): the spool is replaced whole."""
        call = self.calls.find(call_sid)
        if call is not None and call.journal.want_ticket and not call.journal.ticket_number:
            return twiml.filed_later()
        return twiml.service_error()

    def menu(self, call_sid: str, digits: str) -> str:
        """A key pressed during the greeting."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            call.intake.key(digits[:1])
            if digits.startswith("0"):
                return self._operator(call)
            if digits.startswith("1"):
                return self._status(call)
            # Any other key: ignored, the caller goes on to speak.
            call.save()
            return twiml.record_again(self.settings, self.urls)

    def recorded(self, call_sid: str, recording_sid: str, recording_url: str,
                 started: float) -> str:
        """The <Record> action: fetch, transcribe, read back (or file at once)."""
        deadline = started + self.settings.twilio.webhook_budget_seconds
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            path = twilio_recording_path(self.settings.recordings_dir, call_sid, recording_sid)
            j = call.journal
            if ((j.recording_path == str(path) and not j.recording_unheard)
                    or _earlier(call, path)):
                return self._replay(call)  # the same recording again: answer as before
            return self._understand(call, self._take(call_sid, path, recording_url, deadline),
                                    deadline)

    def recording_ready(self, call_sid: str, recording_sid: str, recording_url: str,
                        status: str, started: float) -> str:
        """recordingStatusCallback: the file is now downloadable. Used to fetch what the
        action could not, and to make the ticket when the caller hung up mid-recording
        and no action came. RecordingNotFetched when its download failed: its URL is kept
        (the journal, then the call record's note) and Twilio is answered an error."""
        if status != "completed":  # "absent": too short or silent, nothing to fetch
            return twiml.empty()
        deadline = started + self.settings.twilio.webhook_budget_seconds
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            path = twilio_recording_path(self.settings.recordings_dir, call_sid, recording_sid)
            j = call.journal
            if j.recording_path == str(path) and j.recording_sha256:
                return twiml.empty()  # already complete
            if _earlier(call, path):
                return twiml.empty()
            taken = self._take(call_sid, path, recording_url, deadline)
            self._recording_taken(call, path, taken, deadline)
        if taken.sha256 is None:
            # Answered 503, not 200: a 200 tells Twilio the callback was taken, and it is
            # never sent again; an error is what a retry policy (``#rp=5xx`` on the URL,
            # or a webhook rule's setting) can send again, and Twilio's debugger shows it
            # (docs/twilio.md, mend89). The URL is kept either way.
            raise RecordingNotFetched(call_sid, taken.url, taken.error)
        return twiml.empty()

    def _recording_taken(self, call: TwilioCall, path: Path, taken: Taken,
                         deadline: float) -> None:
        """What a recording status callback's recording, fetched or not, does to its call."""
        j = call.journal
        if not call.ended and j.recording_path != str(path):
            # A live call whose action has not come yet: the action finds the file
            # (or fetches it again). Journaled, so a hang-up's status callback coming
            # first -- Twilio keeps no order, and posts no action for some hang-ups --
            # files it (``status``), and recovery finds it should the process die. One
            # said again after key 2 takes the first's place once we hold it, the
            # first's words cleared in the same write (mend85: the first was filed,
            # this one dropped): recovery leaves its words to the backlog.
            if j.want_ticket:
                if taken.sha256 is None:
                    # Not downloaded: the first recording and its words stay the
                    # complaint (review87: cleared, the ticket had no words and no
                    # file). Still awaited (``rerecording`` asked): its action, or
                    # this callback sent again, fetches it and it takes their place.
                    # Its URL is journaled, so the status that files the first puts it
                    # on the call record (mend89: only this log line kept it).
                    log.warning("call %s: the recording said again after key 2 could "
                                "not be downloaded (%s); the first one is kept",
                                j.call_id, taken.error)
                    j.said_again_url = taken.url
                    call.save()
                    return
                j.rerecording = RERECORD_TAKEN
                j.said_again_url = None
                call.intake.heard(path, taken.sha256, _seconds(path), None, None,
                                  asr_error="said again, not heard yet")
                return
            if taken.sha256 is None:  # the URL kept, as the action keeps it
                j.recording_url = taken.url
            call.intake.recording(path, taken.sha256,
                                  None if taken.sha256 is None else _seconds(path))
            return
        if j.recording_path == str(path):
            if taken.sha256 is None:
                return  # the action's download failed too: its URL is on the record
            # The action came first but could not download: complete the rows now,
            # the backlog job then finds the file.
            seconds = _seconds(path)
            call.intake.recording(path, taken.sha256, seconds)
            self.calls.fill_recording_hash(call, path, taken.sha256, seconds)
            if call.ended:
                self.calls.settle(call)
        elif call.ended:
            # No ticket yet (review83), or one filed before the recording said again
            # after key 2 came: it joins that ticket (``intake._said_again``, mend85).
            # Not downloaded, it is heard as the action hears one: the ticket filed (or
            # kept) with the URL on the call record, never dropped (mend89).
            self._understand(call, taken, deadline)

    def confirm(self, call_sid: str, digits: str) -> str:
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            if call.journal.ticket_number:
                return self._replay(call)
            if not call.journal.want_ticket:  # nothing recorded yet: speak first
                return twiml.record_again(self.settings, self.urls)
            key = digits[:1]
            call.intake.key(key)
            if key == "1":
                call.save()
                return twiml.preferences(self.settings, self.urls)
            if key == "":  # no key at all: taken as it is, as the SIP line does at last
                return self._ask_number_or(call, "file")
            if key == "2":
                if not rerecord(call.intake):
                    return self._operator(call)
                # The first recording stays in the journal until a new one replaces it:
                # a hang-up during the re-recording still leaves a ticket, which the new
                # recording joins whenever its callbacks come (mend85).
                call.journal.rerecording = RERECORD_ASKED
                call.save()
                return twiml.record_again(self.settings, self.urls, prompts.text("rerecord"))
            if key == "0":
                return self._operator(call)
            if not confirm_again(call.intake):  # a wrong key again: filed as it is
                return self._ask_number_or(call, "file")
            call.save()
            return twiml.readback("", self.urls, again=True)

    def answer(self, call_sid: str, digits: str) -> str:
        """The key after a knowledge entry's answer: 1 resolved (直接答复), 0 operator, 2 /
        no key / any other goes on to the read-back, as without an answer."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            j = call.journal
            if j.ticket_number:
                return self._replay(call)
            if not j.want_ticket:  # nothing recorded yet: speak first
                return twiml.record_again(self.settings, self.urls)
            key = digits[:1]
            call.intake.key(key)
            # No answer was read in this call: the key means nothing here; read back.
            choice = (after_answer(key, more=bool(j.kb_rest)) if j.kb_offered
                      else AfterAnswer.TICKET)
            if choice is AfterAnswer.MORE:
                part, j.kb_rest = rest_part(j.kb_rest)
                call.save()
                return twiml.kb_answer(part, self.settings, self.urls)
            j.kb_rest = []
            if choice is AfterAnswer.RESOLVED and j.kb_offered:
                # Database down: the spool files the 直接答复 later; the caller has it.
                file_direct_answer(call.intake, j.kb_offered)
                call.intake.end()
                return twiml.kb_answered()
            if choice is AfterAnswer.OPERATOR:
                return self._operator(call)
            call.save()
            return twiml.readback(self._readback(j.transcript), self.urls)

    def preferences(self, call_sid: str, digits: str) -> str:
        """The keys after the confirm key, in the order pressed: 1 保密, 2 不要回访, 0 the
        operator (choices made before it stand); others are ignored. Then the ticket."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            j = call.journal
            if j.ticket_number:  # sent again: the same choices said back, one ticket
                return self._replay(call, preface=_said_back(j))
            if not j.want_ticket:
                return twiml.record_again(self.settings, self.urls)
            for key in digits[:MAX_CALLBACK_DIGITS]:
                call.intake.key(key)
                if key == "0":
                    return self._operator(call)
                choose_preference(call.intake, key)
            return self._ask_number_or(call, "file", preface=_said_back(j))

    def callback_number(self, call_sid: str, digits: str, then: str, attempt: int) -> str:
        """The digits a caller with a withheld number keyed in (or none): kept as their
        callback number when they are one, asked once more when not, then the ticket
        (``then`` "file") or the callback request ("callback") is made."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            if call.journal.ticket_number and then == "file":
                return self._replay(call)  # a repeated webhook: filed already
            call.intake.key(digits[:MAX_CALLBACK_DIGITS])
            number = phones.callback_number(keyed_digits(digits)[:MAX_CALLBACK_DIGITS])
            if number is None and digits.strip("#") and attempt < 2:
                call.save()
                return twiml.ask_callback_number(self.urls, then=then, attempt=attempt + 1)
            taken = ""
            if number is not None:
                call.intake.callback_number(number)
                taken = prompts.text("callback_number_taken")
            if then == "callback":
                return self._callback_request(call, preface=taken)
            filed = call.intake.file_ticket()
            call.intake.end()
            return self._filed_twiml(call, filed, preface=taken)

    def emergency(self, call_sid: str, digits: str) -> str:
        """The key after a hand-over only the model asked for was announced (or none: the
        redirect): 2 declines it -- read back and filed as any complaint, the ticket saying
        so -- anything else hands over as at once."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            j = call.journal
            if j.handover is not None:  # sent again: the same hand-over, recorded once
                if j.outcome == CallOutcome.OPERATOR.value:  # (0: to the operator)
                    return self._operator(call)
                return self._emergency(call, j.handover["service"])
            if j.ticket_number:
                return self._replay(call)
            service_number = j.handover_asked
            if self.stopping.is_set() and not offer_pending(service_number, j.handover,
                                                            j.handover_declined):
                return self._at_stop(call)  # no question to answer: the stop's notice
            if not j.want_ticket or service_number is None:  # nothing was announced
                return twiml.record_again(self.settings, self.urls)
            if not offer_pending(service_number, j.handover, j.handover_declined):
                return self._replay(call)  # declined already: this webhook sent again
            key = digits[:1]
            call.intake.key(key)
            reply = offer_reply(key or None, operator=bool(self.settings.sip.operator_uri))
            if reply is OfferReply.DECLINE:
                call.intake.decline_handover(service_number)
                log.info("call %s: emergency %s hand-over declined by the caller", j.call_id,
                         service_number)
                if self.stopping.is_set():  # filed as it is, and the stop's notice
                    return self._stop_notice(call)
                return twiml.readback(self._readback(j.transcript), self.urls)
            if self.stopping.is_set():
                # Our stop: put through at once (Twilio runs the <Dial>), the operator
                # skipped. Before (mend74) the answer to the question was dropped and the
                # caller told to dial the service themselves.
                return self._emergency(call, service_number)
            if reply is OfferReply.OPERATOR:
                # Handed over on record (the urgent ticket and its event), then the
                # operator, as the SIP line does; before (loose26) 0 dialled the service.
                file_emergency(call.intake, service_number=service_number,
                               target=emergency_target(self.settings, service_number)[1])
                return self._operator(call)
            return self._emergency(call, service_number)

    def dialed(self, call_sid: str, dial_status: str, emergency: str | None = None,
               call_status: str = "") -> str:
        """The <Dial> action: the operator answered (and the call is over), or not. After
        an emergency hand-over (``emergency``) the urgent ticket stands either way; unanswered,
        the caller is told to dial the service. ``call_status``: the action's CallStatus,
        the caller's own leg (final: they are gone)."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            if call.journal.bridged_at and not call.ended:
                call.journal.bridged_at = None  # back from Twilio: webhooks again
                call.save()
            if emergency is not None:
                # Journaled whatever came first: Twilio sends the call-status callback and
                # this action in no set order, and a call the status settled is read back
                # from the database without it (review126: the outcome was dropped). Settled
                # again, it is filed once (``intake._record_handover_result``), a replay too.
                call.intake.handover_ended(DIAL_HANDOVER_RESULTS.get(
                    dial_status, HANDOVER_REFUSED))
                if call.ended:  # its end is the status callback's, not this one's
                    self.calls.settle(call)
                else:
                    call.intake.end()
                if dial_status in DIAL_ANSWERED:
                    return twiml.hang_up()
                return twiml.emergency_failed(emergency)
            handover = call.journal.handover
            result = DIAL_HANDOVER_RESULTS.get(dial_status, HANDOVER_REFUSED)
            # "canceled" is the operator's ring cancelled, by the caller's hang-up or by the
            # REST API with the caller still on the line (review131): only a caller leg
            # that is over ends the call; one still up goes on to the service.
            caller_gone = call.ended or call_status in FINAL_CALL_STATUS
            if handover is not None and (result == HANDOVER_PUT_THROUGH or (
                    result == HANDOVER_CALLER_GONE and caller_gone)):
                # The caller's 0 at the hand-over question had the duty operator rung, not
                # the service: the trail says so and how it ended (before, handover47, it
                # kept "发起转接119" alone). Unanswered, the service's <Dial> says its own.
                call.intake.handover_ended(result, HANDOVER_RUNG_OPERATOR)
                if call.ended:  # settled by the status callback first: filed now
                    self.calls.settle(call)
                    return twiml.hang_up()
                if result == HANDOVER_CALLER_GONE:  # no caller left to put through
                    call.intake.end()
                    return twiml.hang_up()
            if dial_status in DIAL_ANSWERED:
                call.intake.end(CallOutcome.OPERATOR)
                return twiml.hang_up()
            if handover is not None:
                # 0 at the hand-over question and the operator did not answer: on to the
                # service, as silence would have (decisions.offer_reply); before (review53)
                # a callback request, and the emergency was dropped.
                call.journal.outcome = CallOutcome.TICKET.value
                return self._emergency(call, handover["service"])
            return self._ask_number_or(call, "callback")

    def silence(self, call_sid: str, attempt: int) -> str:
        """Nothing was recorded: prompt once more, then end politely."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            if attempt < 2:
                return twiml.record_again(self.settings, self.urls,
                                          prompts.text("reprompt_silence"), attempt=attempt + 1)
            if call.journal.want_ticket:  # silent re-recording: the first one stands
                return self._file_and_goodbye(call)
            call.intake.end()
            return twiml.say_and_hang_up(prompts.text("goodbye_silence"))

    def status(self, call_sid: str, call_status: str, started: float | None = None) -> str:
        """The call status callback; only final statuses matter. Where a hang-up's outcome
        is decided: a recording its status callback brought (the caller hung up
        mid-<Record>, no action came or it comes later) is heard here and is the ticket."""
        if call_status not in FINAL_CALL_STATUS:
            return twiml.empty()
        deadline = (time.monotonic() if started is None else started
                    ) + self.settings.twilio.webhook_budget_seconds
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            if call.ended:
                if not self._settled(call):
                    self.calls.settle(call)  # a database outage left it in the spool
                return twiml.empty()
            j = call.journal
            if offer_pending(j.handover_asked, j.handover, j.handover_declined) and (
                    offer_reply(None, operator=False) is OfferReply.HAND_OVER):
                # Hung up while asked whether to be put through: handed over, the default.
                uri, target = emergency_target(self.settings, j.handover_asked)
                call.intake.journal_handover(j.handover_asked, target)
                if uri:  # to a line, but no <Dial> went back: the trail says so (review126)
                    call.intake.handover_ended(HANDOVER_CALLER_GONE)
            # A recording taken by its status callback and never heard (no action came,
            # or not yet): heard now. Before (review83) the call was closed ``abandoned``
            # here and the complaint lost. A fax machine's tones: ended, no ticket.
            if j.recording_unheard and not self._hear(call, self._journaled(j), deadline):
                return twiml.empty()
            # A complaint that was recorded is a ticket however the call ended.
            outcome = None if j.want_ticket else FINAL_CALL_STATUS[call_status]
            call.intake.end(outcome)
            return twiml.empty()

    # ------------------------------------------------------------------ steps
    def _take(self, call_sid: str, path: Path, url: str, deadline: float) -> Taken:
        if path.exists():  # written atomically: present means complete
            return Taken(path, sha256_of(path), None, url)
        tw = self.settings.twilio
        error = "no call time left to download the recording"
        # Twilio may call the action before the file is downloadable (a 404 for a
        # moment): try again briefly while the budget lasts.
        for attempt in range(_FETCH_ATTEMPTS):
            timeout = min(tw.download_timeout_seconds, deadline - time.monotonic())
            if timeout <= _FETCH_RETRY_SECONDS:
                break
            if attempt:
                time.sleep(_FETCH_RETRY_SECONDS)
            try:
                got = fetch_recording(url, path, api_base=tw.api_base, auth=self._auth(),
                                      timeout=timeout)
            except FetchError as exc:
                log.warning("call %s: %s", call_sid, exc)
                error = str(exc)
                if isinstance(exc, UrlRefused):
                    break
                continue
            return Taken(path, got.sha256, None, url)
        return Taken(path, None, error, url)

    def _auth(self) -> tuple[str, str] | None:
        # fetch_recording sends these only to twilio.api_base, whatever RecordingUrl says.
        tw = self.settings.twilio
        return (tw.account_sid, tw.auth_token) if tw.account_sid else None

    def _journaled(self, j: CallJournal) -> Taken:
        """The recording the journal names, as ``_take`` would have returned it."""
        path = Path(j.recording_path or "")
        if j.recording_sha256 and path.is_file():
            return Taken(path, j.recording_sha256, None, j.recording_url or "")
        return Taken(path, None, "the recording could not be downloaded",
                     j.recording_url or "")

    def _understand(self, call: TwilioCall, taken: Taken, deadline: float) -> str:
        if not self._hear(call, taken, deadline):
            return twiml.hang_up()
        intake = call.intake
        if call.ended:  # the caller hung up before this arrived: ticket only
            intake.file_ticket()
            self.calls.settle(call)
            return twiml.hang_up()
        if intake.journal.transcript:
            # Understood first, our stop or not: before (mend74) a fire reported during
            # the stop was filed unread, the caller told "稍后再拨12345".
            return self._turn(call)
        if self.stopping.is_set():  # no read-back: filed, and the stop's notice
            return self._stop_notice(call)
        return self._file_and_goodbye(call)

    def _hear(self, call: TwilioCall, taken: Taken, deadline: float) -> bool:
        """The recording decoded (within ``deadline``) into the journal: the complaint
        is wanted as a ticket. False when it is a fax machine's tones: the call ended
        then, no ticket."""
        intake = call.intake
        j = call.journal
        if (taken.sha256 is None and call.ended and j.ticket_number and j.recording_sha256
                and j.recording_path != str(taken.path)):
            # Said again after key 2, come after the status filed the first, and not
            # downloaded: the first recording and its words stay the ticket's and the call
            # record's, as on the line (``_recording_taken``), the URL on the record's note
            # (``said_again_url``) until it is fetched. Review92: the record named the second,
            # not held, and retention deleted the first as one it replaced, the ticket still
            # naming it.
            j.said_again_url = taken.url
            return True
        if taken.sha256 is None:
            # The path is kept although the file is missing: the recording status
            # callback fetches it there later, and the backlog job decodes it then. Its
            # URL goes on the call record (``intake._record_for``) for a retry by hand,
            # should that callback never come or fail too.
            call.journal.recording_url = taken.url
            decoded = Decoded(None, error=taken.error)
        else:
            decoded = decode_within(self.engine(), taken.path, deadline=deadline,
                                    rtf_guess=self.settings.twilio.decode_rtf_guess)
        call.journal.rerecording = None  # heard: its words are the journal's now
        call.journal.said_again_url = None  # and its recording, fetched or not
        if not decoded.text and not call.journal.want_ticket and _fax_only(taken.path):
            # A fax machine's tones and no speech (as on the SIP line): no ticket, the call
            # counted NO_SPEECH, its recording on the call record (loose28: each was a
            # "（录音待转写）" ticket in the manual queue).
            log.info("call %s: the recording is a fax machine's tones, no speech: no ticket",
                     call.journal.call_id)
            intake.recording(taken.path, taken.sha256, decoded.seconds)
            intake.end(CallOutcome.NO_SPEECH)
            return False
        # The recording and its words in one write (``CallIntake.heard``).
        intake.heard(taken.path, taken.sha256, decoded.seconds, decoded.text or None,
                     decoded.meta if decoded.text else None,
                     None if decoded.text else decoded.error or "nothing recognised")
        return True

    def _turn(self, call: TwilioCall, *, again: bool = False) -> str:
        """What the words lead to (ivr.decisions, as on the SIP line). ``again``: the same
        recording's webhook once more -- the same answer is offered again."""
        j = call.journal
        turn = take_turn(sessions=self.sessions, domain=self.domain, text=j.transcript,
                         ask_again=False, offer_answer=again or j.kb_offered is None,
                         call_id=j.call_id)
        number = emergency_service(turn.understanding)
        if turn.step is Step.EMERGENCY and number is not None:
            way = handover_way(turn.understanding, j.handover_declined)
            if way is Handover.AT_ONCE:
                # Our stop too: Twilio runs the <Dial>, which needs nothing of this
                # process (the ticket and the hand-over event are committed first).
                return self._emergency(call, number)
            if way is Handover.DECLINED:
                if self.stopping.is_set():
                    return self._stop_notice(call)
                return twiml.readback(readback_sentence(turn.understanding), self.urls)
            # The model's hand-over alone: announced with a way out (key 2), as on SIP.
            j.handover_asked = number
            if self.stopping.is_set():
                # No question at our stop, whose answer would need a webhook we may no
                # longer take: journaled as cut and "请挂机后直接拨打119", as on SIP.
                return self._stop_notice(call)
            call.save()
            return twiml.offer_emergency(number, self.urls, DECLINE_WAIT_SECONDS)
        if self.stopping.is_set():  # no answer, no read-back: filed, and the notice
            return self._stop_notice(call)
        if turn.step is Step.ANSWER and turn.answer is not None:
            a = turn.answer
            log.info("call %s: answered from knowledge entry %s v%d (confidence %.2f)",
                     j.call_id, a.entry_id, a.version, a.confidence)
            first, *rest = answer_reading(a, self.settings.ivr.kb_part_chars)
            j.kb_rest = [part.said for part in rest]
            j.kb_offered = a.entry_id
            call.save()
            return twiml.kb_answer(first, self.settings, self.urls)
        return twiml.readback(readback_sentence(turn.understanding), self.urls)

    def _emergency(self, call: TwilioCall, number: str) -> str:
        """The urgent ticket and its hand-over event are committed before the <Dial> is
        returned: a caller put through (or cut off) has lost nothing."""
        uri, target = emergency_target(self.settings, number)
        if not call.ended:  # else settled already (a webhook sent again): only the answer
            file_emergency(call.intake, service_number=number, target=target)
            log.info("call %s: emergency %s hand-over to %s", call.journal.call_id, number,
                     target)
        if not uri:
            if not call.ended:
                call.intake.end()
            return twiml.emergency_failed(number)
        self._bridged(call)
        return twiml.dial_emergency(number, uri, self.urls,
                                    self.settings.twilio.operator_ring_seconds)

    def _bridged(self, call: TwilioCall) -> None:
        """The <Dial> goes back: the call lives at Twilio until the Dial's action, with no
        webhook meanwhile. Its journal says so (saved), and the watcher asks Twilio every
        ``ALIVE_SECONDS`` whether it is still up (``bridges_alive``)."""
        if call.ended:
            return
        call.journal.bridged_at = call.journal.bridged_at or utcnow().isoformat()
        call.save()
        self._watch_bridges()

    def bridges_alive(self, status_of: Callable[[str], str | None] | None = None
                      ) -> list[threading.Thread]:
        """The heartbeat of every Twilio bridge in the spool: a call Twilio says is still up
        is alive (``CallIntake.alive``: its journal written again, its record's
        ``alive_at``), as the SIP bridge's loop says it every ``ALIVE_SECONDS`` (review52).
        Before (loose26) a Twilio bridge said nothing: one over 15 minutes was settled as
        cut (``recover_spool``) and its caller taken for free by the outbound side
        (``live_call``), a survey ringing them mid-talk. A call Twilio says is over, or
        cannot tell about, gets no heartbeat: its Dial action or status callback settles
        it, or, lost, the 15-minute rule does. The record writes started (to wait on)."""
        status_of = status_of or self._call_status
        started: list[threading.Thread] = []
        for journal in self._bridges():
            status = status_of(journal.call_id)
            if status not in CALL_UP_STATUSES:
                continue
            with self.calls.lock(journal.call_id):
                call = self.calls.find(journal.call_id)
                if call is None or call.ended or not call.journal.bridged_at:
                    continue  # ended meanwhile
                writer = call.intake.alive()
                if writer is not None:
                    started.append(writer)
        return started

    def _call_status(self, call_sid: str) -> str | None:
        tw = self.settings.twilio
        return call_status(tw.api_base, tw.account_sid, call_sid,
                           auth=(tw.account_sid, tw.auth_token))

    def _bridges(self) -> list[CallJournal]:
        """The journals of Twilio calls bridged at Twilio, not ended, in the spool."""
        return [j for j in self.calls.spool.pending()
                if j.carrier == "twilio" and j.bridged_at and not j.ended_at]

    def resume_bridges(self) -> None:
        """At the app's start: the spool's bridges of an earlier process get the watcher
        too. Before (review53) it started only from a new bridge, so after a restart
        those had no heartbeat and were settled as cut after 15 minutes."""
        try:
            held = bool(self._bridges())
        except Exception:  # the app starts all the same; the watcher looks again
            log.exception("twilio bridges in the spool could not be read at start")
            held = True
        if held:
            self._watch_bridges()

    def reconcile_later(self) -> None:
        """At the app's start, beside ``resume_bridges``: ``reconcile`` on a thread of its
        own (it asks Twilio's API, a few seconds a call at worst; the app serves
        meanwhile)."""
        self.reconciling = threading.Thread(target=self._reconcile_logged,
                                            name="twilio-reconcile", daemon=True)
        self.reconciling.start()

    def _reconcile_logged(self) -> None:
        try:
            self.reconcile()
        except Exception:  # recovery's 15 minutes still settle what is left
            log.exception("twilio calls of the spool could not be reconciled at start")

    def reconcile(self) -> list[str]:
        """The spool's Twilio calls still in a dialogue that an earlier process left
        (stopped, or died) and whose last callbacks it never took: Twilio's API is asked
        for each. One Twilio says is over is settled now as its lost status callback would
        have settled it, and, when nothing of the caller's was taken yet, its newest
        completed recording is fetched and made the ticket as a lost recording status
        callback would have (``recording_ready``: a caller who spoke their complaint while
        we stopped, whose ``<Record>`` ended after our listener was down). A call Twilio
        says is up, or one the API says nothing of, is left: its webhooks come, or
        recovery's 15 minutes settle it. Once a call: Twilio's own callback coming too
        (before or after) finds the recording taken, and the call's one ticket
        (twilio36; before, such a complaint was settled unheard after 15 minutes, the
        recording left at Twilio). Returns the calls settled."""
        auth = self._auth()
        if auth is None:  # no account to ask with
            return []
        settled = []
        for j in self.calls.spool.pending():
            if j.carrier != CARRIER or j.ended_at or j.bridged_at:
                continue
            try:
                if self._reconcile_one(j, auth):
                    settled.append(j.call_id)
            except Exception:  # one call's fault (its database write) is not the others'
                log.exception("twilio call %s of the spool could not be reconciled; left "
                              "to recovery", j.call_id)
        return settled

    def _reconcile_one(self, j: CallJournal, auth: tuple[str, str]) -> bool:
        """``reconcile``'s look at one call: True when it was settled."""
        tw = self.settings.twilio
        said = call_status(tw.api_base, tw.account_sid, j.call_id, auth=auth,
                           timeout=tw.api_timeout_seconds)
        if said is None or said not in FINAL_CALL_STATUS:
            return False
        recordings: list[tuple[str, str]] | None = []
        # Nothing taken yet, or key 2's recording not come: the newest is the caller's.
        if not (j.want_ticket or j.recording_path) or j.rerecording == RERECORD_ASKED:
            recordings = call_recordings(tw.api_base, tw.account_sid, j.call_id,
                                         auth=auth, timeout=tw.api_timeout_seconds)
            if recordings is None:
                return False  # asked again at the next start, or recovery's rule
        log.warning("twilio call %s left in the spool by an earlier process: Twilio says "
                    "%s; settled now%s", j.call_id, said,
                    ", its recording fetched" if recordings else "")
        self.status(j.call_id, said)
        if recordings:
            recording_sid, url = recordings[0]
            try:
                self.recording_ready(j.call_id, recording_sid, url, "completed",
                                     time.monotonic())
            except RecordingNotFetched as exc:  # settled, its URL on the call record
                log.warning("%s; its URL is kept on the call record", exc)
        return True

    def _watch_bridges(self) -> None:
        """One watcher thread a process while any bridge is up (started by the first, or at
        the app's start by the spool's; gone once the spool holds none)."""
        with self._watcher_guard:
            if self._closing.is_set() or (self._watcher is not None
                                          and self._watcher.is_alive()):
                return
            self._watcher = threading.Thread(target=self._watch, name="twilio-bridges",
                                             daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        failures = 0
        while not self._closing.wait(ALIVE_SECONDS * min(2 ** failures, _WATCH_BACKOFF)):
            try:
                self.bridges_alive()
                # Under the guard: a bridge saved meanwhile either is seen here or starts
                # a watcher of its own once this one is gone (``_watch_bridges``).
                with self._watcher_guard:
                    if not self._bridges():
                        self._watcher = None
                        return
                failures = 0
            except Exception:
                # The next turn tries again, later each time: the watcher must not die.
                # Before (review53) the spool read outside the try ended it for good.
                failures += 1
                log.exception("twilio bridges' heartbeat failed (%d in a row)", failures)
        with self._watcher_guard:
            self._watcher = None

    def _readback(self, text: str | None) -> str:
        return readback_sentence(self.domain.understand(text) if text else None)

    def _file_and_goodbye(self, call: TwilioCall, preface: str = "") -> str:
        filed = call.intake.file_ticket()
        call.intake.end()
        return self._filed_twiml(call, filed, preface=preface)

    def _ask_number_or(self, call: TwilioCall, then: str, preface: str = "") -> str:
        """Before the ticket ("file") or the callback request ("callback"): a caller whose
        number was withheld is offered to key one in (as on the SIP line)."""
        if ask_callback_number(call.intake, asked=False, callback_request=then == "callback"):
            call.save()
            return twiml.ask_callback_number(self.urls, then=then, preface=preface)
        if then == "callback":
            return self._callback_request(call, preface=preface)
        return self._file_and_goodbye(call, preface=preface)

    def _filed_twiml(self, call: TwilioCall, filed: FiledTicket | None,
                     preface: str = "") -> str:
        if filed is None:  # database down: the spool keeps the call, recovery files it
            return twiml.filed_later()
        return twiml.filed(filed.number, deadline_told(filed, self.settings), preface=preface,
                           recording_kept=not call.journal.recording_not_fetched)

    def _replay(self, call: TwilioCall, preface: str = "") -> str:
        """A webhook Twilio sent again (its first answer timed out): the same answer, and
        nothing recorded twice."""
        j = call.journal
        if j.ticket_number:
            with self.sessions() as s:
                t = s.scalars(select(Ticket).where(Ticket.number == j.ticket_number)).first()
                filed = None if t is None else filed_ticket(t)
                emergency = None if t is None or t.emergency in (None, "none") else t.emergency
            if j.kb_entry:
                return twiml.kb_answered()
            # A declined hand-over's ticket is urgent but was never handed over.
            if emergency is not None and (j.handover is not None or j.handover_declined is None):
                return self._emergency(call, emergency)  # idempotent: one event
            return self._filed_twiml(call, filed, preface=preface)
        if j.transcript:
            return self._turn(call, again=True)
        return self._file_and_goodbye(call)

    def _operator(self, call: TwilioCall) -> str:
        uri = self.settings.sip.operator_uri
        if call.journal.want_ticket and not call.journal.ticket_number:
            call.intake.file_ticket()  # what was already said is not lost in the transfer
        if not uri:
            return self._ask_number_or(call, "callback")
        call.journal.outcome = CallOutcome.OPERATOR.value
        self._bridged(call)
        return twiml.dial_operator(uri, self.urls, self.settings.twilio.operator_ring_seconds)

    def _callback_request(self, call: TwilioCall, preface: str = "") -> str:
        call.intake.file_ticket(CallOutcome.CALLBACK_REQUEST)
        call.intake.end(CallOutcome.CALLBACK_REQUEST)
        return twiml.callback_left(preface)

    def keyed_ticket(self, call_sid: str, digits: str) -> str:
        """The ticket number a caller nobody vouched for keyed at key 1 (or none): that
        ticket's step alone (``ivr.ticket_lookup.keyed_ticket_status``), as on the SIP line;
        at most TICKET_TRIES_PER_CALL numbers a call, a try being a number keyed."""
        with self.calls.lock(call_sid):
            call = self.calls.find(call_sid)
            if call is None:
                return twiml.unknown_call()
            j = call.journal
            number = keyed_digits(digits)
            if not number:  # # at once: no number keyed, no try used (as on SIP)
                return twiml.status_keyed(prompts.text("status_ticket_unknown"),
                                          self.settings, self.urls)
            if j.ticket_tries >= TICKET_TRIES_PER_CALL:  # the action posted again
                return self._ticket_tries_over(call)
            j.ticket_tries += 1
            call.save()
            try:
                if not self.keyed_lookups.take(*_keyed_keys(j)):
                    return self._ticket_tries_over(call)  # spent by the From's or source's
                found = keyed_ticket_status(self.calls.read_sessions, number)
            except SQLAlchemyError as exc:
                log.error("call %s: ticket number lookup failed: %s", j.call_id,
                          exc.__class__.__name__)
                said = prompts.text("status_unavailable")
            else:
                said = (prompts.text("status_ticket_unknown") if found is None
                        else prompts.status_item_text(found.tail, found.label))
            return twiml.status_keyed(said, self.settings, self.urls)

    def _ticket_tries_over(self, call: TwilioCall) -> str:
        log.warning("call %s: ticket number lookup refused (%d this call): enumeration",
                    call.journal.call_id, call.journal.ticket_tries)
        return twiml.status_keyed(prompts.text("status_tries_over"), self.settings,
                                  self.urls)

    def _status(self, call: TwilioCall) -> str:
        if call.journal.outcome == CallOutcome.IN_PROGRESS.value:
            call.journal.outcome = CallOutcome.STATUS_QUERY.value
        # Whether the carrier vouched for the number: one decision with the SIP line's.
        if not number_verified(CallerVouch(call.journal.caller_vouch)):
            call.save()
            try:
                spent = (call.journal.ticket_tries >= TICKET_TRIES_PER_CALL
                         or not self.keyed_lookups.open(*_keyed_keys(call.journal)))
            except SQLAlchemyError as exc:
                log.error("call %s: ticket number count failed: %s", call.journal.call_id,
                          exc.__class__.__name__)
                return twiml.status_keyed(prompts.text("status_unavailable"), self.settings,
                                          self.urls)
            if spent:  # refused before the caller keys anything, as on SIP
                return self._ticket_tries_over(call)
            return twiml.ask_ticket_number(self.urls)
        report: StatusReport | None
        try:
            # A reader's session: a writer's takes SQLite's write lock at BEGIN, and with
            # another process holding it the caller's key 1 waited out the busy time (31 s
            # measured), past Twilio's 15 s, for a look-up that writes nothing.
            report = open_tickets(self.calls.read_sessions, call.journal.caller,
                                  reasons=self.settings.verification.exclusion_reasons,
                                  limit=_STATUS_LINES)
        except SQLAlchemyError as exc:
            log.error("call %s: status lookup failed: %s", call.journal.call_id,
                      exc.__class__.__name__)
            report = None
        call.save()
        return twiml.status_report(report, self.settings, self.urls)

    def _settled(self, call: TwilioCall) -> bool:
        return not self.calls.spool.path(call.journal.call_id).exists()


def _keyed_keys(j: CallJournal) -> tuple[str, ...]:
    """Whose counts a Twilio caller's keyed ticket numbers go to: the one rule
    (``keyed_count_keys``), with the From number and the address Twilio names for a call
    that reached it over SIP (``SipSourceIp``, kept from /voice); none for a PSTN caller."""
    return keyed_count_keys(caller=j.caller, address=j.caller_address)


def _earlier(call: TwilioCall, path: Path) -> bool:
    """Whether ``path``, not the journal's recording, is an earlier one of the call sent
    again (or late): Twilio records only the first complaint and, after key 2, the one
    said again, so on a live call that heard one no other is awaited but while key 2's is
    (``rerecording``); on a call settled with its ticket a recording we already hold is
    an earlier one, a new one is key 2's, come after the status (``intake._said_again``).
    Taken as new, an earlier one put the first words back over those said again
    (mend85)."""
    j = call.journal
    if j.recording_path == str(path):
        return False
    if call.ended:
        return bool(j.ticket_number) and path.exists()
    return j.want_ticket and j.rerecording != RERECORD_ASKED


def _fax_only(path: Path) -> bool:
    try:
        return fax_only(read_wav_pcm16(path))
    except (OSError, AudioFormatError):
        return False  # unreadable: kept as a ticket, a person can listen (as before)


def _said_back(j: CallJournal) -> str:
    """The caller's 保密 / 不要回访 choices, as they are said back before the ticket."""
    return "".join(prompts.text(PREFERENCE_SAID[k]) for k in PREFERENCE_SAID if getattr(j, k))


def _seconds(path: Path) -> float | None:
    try:
        return read_wav(path).duration_seconds
    except AudioFormatError:
        return None
