"""The inbound call flow, as an explicit state machine.

One ``Dialogue`` per answered call, run on the adapter's per-call thread. Every state has
one method (``_s_<state>``) that plays, listens, and returns the next state; ``run``
refuses any step that is not in ``TRANSITIONS`` (a bug, not a caller action), so the table
below *is* the flow. A caller hanging up can happen in every state: each state notices
(``call.ended``) and goes to HANGUP, which keeps whatever was said.

The caller is never forced through a menu before speaking (GB/T 33358): the greeting
already asks for the complaint; 0 (operator) and 1 (ticket status) are shortcuts.

Outcomes (``CallOutcome`` on the call record): TICKET when a complaint was spoken -- also
when the caller hung up before confirming; ABANDONED for silence only; OPERATOR when
bridged; CALLBACK_REQUEST when no operator answered (a ticket asks for a call back);
STATUS_QUERY when they only listened to their tickets' status.

Emergencies (三号联动): words classified 110/119/120 skip the read-back and its confirm key --
a caller reporting a fire must not be asked to press 1. The hand-over is journaled in the spool
at once and the urgent ticket with its audited hand-over event is written beside the transfer
(recover_spool files it if the database is down) while the call is bridged to that service's URI
(``ivr.emergency_uris``) or, none set, to the duty operator; when nobody answers the caller
is told to dial the service themselves. A hand-over only the intake model asked for
(``Understanding.model_handover``: no emergency rule named the service) is announced first
with a way out, "…不需要转接请按2": 2 reads the words back and files them as a complaint
(the ticket saying the caller declined); silence, another key or a hang-up hand over.

Questions (知识库): when the knowledge base says one of its current entries answers the
caller's words (``knowledge.search``'s own confidence rule, which also refuses complaints
sharing words with an entry), the entry's answer is read (ANSWER) before any read-back, then
"问题解决了请按1，需要转办请按2": 1 files a ticket closed at intake as 直接答复 through the
console's function (ANSWERED, counted in 直办率); 2 or no key goes on to the read-back as
without an answer; 0 reaches the operator. An answer is offered once per call. A question
whose best entry is likely but under the answer threshold (``settings.ivr.kb_confirm_from``
up to ``kb_answer_from``) is confirmed first (CONFIRM_ENTRY, "您是想问<title>吗？是请按1，
不是请按2"): 1 reads the answer as above, 2 or no key goes on to the read-back, 0 reaches
the operator.

Withheld numbers: a caller whose number the network did not give (anonymous, withheld,
unknown) gets a ticket with no phone, and before it is filed is offered once to key in a
number to be called back on (CALLBACK_NUMBER). That number is stored as keyed in by the
caller: the survey and SMS use it, the 多诉 link and key 1 do not (anyone can key any
number). Key 1 without a number says it cannot look anything up.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from asr.backlog import transcript_meta
from ivr import prompts as P
from ivr.audio import CallAudio
from ivr.caller_trust import number_verified
from ivr.callrecords import CallOutcome
from ivr.decisions import (
    DECLINE_WAIT_SECONDS,
    AfterAnswer,
    Handover,
    OfferReply,
    after_answer,
    ask_callback_number,
    choose_preference,
    confirm_again,
    deadline_told,
    emergency_service,
    emergency_target,
    file_direct_answer,
    handover_way,
    keyed_digits,
    next_step,
    offer_reply,
    readback_sentence,
    rerecord,
    stop_notice,
    take_turn,
    unserved_at_stop,
)
from ivr.intake import (
    MAX_CALLBACK_DIGITS,
    CallIntake,
    FiledTicket,
    Spool,
    left_to_backlog,
    other_key,
)
from ivr.kb_answer import KbAnswer, answer_reading, clause_text
from ivr.ticket_lookup import (
    TICKET_TRIES_PER_CALL,
    KeyedLookups,
    keyed_count_keys,
    keyed_ticket_status,
    open_tickets,
)
from ivr.transfer import TransferResult, bridge_to_operator
from telephony.call import CallHandle, EndReason, HoldWait, PlayResult, set_keys_ahead_aside
from ticketing import phones
from ticketing.intake_model import Understanding
from ticketing.service import (
    HANDOVER_CALLER_GONE,
    HANDOVER_NOWHERE,
    HANDOVER_PUT_THROUGH,
    HANDOVER_REFUSED,
    HANDOVER_RUNG_OPERATOR,
    HANDOVER_STOPPED,
    HANDOVER_UNANSWERED,
)

if TYPE_CHECKING:
    from asr.engine import AsrEngine
    from asr.stream import Transcript
    from config.settings import Settings
    from ivr.prompts import PromptLibrary
    from telephony.sip.frontend import SipFrontEnd
    from ticketing.context import Domain

log = logging.getLogger("hotline.ivr.call_flow")


class State(Enum):
    GREETING = "greeting"  # greeting; speech barges in, 0/1 are shortcuts
    REPROMPT = "reprompt"  # nothing heard: ask once more
    BEEP = "beep"  # the tone after which we listen
    RECORD = "record"  # listening: ends on #, silence after speech, or max length
    UNDERSTAND = "understand"  # the turn's transcript, classified
    ASK_AGAIN = "ask_again"  # empty, low-confidence or too-little words: say it again (once)
    READBACK = "readback"  # "您反映的是…问题，地址是…" + "确认请按1，重新录音请按2"
    CONFIRM = "confirm"  # waiting for 1 / 2
    PREFERENCES = "preferences"  # 1 保密, 2 不要回访, # (or silence) to file
    RERECORD = "rerecord"  # 2: record the complaint again
    FILE = "file"  # make the ticket, read its number and deadline
    GOODBYE = "goodbye"
    SILENCE_GOODBYE = "silence_goodbye"  # silence twice: end politely, no ticket
    OPERATOR = "operator"  # 0: bridge to the operator
    CALLBACK = "callback"  # no operator: callback-request ticket
    STATUS = "status"  # 1: read the caller's open tickets
    AFTER_STATUS = "after_status"  # "如需反映新的诉求，请在提示音后直接说出"
    EMERGENCY = "emergency"  # 110/119/120: ticket at once, then bridge to the service
    # A question the knowledge base answers: its answer, then "问题解决了请按1，需要转办请按2"
    ANSWER = "answer"
    ANSWERED = "answered"  # 1: a ticket closed at intake as 直接答复
    # Likely but under the answer threshold: "您是想问<title>吗？是请按1，不是请按2"
    CONFIRM_ENTRY = "confirm_entry"
    # Withheld number: "如需回访，请输入您的手机号码…", before the ticket (or callback request)
    CALLBACK_NUMBER = "callback_number"
    HANGUP = "hangup"  # the caller hung up: keep what was said
    DONE = "done"


# Longest the listening step waits for the audio received so far to be counted before it
# decides nothing was said (Dialogue._spoke, CallAudio.catch_up). Bounded: a pump that
# never catches up must not hold the line.
CATCH_UP_SECONDS = 5.0
_ANY = frozenset({State.HANGUP})  # every live state may lose its caller
# Keys the preferences menu takes before it files the ticket as chosen so far: both
# choices, each said back, and slips. Without a bound, a line keying on (a stuck key, a
# caller or a script pressing * every few seconds) held the menu and the line for ever.
MAX_PREFERENCE_KEYS = 6
# A hand-over's bridge as the ticket's trail names it (ticketing words it).
HANDOVER_RESULTS = {
    TransferResult.BRIDGED: HANDOVER_PUT_THROUGH,
    TransferResult.NO_ANSWER: HANDOVER_UNANSWERED,
    TransferResult.REFUSED: HANDOVER_REFUSED,
    TransferResult.NOT_SET: HANDOVER_REFUSED,  # no call placed
    TransferResult.CALLER_GONE: HANDOVER_CALLER_GONE,
}
# Keys one callback number may take (``Dialogue._keyed_digits``): the longest entry and a
# few slips. "*" and the letter keys are no digit and were not counted, so a line keying
# them every few seconds held the question, and the line, for ever.
MAX_CALLBACK_KEYS = MAX_CALLBACK_DIGITS + 4
TRANSITIONS: dict[State, frozenset[State]] = {
    State.GREETING: _ANY | {State.BEEP, State.RECORD, State.OPERATOR, State.STATUS},
    State.REPROMPT: _ANY | {State.BEEP, State.RECORD, State.OPERATOR, State.STATUS},
    State.BEEP: _ANY | {State.RECORD, State.OPERATOR},
    State.RECORD: _ANY | {State.UNDERSTAND, State.REPROMPT, State.SILENCE_GOODBYE,
                          State.GOODBYE, State.OPERATOR, State.FILE, State.CALLBACK_NUMBER},
    State.UNDERSTAND: _ANY | {State.ASK_AGAIN, State.READBACK, State.EMERGENCY, State.ANSWER,
                              State.CONFIRM_ENTRY},
    State.CONFIRM_ENTRY: _ANY | {State.ANSWER, State.READBACK, State.OPERATOR},
    State.ANSWER: _ANY | {State.ANSWERED, State.READBACK, State.OPERATOR},
    State.ANSWERED: _ANY | {State.GOODBYE},
    State.ASK_AGAIN: _ANY | {State.BEEP, State.RECORD, State.OPERATOR},
    State.READBACK: _ANY | {State.CONFIRM, State.OPERATOR},
    State.CONFIRM: _ANY | {State.PREFERENCES, State.FILE, State.RERECORD, State.OPERATOR,
                           State.CONFIRM, State.CALLBACK_NUMBER},
    State.PREFERENCES: _ANY | {State.FILE, State.OPERATOR, State.CALLBACK_NUMBER},
    State.RERECORD: _ANY | {State.BEEP, State.RECORD, State.OPERATOR},
    State.FILE: _ANY | {State.GOODBYE},
    State.GOODBYE: _ANY | {State.DONE},
    State.SILENCE_GOODBYE: _ANY | {State.DONE},
    State.OPERATOR: _ANY | {State.DONE, State.CALLBACK, State.CALLBACK_NUMBER},
    State.CALLBACK_NUMBER: _ANY | {State.FILE, State.CALLBACK},
    State.CALLBACK: _ANY | {State.DONE},
    State.STATUS: _ANY | {State.AFTER_STATUS, State.OPERATOR},
    State.AFTER_STATUS: _ANY | {State.BEEP, State.RECORD, State.OPERATOR},
    State.EMERGENCY: _ANY | {State.DONE, State.READBACK},  # the operator within (review53)
    State.HANGUP: frozenset({State.DONE}),
    State.DONE: frozenset(),
}


class InvalidStep(RuntimeError):
    pass


class Heard(Enum):
    """How a prompt ended."""

    DONE = "done"
    KEY = "key"  # a key was pressed (still queued for get_dtmf)
    SPEECH = "speech"  # the caller talked over it (barge-in)
    HUNG_UP = "hung_up"


@dataclass
class IvrServices:
    """What every call's dialogue shares (built once by ivr.runtime)."""

    settings: Settings
    sessions: sessionmaker[Session]
    domain: Domain
    prompts: PromptLibrary
    spool: Spool
    engine: AsrEngine | None
    frontend: SipFrontEnd | None = None
    # Called once a call's ticket waits for the transcription backlog's words (hotline
    # serve: start the drain now). The voice job's tick would find the job too, but up to
    # its interval later, and the ticket is not dispatched before its words come.
    on_backlog: Callable[[], object] | None = None
    # Ticket numbers keyed by callers nobody vouched for, by address (key 1).
    keyed_lookups: KeyedLookups = field(init=False)
    # Set when our stop (SIGTERM) begins (``ivr.runtime.IvrRuntime.stop``): every dialogue
    # leaves its turn, tells its caller, hangs up and files what was said
    # (``Dialogue._gone``, ``_s_hangup``) while the stop waits for it.
    stopping: threading.Event = field(default_factory=threading.Event)
    # When our stop's drain ends (``time.monotonic``; set with ``stopping``): the stop's
    # waits (the speech gate's lag, the last turn's decoding) end by then, whatever is left
    # staying for the next start's recovery (``Dialogue._by_stop``). None: no stop.
    stop_deadline: float | None = None

    def __post_init__(self) -> None:
        self.keyed_lookups = KeyedLookups(
            sessions=self.sessions, per_address=self.settings.ivr.ticket_numbers_per_address)


def _seconds(pcm16: bytes) -> float:
    """How long 16-bit 8 kHz mono audio plays."""
    return len(pcm16) / (2 * 8000)


def after_understanding(understanding: Understanding | None, *, ask_again: bool,
                        answer: KbAnswer | None = None) -> State:
    """The step after a turn was classified, as the dialogue's state (the decision is
    ``ivr.decisions.next_step``, shared with the Twilio webhooks)."""
    return State(next_step(understanding, ask_again=ask_again, answer=answer).value)


def sip_recording_path(settings: Settings, call_id: str, now: datetime | None = None) -> Path:
    """Where a SIP call's recording is written: a folder per day, named by time and Call-ID
    (a Twilio recording's is ``ivr.twilio.fetch.twilio_recording_path``)."""
    now = now or datetime.now(UTC)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", call_id)
    if len(safe) > 80:  # two calls' ids alike for 80 characters must not share a file
        safe = f"{safe[:47]}-{hashlib.sha256(call_id.encode()).hexdigest()[:32]}"
    return (Path(settings.recordings_dir) / now.strftime("%Y/%m/%d")
            / f"{now.strftime('%H%M%S')}-{safe}.wav")


class Dialogue:
    def __init__(self, call: CallHandle, services: IvrServices) -> None:
        self.call = call
        self.svc = services
        self.sip = services.settings.sip
        self.prompts = services.prompts
        self.intake = CallIntake(sessions=services.sessions, domain=services.domain,
                                 spool=services.spool, call_id=call.call_id,
                                 caller=call.caller or "", callee=call.callee or None)
        self.intake.hold()  # until its end: never settled by recovery meanwhile
        self.audio: CallAudio | None = None
        self.state = State.GREETING
        self.trace: list[State] = []  # the path taken, for the log and the tests
        self.outcome: CallOutcome | None = None
        self.reprompts = 0
        self.asked_again = 0
        self.status_heard = False
        self.ticket_tries = 0  # ticket numbers asked for this call (key 1, unverified)
        self.number_asked = False  # a caller with a withheld number is asked once per call
        self.after_number = State.FILE  # where CALLBACK_NUMBER goes on
        self.turn_started_at = 0.0  # monotonic time listening began (after the beep)
        self.hold = HoldWait(call, lambda: self._gone)  # the one hold rule (``_missed``)
        self.transcript: Transcript | None = None  # latest turn with words
        self.asr_error: str | None = None
        self.classification: Understanding | None = None
        self.kb_answer: KbAnswer | None = None
        self.kb_offered = False  # an answer is read once a call: 2 means "file it"
        self.filed: FiledTicket | None = None
        self.ticket_filed = False  # file_ticket() was called (number known or spooled)
        self.handlers: dict[State, Callable[[], State]] = {
            s: getattr(self, f"_s_{s.value}") for s in State if s is not State.DONE
        }

    # ================================================================= driver
    def run(self) -> None:
        if not self.call.answer():  # CANCEL before we answered: nothing to do
            self.intake.end(CallOutcome.ABANDONED)
            return
        # Recording and listening start before anything waits on the database: answered()
        # writes the call record, and a database locked by another writer kept the call
        # there for SQLite's busy wait (30 s) while the caller, hearing nothing, told their
        # complaint and hung up; none of it was read, and the call was filed as abandoned
        # (fault trial, fifteenth round, docs/scaling.md).
        audio = CallAudio(self.call, recording_path=self._recording_path(),
                          engine=self.svc.engine, phrase_list=self.svc.settings.asr.phrase_list)
        self.audio = audio
        audio.start()
        audio.begin_turn()  # listen from the first moment: callers often start at once
        # The call record is written aside: the greeting played only once the locked
        # database let go, the caller hearing silence meanwhile (the same fault trial).
        self.intake.answered(aside=True)
        # The path is known now; the SHA-256 only once the call is over (see _finish).
        if audio.path is not None:
            self.intake.recording(audio.path)
        try:
            while self.state is not State.DONE:
                self.trace.append(self.state)
                nxt = self.handlers[self.state]()
                if self._gone and nxt not in (State.HANGUP, State.DONE):
                    nxt = State.HANGUP if self.state is not State.HANGUP else State.DONE
                if nxt not in TRANSITIONS[self.state]:
                    raise InvalidStep(f"{self.state.value} -> {nxt.value}")
                # One line per step, words never: what the caller said is personal data and
                # stays in the ticket, out of the logs.
                log.info("call %s: %s -> %s", self.call.call_id, self.state.value, nxt.value,
                         extra=self._log_fields(nxt))
                self.state = nxt
        except Exception:
            log.exception("call %s: dialogue failed in %s", self.call.call_id, self.state)
            if not self.call.ended:
                self.call.hangup()
            self._keep_what_was_said()
        finally:
            self._finish()

    def _recording_path(self) -> Path:
        """Named by the call's key in the spool, known before the database is asked whether
        a settled call had it (``CallIntake._claim``): a Call-ID reused within the same
        second as a settled call's gets a name of its own."""
        key = self.intake.journal.call_id
        path = sip_recording_path(self.svc.settings, key)
        return path if not path.exists() else sip_recording_path(self.svc.settings,
                                                                  other_key(key))

    def _finish(self) -> None:
        if not self.call.ended:
            self.call.hangup()
        assert self.audio is not None
        rec = self.audio.close()
        if rec is not None:
            self.intake.recording(rec.path, rec.sha256, rec.duration_seconds)
        self._recording_failed()
        self._drop_keys()
        settled = self.intake.end(self.outcome)
        if settled and self.svc.on_backlog is not None and left_to_backlog(self.intake.journal):
            try:
                self.svc.on_backlog()
            except Exception:  # the voice job's next tick starts the drain instead
                log.exception("call %s: starting the transcription backlog failed",
                              self.call.call_id)
        log.info("call %s from %s: %s, outcome %s, ticket %s%s", self.call.call_id,
                 phones.caller_id_shown(self.call.caller), " > ".join(s.value for s in self.trace),
                 self.intake.journal.outcome, self.intake.journal.ticket_number,
                 "" if settled else " (kept in spool: database unavailable)",
                 extra=self._log_fields(State.DONE))

    def _log_fields(self, step: State) -> dict[str, str | None]:
        return {"call_id": self.call.call_id, "ticket": self.intake.journal.ticket_number,
                "step": step.value}

    # ================================================================= helpers
    def _play(self, pcm: bytes, *, keys: bool = True, barge_in: bool = False,
              last: bool = False) -> Heard:
        """Play a prompt; one the caller held through (any of it) is played again once they
        are back (``_missed``): the read-back, a menu, the ticket's number. The ``last``
        words before we hang up play whole even if our stop begins meanwhile
        (``CallHandle.play_pcm16``)."""
        while True:
            mark = self.call.holds
            heard = self._play_once(pcm, keys=keys, barge_in=barge_in, last=last)
            if heard is not Heard.DONE or not self._missed(mark):
                return heard

    @property
    def _gone(self) -> bool:
        """The caller hung up, or our stop began (``IvrServices.stopping``): every turn
        that waits for the caller ends, as for a hang-up, and HANGUP tells a caller still
        on the line that the service stops before it hangs up (``_s_hangup``)."""
        return self.call.ended or self.svc.stopping.is_set()

    def _play_once(self, pcm: bytes, *, keys: bool, barge_in: bool, last: bool) -> Heard:
        assert self.audio is not None
        def gone() -> bool:  # the last words are cut only by the caller's hang-up
            return self.call.ended if last else self._gone

        if gone():
            return Heard.HUNG_UP
        self.audio.barge_in_armed = barge_in and self.sip.barge_in
        try:
            result = self.call.play_pcm16(pcm, interrupt_on_dtmf=keys, last=last)
        finally:
            self.audio.barge_in_armed = False
        if result is PlayResult.HUNG_UP or gone():
            return Heard.HUNG_UP
        if result is PlayResult.INTERRUPTED:
            return Heard.KEY
        if barge_in and self.audio.speech_started:
            return Heard.SPEECH
        return Heard.DONE

    def _key(self, timeout: float = 0.0) -> str | None:
        """A key pressed within ``timeout``; a wait the caller held through (any of it)
        starts again once they are back (``_missed``): a caller holding at the confirmation
        or a menu is not taken for one who pressed nothing."""
        while True:
            mark = self.call.holds
            key = self.call.get_dtmf(timeout=timeout)
            if key is not None:
                self.intake.key(key)
                return key
            if timeout <= 0 or not self._missed(mark):
                return None

    def _missed(self, mark: int) -> bool:
        """The one hold rule (``telephony.call.HoldWait``, outbound calls' too) for every
        turn that waits for the caller (a prompt, a key, the recording): whether the caller
        held the call since ``holds`` was ``mark`` and is back now, what they missed to be
        said or waited for again; the recording turn's clock stops while they hold. Before,
        only the recording turn waited: a caller holding at the read-back or the
        confirmation was timed out twice, the ticket filed and its number read to nobody."""
        before = self.hold.held_seconds
        back = self.hold.missed(mark)
        self.turn_started_at += self.hold.held_seconds - before
        return back

    def _drop_keys(self) -> None:
        """Keys pressed ahead answer nothing and stay on the call record
        (``set_keys_ahead_aside``, the rule outbound calls follow too)."""
        set_keys_ahead_aside(self.call, self.intake.key)  # one journal write for the burst

    def _after_listening_prompt(self, heard: Heard) -> State:
        """Where a prompt that asks for the complaint leads (greeting, re-prompts)."""
        if heard is Heard.HUNG_UP:
            return State.HANGUP
        if heard is Heard.SPEECH:
            return self._start_listening(beep=False)
        if heard is Heard.KEY:
            key = self._key()
            if key == "0":
                return State.OPERATOR
            # Any other key (# to skip the prompt, or a stray key) just gets the tone.
        return State.BEEP

    def _start_listening(self, *, beep: bool) -> State:
        self.turn_started_at = time.monotonic()
        return State.BEEP if beep else State.RECORD

    def _end_turn(self) -> None:
        """Collect the turn's transcript (bounded wait for the recognizer)."""
        assert self.audio is not None
        result = self.audio.finish_turn(self._by_stop(self.sip.transcript_wait_seconds))
        if result.transcript is not None and result.transcript.text.strip():
            self.transcript = result.transcript
            self.asr_error = None
        elif result.transcript is None and self.transcript is None:
            self.asr_error = result.error

    def _stop_notice(self) -> None:
        """Our stop: tell the caller the service stops -- and that their words are kept when
        they are (a ticket filed, or speech recorded, which this dialogue files next or the
        next start's recovery does) -- and hang up (BYE, ``EndReason.SHUTDOWN``). Before,
        the stop's BYE came with nothing said, mid-sentence or mid-menu.

        A caller whose words call for 110/119/120 and who was not put through hears what
        every hand-over that failed says, "请挂机后直接拨打119" (``_emergency_unserved``);
        before (review64) they heard "请稍后再拨12345".

        A turn still listening is closed, its decoding queued, before the notice plays:
        the notice (seconds) overlaps the decoding and the caller's reply to it is no part
        of their complaint. Before (review64) decoding began after the notice, and the
        drain's common case (notice ~10 s, decoding up to ``transcript_wait_seconds``)
        outlasted ``sip.stop_drain_seconds``."""
        assert self.audio is not None
        number = self._emergency_unserved()
        # The speech gate may lag the frames (``catch_up``): what the caller said before
        # the stop is counted, and in the turn, before the turn closes. Bounded so that
        # the wait, the notice and the decoding after it end by the drain's deadline
        # (``_by_stop``; review70: 5 s + the notice's 10.7 s + 5 s overran its 15 s); the
        # decoding runs while the notice plays.
        notice = self.prompts.pcm(stop_notice(number, kept=True))  # the longest it may be
        self.audio.catch_up(self._by_stop(CATCH_UP_SECONDS, after=_seconds(notice)))
        if self.audio.listening:
            if self.audio.speech_started:
                self.audio.close_turn()
            else:
                # A turn with no speech yet ends unread: the caller's reply to the notice
                # ("喂？怎么回事") is no complaint. Before (review70) it stayed open and
                # was filed as one, a 服务停止 ticket.
                self.audio.drop_turn()
        said = stop_notice(number, kept=self.ticket_filed or self.audio.spoke)
        self.call.play_pcm16(self.prompts.pcm(said), last=True)
        self.call.end(EndReason.SHUTDOWN)

    def _by_stop(self, seconds: float, *, after: float = 0.0) -> float:
        """``seconds``, cut so that a wait (followed by ``after`` seconds more) ends by our
        stop's drain deadline (``IvrServices.stop_deadline``); ``seconds`` with no stop."""
        deadline = self.svc.stop_deadline
        if deadline is None or not self.svc.stopping.is_set():
            return seconds
        return max(0.0, min(seconds, deadline - time.monotonic() - after))

    def _emergency_unserved(self) -> str | None:
        """The service (110, 119, 120) the caller's words call for when they were not put
        through to it and did not decline it; else None."""
        return unserved_at_stop(self.classification, self.intake.journal.handover_declined)

    def _keep_what_was_said(self) -> None:
        """The caller is gone (or we failed): a complaint that was spoken becomes a ticket
        when the call is closed (intake.end), transcribed now or by the backlog."""
        assert self.audio is not None
        if self.ticket_filed or self.outcome is not None:
            return
        if self.audio.listening:
            self.audio.hurry()  # the ticket now waits for these words
        # Drain first: on a node short of CPU the audio reader can be seconds behind the
        # BYE, and the speech it has not read yet is the complaint (bench/scale.py). Nobody
        # waits on the line now, so wait generously.
        self.audio.wait_drained(timeout=self._by_stop(15.0))
        if not self.audio.spoke:
            return
        if self.call.end_reason is EndReason.SHUTDOWN or self.svc.stopping.is_set():
            # Our stop cut the caller off, not their hang-up: the ticket asks for a call back.
            self.intake.stopped()
        if self.audio.listening or self.audio.closed_turn:  # a turn's words count
            self._end_turn()
        self._understood()
        self.outcome = CallOutcome.TICKET

    def _understood(self) -> None:
        t = self.transcript
        if t is not None:
            self.intake.understood(t.text, transcript_meta(t))
        else:
            self.intake.understood(None, None, asr_error=self.asr_error or "no transcript")

    def _filing(self, then: State) -> State:
        """``then`` (FILE or CALLBACK); first, once, a caller whose number was withheld is
        offered to key one in -- the only way anybody can call them back. An emergency is
        never delayed for it."""
        if not ask_callback_number(self.intake, asked=self.number_asked,
                                   callback_request=then is State.CALLBACK):
            return then
        self.after_number = then
        return State.CALLBACK_NUMBER

    def _keyed_digits(self) -> str | None:
        """Digits keyed until # (or a pause of ``confirm_timeout_seconds``, or
        ``MAX_CALLBACK_KEYS`` keys); None when the caller hung up. Read to the #, however
        many digits: one that stopped at a digit count (loose28, 13) left the rest of a long
        entry queued, the # cut off the error prompt and answered the next try as "no
        number" (review62). An entry cut by the key bound leaves nothing for the next read
        either: what is still queued is set aside."""
        digits = ""
        for _ in range(MAX_CALLBACK_KEYS):
            key = self._key(timeout=self.sip.confirm_timeout_seconds)
            if self._gone and key is None:
                return None
            if key is None or key == "#":
                return digits
            digits += keyed_digits(key)
        self._drop_keys()
        return digits

    def _recording_failed(self) -> None:
        failure = self.audio.recording_failure if self.audio is not None else None
        if failure is not None:
            self.intake.recording_cut(*failure)

    def _file(self, outcome: CallOutcome,
              how: Callable[[], FiledTicket | None] | None = None) -> FiledTicket | None:
        """File the call's ticket (``how``: the emergency or 直接答复 way, ivr.decisions)."""
        self._understood()
        self._recording_failed()
        self.ticket_filed = True
        self.filed = how() if how is not None else self.intake.file_ticket(outcome)
        return self.filed

    # ================================================================= states
    def _s_greeting(self) -> State:
        heard = self._play(self.prompts.pcm("greeting"), barge_in=True)
        if heard is Heard.KEY:
            key = self.call.get_dtmf(0)
            if key == "1":
                self.intake.key(key)
                return State.STATUS
            if key is not None:
                self.intake.key(key)
                if key == "0":
                    return State.OPERATOR
            return self._start_listening(beep=True)
        if heard is Heard.SPEECH:
            return self._start_listening(beep=False)
        if heard is Heard.HUNG_UP:
            return State.HANGUP
        return self._start_listening(beep=True)

    def _s_reprompt(self) -> State:
        self.reprompts += 1
        assert self.audio is not None
        self.audio.begin_turn()
        heard = self._play(self.prompts.pcm("reprompt_silence"), barge_in=True)
        if heard is Heard.KEY:
            key = self._key()
            if key == "0":
                return State.OPERATOR
            if key == "1" and not self.status_heard:
                return State.STATUS
            return self._start_listening(beep=True)
        return self._after_listening_prompt(heard) if heard is not Heard.DONE \
            else self._start_listening(beep=True)

    def _s_beep(self) -> State:
        heard = self._play(self.prompts.pcm("beep"), keys=False)
        if heard is Heard.HUNG_UP:
            return State.HANGUP
        self.turn_started_at = time.monotonic()
        return State.RECORD

    def _s_record(self) -> State:
        audio = self.audio
        assert audio is not None
        while True:
            if self._gone:
                return State.HANGUP
            key = self._key(timeout=0.05)  # a hold is waited out here (``_missed``)
            if key == "0":
                return State.OPERATOR
            if key == "#":
                return State.UNDERSTAND if self._spoke() else self._nothing_heard()
            # Other keys while the caller talks are ignored (a leaned-on keypad).
            if audio.speech_started and audio.silence_after_speech >= self.sip.end_silence_seconds:
                return State.UNDERSTAND
            # Wall clock, not the audio clock: a caller whose RTP stopped must still time out.
            listened = time.monotonic() - self.turn_started_at
            if listened >= self.sip.max_record_seconds:
                return State.UNDERSTAND if self._spoke() else self._nothing_heard()
            if (not audio.speech_started and listened >= self.sip.no_speech_seconds
                    and not self._spoke()):
                return self._nothing_heard()

    def _spoke(self) -> bool:
        """Whether the caller spoke in this turn, on every frame received so far: a key,
        like the wall clock, runs ahead of the frames before it, which reach the speech
        gate through the audio pump, and that lags on a busy node (seconds,
        bench/scale.py). Deciding on what the pump had counted, a caller who spoke and
        pressed # was told nothing had been heard."""
        assert self.audio is not None
        if not self.audio.speech_started:
            self.audio.catch_up(CATCH_UP_SECONDS)
        return self.audio.speech_started

    def _nothing_heard(self) -> State:
        assert self.audio is not None
        self.audio.drop_turn()
        if self.transcript is not None or (self.asr_error and self.audio.spoke):
            # Said it before (then pressed 2): keep the earlier words.
            return self._filing(State.FILE)
        if self.status_heard:
            self.outcome = CallOutcome.STATUS_QUERY
            return State.GOODBYE
        if self.reprompts < 1:
            return State.REPROMPT
        return State.SILENCE_GOODBYE

    def _s_understand(self) -> State:
        self._end_turn()
        t = self.transcript
        live_asr = self.svc.engine is not None and self.asr_error is None
        unsure = t is None or not t.text.strip() or bool(t.low_confidence)
        may_ask_again = live_asr and self.asked_again < 1
        turn = take_turn(sessions=self.svc.sessions, domain=self.svc.domain,
                         text=t.text if t is not None else None,
                         ask_again=may_ask_again and unsure, may_ask_again=may_ask_again,
                         offer_answer=not self.kb_offered, call_id=self.call.call_id,
                         may_confirm=True, kb_text=clause_text(t) if t is not None else None)
        self.classification, self.kb_answer = turn.understanding, turn.answer
        return State(turn.step.value)

    def _kb_prompt(self, pcm: bytes, *, yes: State, more: bool = False) -> State | None:
        """Play a knowledge-base prompt that asks for 1 or 2: 1 leads to ``yes``, 0 to the
        operator; 2, no key or another: the caller's words go on as a ticket, as without an
        answer. ``more``: a part of a long answer, after which 3 or no key is None (read the
        next part)."""
        if self._play(pcm) is Heard.HUNG_UP:
            return State.HANGUP
        key = self._key(timeout=self.sip.confirm_timeout_seconds)
        if self._gone:
            return State.HANGUP
        choice = after_answer(key, more=more)
        if choice is AfterAnswer.MORE:
            return None
        if choice is AfterAnswer.RESOLVED:
            return yes
        if choice is AfterAnswer.OPERATOR:
            return State.OPERATOR
        self._drop_keys()
        self.kb_answer = None
        return State.READBACK

    def _s_confirm_entry(self) -> State:
        a = self.kb_answer
        assert a is not None
        self.kb_offered = True  # offered once: a caller who says no wants a ticket
        log.info("call %s: asked to confirm knowledge entry %s (confidence %.2f)",
                 self.call.call_id, a.entry_id, a.confidence,
                 extra=self._log_fields(State.CONFIRM_ENTRY))
        # 1: yes, that is the question -- its answer is read
        chosen = self._kb_prompt(self.prompts.say(P.kb_confirm_text(a.title), "kb_confirm"),
                                 yes=State.ANSWER)
        assert chosen is not None  # only a part of an answer asks "more"
        return chosen

    def _s_answer(self) -> State:
        a = self.kb_answer
        assert a is not None
        self.kb_offered = True
        log.info("call %s: answered from knowledge entry %s v%d (confidence %.2f)",
                 self.call.call_id, a.entry_id, a.version, a.confidence,
                 extra=self._log_fields(State.ANSWER))
        parts = answer_reading(a, self.svc.settings.ivr.kb_part_chars)
        detail_first = parts[0].detail_first  # its parts' files apart
        for n, part in enumerate(parts):
            more = part.more
            name = f"{a.detail}-p{n}" if detail_first else (f"p{n}" if n else "")
            pcm = (self.prompts.kb_said(a.entry_id, a.version, part.said, name)
                   + self.prompts.pcm(part.menu))
            # Keys pressed before the part starts answer nothing: a second quick 3 stopped
            # the next part at once (play_pcm16 returns on a queued key) and answered its
            # question unheard (review55). Twilio's next <Gather> hears no earlier key.
            self._drop_keys()
            chosen = self._kb_prompt(pcm, yes=State.ANSWERED, more=more)
            if chosen is not None:
                return chosen
        raise AssertionError("the last part always ends in a choice")

    def _s_answered(self) -> State:
        assert self.kb_answer is not None
        entry_id = self.kb_answer.entry_id
        filed = self._file(CallOutcome.TICKET, lambda: file_direct_answer(self.intake, entry_id))
        self.outcome = CallOutcome.TICKET
        # Database down: the spool files the 直接答复 later; the caller has the answer.
        if self._play(self.prompts.pcm("kb_answered"), keys=False) is Heard.HUNG_UP:
            return State.HANGUP
        log.info("call %s: 直接答复 ticket %s", self.call.call_id,
                 filed.number if filed is not None else "(spooled)",
                 extra=self._log_fields(State.ANSWERED))
        return State.GOODBYE

    def _s_ask_again(self) -> State:
        self.asked_again += 1
        assert self.audio is not None
        self.audio.begin_turn()
        heard = self._play(self.prompts.pcm("not_understood"), barge_in=True)
        return self._after_listening_prompt(heard)

    def _s_readback(self) -> State:
        sentence = readback_sentence(self.classification)
        address = self.classification.address if self.classification is not None else None
        # Only an address read back makes the sentence one caller's own (said, kept nowhere);
        # without one it is a sentence every such caller hears alike ("您的诉求已录音。", a
        # category's), kept as before soak46 rather than made in front of each read-back.
        said = (self.prompts.said(sentence) if address and address in sentence
                else self.prompts.say(sentence, "readback"))
        pcm = said + self.prompts.pcm("confirm")
        heard = self._play(pcm)
        if heard is Heard.HUNG_UP:
            return State.HANGUP
        return State.CONFIRM

    def _s_confirm(self) -> State:
        key = self._key(timeout=self.sip.confirm_timeout_seconds)
        if self._gone:
            return State.HANGUP
        if key == "1":
            return State.PREFERENCES
        if key == "2":
            return State.RERECORD if rerecord(self.intake) else State.OPERATOR
        if key == "0":
            return State.OPERATOR
        if not confirm_again(self.intake):
            return self._filing(State.FILE)
        self._drop_keys()
        if self._play(self.prompts.pcm("confirm_again")) is Heard.HUNG_UP:
            return State.HANGUP
        return State.CONFIRM

    def _s_preferences(self) -> State:
        """1 keeps the caller's identity from the handler (保密), 2 asks for no callback;
        either, both or none, then # -- or silence, which files the ticket as it is. Keys
        pressed ahead (a caller who knows the menu) count; each choice is said back."""
        heard = self._play(self.prompts.pcm("preferences"))
        keys = 0
        while heard is not Heard.HUNG_UP:
            key = self._key(timeout=self.sip.confirm_timeout_seconds)
            if self._gone:
                break
            keys += 1
            if key is None or key == "#" or keys > MAX_PREFERENCE_KEYS:
                return self._filing(State.FILE)
            if key == "0":
                return State.OPERATOR
            said = choose_preference(self.intake, key)
            if said is None:
                continue
            heard = self._play(self.prompts.pcm(said))
        return State.HANGUP

    def _s_rerecord(self) -> State:
        assert self.audio is not None
        self.audio.begin_turn()
        # asked_again is not reset: "say it again" once per call
        heard = self._play(self.prompts.pcm("rerecord"), barge_in=True)
        return self._after_listening_prompt(heard)

    def _s_file(self) -> State:
        filed = self._file(CallOutcome.TICKET)
        self.outcome = CallOutcome.TICKET
        if filed is None:  # database down: the spool has it, recover_spool files it
            pcm = self.prompts.pcm("filed_later")
        else:
            told = deadline_told(filed, self.svc.settings)
            kept = self.audio is not None and self.audio.recording_failure is None
            pcm = (self.prompts.pcm("ticket_number") + self.prompts.number(filed.number)
                   + (self.prompts.say(told, "deadline") if told is not None
                      else self.prompts.pcm(P.words_pending(recording_kept=kept))))
        if self._play(pcm, keys=False) is Heard.HUNG_UP:
            return State.HANGUP
        return State.GOODBYE

    def _s_goodbye(self) -> State:
        self._play(self.prompts.pcm("goodbye"), keys=False)
        self.call.hangup()
        return State.DONE

    def _s_silence_goodbye(self) -> State:
        # No speech twice. A line that sent a fax machine's tones instead (asr.vad.fax_tone:
        # never speech) ends NO_SPEECH, counted as such, its recording on the call record
        # for the operator (loose28: each was a "（录音待转写）" ticket); a silent one
        # ABANDONED.
        fax = self.audio is not None and self.audio.fax_heard and not self.audio.spoke
        self.outcome = CallOutcome.NO_SPEECH if fax else CallOutcome.ABANDONED
        self._play(self.prompts.pcm("goodbye_silence"), keys=False)
        self.call.hangup()
        return State.DONE

    def _s_operator(self) -> State:
        assert self.audio is not None
        if self.audio.listening and self.audio.spoke:
            self._end_turn()  # what they said before pressing 0 goes on a callback ticket
        put_through = self._to_operator()
        return put_through if put_through is not None else self._filing(State.CALLBACK)

    def _has_operator(self) -> bool:
        return bool(self.sip.operator_uri) and self.svc.frontend is not None

    def _to_operator(self) -> State | None:
        """The transfer to the operator: DONE once bridged, HANGUP when the caller left;
        None when nobody answered or none is configured (the caller's state decides)."""
        assert self.audio is not None
        fe = self.svc.frontend
        if not self._has_operator() or fe is None:
            return None
        if self._play(self.prompts.pcm("transfer"), keys=False) is Heard.HUNG_UP:
            return State.HANGUP
        result = bridge_to_operator(fe, self.call, self.audio, self.sip.operator_uri,
                                    ring_timeout=self.sip.ring_timeout,
                                    alive=self.intake.alive)
        if result is TransferResult.BRIDGED:
            self.outcome = CallOutcome.OPERATOR
            return State.DONE
        if result is TransferResult.CALLER_GONE:
            return State.HANGUP
        return None

    def _s_emergency(self) -> State:
        assert self.audio is not None
        number = emergency_service(self.classification)
        assert number is not None
        uri, target = emergency_target(self.svc.settings, number)
        fe = self.svc.frontend
        if fe is None:
            uri, target = "", HANDOVER_NOWHERE
        way = handover_way(self.classification, self.intake.journal.handover_declined)
        if way is Handover.DECLINED:
            return State.READBACK
        asked = way is Handover.OFFER
        # Journaled now, written to the database beside the transfer: the caller is never
        # kept from the service by the database, and a database that is down loses nothing
        # (recover_spool files the urgent ticket and its hand-over event later).
        self._understood()
        self.ticket_filed = True
        self.outcome = CallOutcome.TICKET
        if asked:
            # The model's hand-over alone: announced with a way out before it is journaled.
            # A crash meanwhile files the words as the complaint they were understood as.
            reply = offer_reply(self._offer_decline(number), operator=self._has_operator())
            if reply is OfferReply.DECLINE:
                return self._declined(number)
            # Our stop cut the question: no call is placed, and the ticket says so
            # ("stopped"). Before (review70) it said "转接110" to the service's line.
            self.intake.hand_over(
                number, HANDOVER_STOPPED if self.svc.stopping.is_set() else target)
            # Gone, or our stop cut the question (no key: the hand-over is journaled, as
            # for a hang-up): no call is placed; the stop's notice is "请挂机后直接拨打110"
            # (``_stop_notice``). Before (review64) the stop's drain rang 110 and cut it.
            if self._gone:
                if uri and not self.svc.stopping.is_set():  # the stop's attempt says it
                    self._handover_ended(HANDOVER_CALLER_GONE)  # no call placed (review126)
                return State.HANGUP
            if reply is OfferReply.OPERATOR:
                # Unanswered, the operator leaves the caller to the service, as silence
                # would: never a callback request for an emergency (review53).
                put_through = self._handover_to_operator()
                if put_through is not None:
                    return put_through
        else:
            self.intake.hand_over(number, target)
        if uri and fe is not None:
            if not asked:  # the announcement above already said it is being put through
                heard = self._play(self.prompts.pcm(f"emergency_transfer_{number}"))
                if heard is Heard.HUNG_UP:  # no call placed: the trail says why
                    self._handover_ended(HANDOVER_CALLER_GONE)
                    return State.HANGUP
                if heard is Heard.KEY and offer_reply(
                        self._key(), operator=self._has_operator()) is OfferReply.OPERATOR:
                    put_through = self._handover_to_operator()
                    if put_through is not None:
                        return put_through
            # The hand-over's bridge tells the journal and the call record it goes on, as
            # the operator's does: a long one was settled as cut mid-talk, and its caller
            # taken for free by the outbound side (review52).
            result = bridge_to_operator(fe, self.call, self.audio, uri,
                                        ring_timeout=self.sip.ring_timeout,
                                        alive=self.intake.alive, emergency=True)
            log.info("call %s: emergency %s hand-over to %s: %s", self.call.call_id, number,
                     target, result.value, extra=self._log_fields(State.EMERGENCY))
            self._handover_ended(HANDOVER_RESULTS[result])
            if result is TransferResult.BRIDGED:
                return State.DONE
            if result is TransferResult.CALLER_GONE:
                return State.HANGUP
        if self._gone:  # our stop (the transfer gave up at once): its notice says this
            return State.HANGUP
        # "请挂机后直接拨打119" is heard whole, our stop or not: the last words before we
        # hang up. Before (review70) a stop landing while it played cut it, and the call
        # ended with no notice and not as our stop (``EndReason.SHUTDOWN``).
        self._play(self.prompts.pcm(f"emergency_failed_{number}"), keys=False, last=True)
        if self.svc.stopping.is_set() and not self.call.ended:
            self.call.end(EndReason.SHUTDOWN)
        else:
            self.call.hangup()
        return State.DONE

    def _handover_ended(self, result: str, rung: str | None = None) -> None:
        """How the hand-over's bridge ended (and who it rang: None, the target), for the
        ticket's trail; our stop first (the bridge gives up at once, the caller is cut)
        whatever the line did."""
        self.intake.handover_ended(
            HANDOVER_STOPPED if self.svc.stopping.is_set() else result, rung)

    def _handover_to_operator(self) -> State | None:
        """The caller's 0 during a hand-over: the duty operator rung instead of the service,
        and the trail says so and how it ended (before, handover47, it kept "发起转接119"
        alone, read as 119 rung). None: nobody answered, the service's bridge comes next
        and its own result stands."""
        put_through = self._to_operator()
        if put_through is not None:
            self._handover_ended(HANDOVER_PUT_THROUGH if put_through is State.DONE
                                 else HANDOVER_CALLER_GONE, HANDOVER_RUNG_OPERATOR)
        return put_through

    def _offer_decline(self, number: str) -> str | None:
        """"您反映的情况可能需要110处理，马上为您转接。不需要转接请按2。": the key pressed while
        it plays or within DECLINE_WAIT_SECONDS after; None for none (or a hang-up)."""
        self._drop_keys()  # keys pressed ahead answer nothing, least of all "decline"
        heard = self._play(self.prompts.pcm(f"emergency_offer_{number}"))
        if heard is Heard.HUNG_UP:
            return None
        return self._key() if heard is Heard.KEY else self._key(timeout=DECLINE_WAIT_SECONDS)

    def _declined(self, number: str) -> State:
        """Key 2: no hand-over; the call goes on as any complaint (read back, confirmed,
        filed as classified -- still urgent where it is), its ticket saying the caller
        declined the hand-over."""
        self.intake.decline_handover(number)
        self._drop_keys()  # a second "2" would cut the read-back and answer its confirm
        self.ticket_filed = False  # filed by FILE (or at hang-up), as any complaint
        self.outcome = None
        log.info("call %s: emergency %s hand-over declined by the caller", self.call.call_id,
                 number, extra=self._log_fields(State.EMERGENCY))
        return State.READBACK

    def _s_callback_number(self) -> State:
        self.number_asked = True
        self._drop_keys()  # keys left from the confirm step
        for prompt in ("ask_callback_number", "callback_number_invalid"):
            if self._play(self.prompts.pcm(prompt)) is Heard.HUNG_UP:
                return State.HANGUP
            digits = self._keyed_digits()
            if digits is None:
                return State.HANGUP
            if not digits:  # # at once, or nothing: no callback wanted
                break
            number = phones.callback_number(digits)
            if number is not None:
                # Kept as keyed in by the caller: used to call back, never to tell who called.
                self.intake.callback_number(number)
                if self._play(self.prompts.pcm("callback_number_taken"),
                              keys=False) is Heard.HUNG_UP:
                    return State.HANGUP
                break
        return self.after_number

    def _s_callback(self) -> State:
        self._file(CallOutcome.CALLBACK_REQUEST)
        self.outcome = CallOutcome.CALLBACK_REQUEST
        self._play(self.prompts.pcm("operator_unavailable"), keys=False)
        self.call.hangup()
        return State.DONE

    def _status_by_ticket_number(self) -> bytes | None:
        """Key 1 from a number nobody vouched for: before (review51, judge25's trial), a
        caller writing a citizen's number in From heard that citizen's tickets and their
        answers. Now the caller keys a ticket number and hears that ticket's step alone.
        None when the caller hung up."""
        self._drop_keys()  # the 1 that chose the menu
        lookups = self.svc.keyed_lookups
        keys = keyed_count_keys(caller=self.call.caller, address=self.call.caller_address)
        if self.ticket_tries >= TICKET_TRIES_PER_CALL or not lookups.open(*keys):
            # Refused before the caller keys anything: no number of theirs is looked up.
            return self._ticket_tries_over()
        if self._play(self.prompts.pcm("status_ask_ticket")) is Heard.HUNG_UP:
            return None
        digits = self._keyed_digits()
        if digits is None:
            return None
        if not digits:  # # at once: no number keyed, no try used (review53)
            return self.prompts.pcm("status_ticket_unknown")
        # A try is a number keyed, counted now: pressing 1 and hanging up used one (review53).
        self.ticket_tries += 1
        if not lookups.take(*keys):  # the address's (or number's) other calls spent it
            return self._ticket_tries_over()
        found = keyed_ticket_status(self.svc.sessions, digits)
        if found is None:
            return self.prompts.pcm("status_ticket_unknown")
        return (self.prompts.pcm("status_ticket") + self.prompts.number(found.tail)
                + self.prompts.say(found.label + "。", "status"))

    def _ticket_tries_over(self) -> bytes:
        log.warning("call %s: ticket number lookup refused to %s (%d this call, or the "
                    "address's hourly limit): enumeration", self.call.call_id,
                    self.call.caller_address or "?", self.ticket_tries)
        return self.prompts.pcm("status_tries_over")

    def _s_status(self) -> State:
        self.status_heard = True
        try:
            # Whether the carrier vouched for the number: one decision with Twilio's.
            if not number_verified(self.call.caller_vouch):
                said = self._status_by_ticket_number()
                if said is None:
                    return State.HANGUP
                return self._after_status_said(said)
            found = open_tickets(self.svc.sessions, self.call.caller,
                                 reasons=self.svc.settings.verification.exclusion_reasons)
        except SQLAlchemyError as exc:
            log.error("call %s: status lookup failed: %s", self.call.call_id,
                      exc.__class__.__name__)
            return self._after_status_said(self.prompts.pcm("status_unavailable"))
        else:
            if found.no_number:
                pcm = self.prompts.pcm("status_no_number")
            elif not found.tickets:
                pcm = self.prompts.pcm("status_none")
            else:
                pcm = (self.prompts.pcm("status_intro")
                       + self.prompts.say(P.status_count_text(found.open_count), "status")
                       + b"".join(self.prompts.pcm("status_ticket") + self.prompts.number(t.tail)
                                  + self.prompts.say(t.label + "。", "status")
                                  for t in found.tickets))
            if found.closed:
                pcm += self.prompts.pcm("status_closed_intro") + b"".join(
                    self.prompts.pcm("status_ticket") + self.prompts.number(t.tail)
                    + self.prompts.said(P.text("status_closed_tail", answer=t.answer))
                    for t in found.closed)
            pcm += b"".join(
                self.prompts.pcm("status_ticket") + self.prompts.number(t.tail)
                + self.prompts.say(P.text("status_set_aside_tail",
                                          because=P.set_aside_because(t.answer)), "status")
                for t in found.set_aside)
        return self._after_status_said(pcm)

    def _after_status_said(self, pcm: bytes) -> State:
        heard = self._play(pcm)
        if heard is Heard.HUNG_UP:
            return State.HANGUP
        if heard is Heard.KEY and self._key() == "0":
            return State.OPERATOR
        return State.AFTER_STATUS

    def _s_after_status(self) -> State:
        assert self.audio is not None
        self._drop_keys()
        self.audio.begin_turn()
        heard = self._play(self.prompts.pcm("status_done"), barge_in=True)
        return self._after_listening_prompt(heard)

    def _s_hangup(self) -> State:
        if self.svc.stopping.is_set() and not self.call.ended:  # our stop; caller still there
            self._stop_notice()
        self._keep_what_was_said()
        if self.outcome is None and self.status_heard:
            self.outcome = CallOutcome.STATUS_QUERY
        return State.DONE


def run_call(call: CallHandle, services: IvrServices) -> Dialogue:
    """The adapter's ``on_call``: one dialogue, start to end."""
    started = time.monotonic()
    dialogue = Dialogue(call, services)
    dialogue.run()
    log.debug("call %s handled in %.1f s", call.call_id, time.monotonic() - started)
    return dialogue
