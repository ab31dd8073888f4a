"""From a call to a ticket, without ever losing a complaint.

Each call is journaled in a spool file (one small JSON per call, written atomically) before
anything touches the database, and the file is only removed once the call record, and the
ticket when one is due, are committed. If the database is down, or the process dies, the
spool still holds the caller's number, the recording and whatever was understood;
:func:`recover_spool` turns it into the ticket later. Ticket creation is idempotent by call
id, so recovering a call twice never makes two tickets.

An emergency hand-over (三号联动) is journaled the same way before the caller is bridged:
the spool holds the service and target, the urgent ticket and its ``emergency_handover``
event are written in the background (the transfer never waits on the database) and, if the
database is down, by :func:`recover_spool` later -- once per call, however often a call is
settled.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import drop_pending, enqueue
from ivr.callrecords import (
    CALL_ID_CHARS,
    LIVE_CALL_SECONDS,
    CallOutcome,
    CallRecord,
    callee_field,
    caller_fields,
    held_here,
    hold_call,
    last_sign,
    let_call_go,
    presumed_dead,
)
from knowledge import service as kb
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.deadlines import URGENCY_LABELS, Urgency
from ticketing.inputs import InvalidInput, strip_unsafe
from ticketing.intake_model import Understanding
from ticketing.models import Ticket, TicketEvent, utcnow
from ticketing.phones import LONGEST_KEYED, call_number, caller_id_shown, normalise

log = logging.getLogger("hotline.ivr.intake")

# Digits a callback number is read to (SIP keys, Twilio's digits): one past the longest
# entry that can be a number (phones.LONGEST_KEYED, 16: 0086 075512345678), so an entry
# keyed too long is refused by phones.callback_number as what it is, never cut to a number
# the caller did not key. The entry itself is read to its # (or the pause): a read that
# stopped at a digit count left the rest queued, to cut off the error prompt and answer the
# next try (mend61, review62).
MAX_CALLBACK_DIGITS = LONGEST_KEYED + 1
PREFERENCE_LABELS = {"confidential": "身份保密", "no_contact": "不要回访"}
# A call record's note while its recording could not be fetched from the carrier, followed
# by the URL to fetch it from (``CallJournal.recording_url``); cleared once it is fetched.
RECORDING_NOT_FETCHED_NOTE = "录音未能从运营商下载，可从此地址重新获取："
# The audit event of a ticket given the recording its caller said again (``_said_again``).
SAID_AGAIN_EVENT = "recording_said_again"
# ``CallJournal.rerecording``: key 2 asked for the complaint again (Twilio), and its
# recording taken by the recording status callback before the action came.
RERECORD_ASKED = "asked"
RERECORD_TAKEN = "taken"
# A call that ended with the process that had it (kill, power, OOM), settled by recovery.
INTERRUPTED_NOTE = "通话因服务中断而结束，服务恢复后补录"
# A call our own stop (SIGTERM: the front end's BYE) hung up before its ticket was filed.
STOPPED_NOTE = "通话因服务停止而结束"
# A record left in progress that no spool can file (``settle_lost_records``).
LOST_NOTE = "通话日志已不在本节点（数据库可能从通话中途的备份恢复），通话结果无法核实"


@dataclass
class CallJournal:
    """What the spool keeps about one call (JSON-serialisable)."""

    call_id: str
    caller: str
    carrier: str = "sip"
    # The number dialled (the SIP To user): which of the hotline's numbers (sip.numbers).
    callee: str | None = None
    arrived_at: str = field(default_factory=lambda: utcnow().isoformat())
    answered_at: str | None = None
    ended_at: str | None = None
    outcome: str = CallOutcome.IN_PROGRESS.value
    want_ticket: bool = False
    transcript: str | None = None
    transcript_meta: dict[str, Any] | None = None
    asr_error: str | None = None
    recording_path: str | None = None
    recording_sha256: str | None = None
    recording_seconds: float | None = None
    # Twilio: where the recording is fetched from, while the download has failed (no
    # ``recording_sha256``); on the call record's note until it is fetched.
    recording_url: str | None = None
    keys: str = ""
    # A number the caller keyed in to be called back (their own was withheld); E.164.
    callback_number: str | None = None
    ticket_number: str | None = None
    node: str = ""  # the node that took the call (settings.node)
    # Chosen by keypad after the read-back (ivr.call_flow, State.PREFERENCES).
    confidential: bool = False  # 保密: keep the caller's identity from the handler
    no_contact: bool = False  # 不要回访: no survey call, no SMS
    # Times key 2 at the read-back had the complaint said again (ivr.decisions.rerecord).
    rerecords: int = 0
    # Twilio: the recording said again after key 2 and not heard yet (its words not in
    # this journal): RERECORD_ASKED until one of its callbacks comes, RERECORD_TAKEN once its
    # recording status callback came ahead of its action and journaled it; heard by the
    # action or, at a hang-up, by the status callback (``recording_unheard``, mend85).
    rerecording: str | None = None
    # Twilio: the URL of that recording said again when its recording status callback could
    # not download it (the journal's recording is still the first, review87); on the call
    # record's note until it is fetched (``unfetched_url``, mend89: only a log line kept it).
    said_again_url: str | None = None
    # Read-back questions asked again after no key or a wrong one (ivr.decisions.confirm_again).
    confirm_asks: int = 0
    # The knowledge entry whose answer resolved the call (key 1): filed as 直接答复.
    kb_entry: str | None = None
    # The knowledge entry whose answer was read (Twilio: kept between webhooks until the
    # caller's 1 / 2); an answer is offered once a call.
    kb_offered: str | None = None
    # Twilio: the parts of that answer not read yet (ivr.kb_answer.answer_parts), each
    # read on the caller's 3 (or no key) in the next webhook, as it stood when found.
    kb_rest: list[str] = field(default_factory=list)
    # 三号联动: {"service": "110"|"119"|"120", "target": "uri"|"operator"|"none"|"stopped"}
    # once the call was handed over ("stopped": our stop came first, no call was placed);
    # the ticket then carries the emergency_handover event.
    handover: dict[str, str] | None = None
    # The service ("110"|"119"|"120") of a hand-over only the intake model asked for, which
    # the caller declined (key 2): the call goes on as a complaint, and its ticket carries
    # the emergency_handover_declined event instead of a hand-over.
    handover_declined: str | None = None
    # How the bridge of that hand-over ended (a ticketing.service HANDOVER_* result), once
    # it did: the ticket's emergency_handover_result event, after the attempt's.
    handover_result: str | None = None
    # Who that bridge rang ("operator": the caller's 0 took the hand-over to the duty
    # operator); None: the hand-over's target.
    handover_rung: str | None = None
    # Twilio: the service of such a hand-over announced and awaiting the caller's key (the
    # next webhook); a caller who hangs up meanwhile is handed over, as on the SIP line.
    handover_asked: str | None = None
    # Ended by the death of the process that had it (or found stale), settled by recovery:
    # said on the call record and the ticket, whose recording may stop mid-sentence.
    interrupted: bool = False
    # Hung up by our own stop (the front end's BYE at SIGTERM) before its ticket was filed:
    # what was said before it is kept, and said, as for ``interrupted`` (judge28).
    stopped: bool = False
    # Twilio: when the <Dial> of a bridge (the operator, a hand-over's line) went back; the
    # call then lives at Twilio, no webhook until the Dial ends, and its heartbeat is asked
    # of Twilio's API (``ivr.twilio.call_flow.TwilioDialogue.bridges_alive``).
    bridged_at: str | None = None
    # The recording failed (its volume full or failing): {"seconds": kept, "reason": ...};
    # the ticket says that what was said after it is in no file.
    recording_cut: dict[str, Any] | None = None
    # Twilio: who vouched for ``caller`` (a telephony.call.CallerVouch value, from the
    # incoming call's StirVerstat; ivr.caller_trust decides), and the ticket numbers keyed
    # at key 1 when nobody did (ivr.ticket_lookup.TICKET_TRIES_PER_CALL).
    caller_vouch: str = "none"
    ticket_tries: int = 0
    # Twilio: the network address of a caller who reached it over SIP (its ``SipSourceIp``
    # on /voice), counted with the From for keyed ticket numbers
    # (ivr.ticket_lookup.keyed_count_keys); "" for a PSTN caller, of whom Twilio names none.
    caller_address: str = ""

    @property
    def recording_unheard(self) -> bool:
        """Twilio: the journal's recording came by its recording status callback ahead of
        its action, its words not heard yet: the call's first (nothing heard, no ticket
        wanted yet: review83), or one said again after key 2 (``rerecording``, mend85).
        The action, or at a hang-up the status callback, hears it."""
        return bool(self.recording_path) and (
            not self.want_ticket or self.rerecording == RERECORD_TAKEN)

    @property
    def recording_not_fetched(self) -> bool:
        """The carrier holds the call's recording and we could not fetch it (Twilio's
        download failed): nothing of ours holds it, its URL is what is kept. A Twilio
        call's recording path is set only once its download was tried, its digest only
        once that succeeded (a journal rebuilt from the call record says the same)."""
        return self.carrier == "twilio" and bool(self.recording_path) and (
            not self.recording_sha256)

    @property
    def unfetched_url(self) -> str | None:
        """Where the carrier holds a recording of this call we could not fetch: the
        journal's own (``recording_not_fetched``), or one said again after key 2 whose
        download failed while the first stays the complaint (``said_again_url``). The call
        record's note keeps it (``RECORDING_NOT_FETCHED_NOTE``) for the callback sent
        again, the next start's look at Twilio, or a fetch by hand."""
        if self.recording_not_fetched and self.recording_url:
            return self.recording_url
        return self.said_again_url


@dataclass(frozen=True)
class FiledTicket:
    number: str
    category: str
    urgency: str
    due_at: datetime | None
    address: str | None
    # Filed before its words were known ("（录音待转写）"): category and urgency are
    # placeholders until the transcription backlog gives them (service.attach_transcript).
    words_pending: bool = False

    @property
    def urgency_label(self) -> str:
        return URGENCY_LABELS.get(Urgency(self.urgency), "一般")


# Spool locks this process holds, by directory (kept open for the life of the process).
_HELD_LOCKS: dict[Path, int] = {}


class Spool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def take_over(self) -> bool:
        """Hold this spool's lock for the life of the process. True the first time, when no
        other live process holds it: SIP calls still journaled as in progress then belonged
        to a process that died, and their callers are gone, so they can be settled at once
        instead of after ``stale_after_seconds``."""
        key = self.dir.resolve()
        if key in _HELD_LOCKS:
            # Taken over already by this process, whose calls on it may be live now.
            return False
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            log.warning("spool %s is in use by another process: two nodes must not share a "
                        "spool directory (give each its own HOTLINE_DATA_DIR)", self.dir)
            return False
        _HELD_LOCKS[key] = fd
        # ``write``'s temporary file left by a process that died: half-written, nothing
        # reads it and each kill at that moment left one for good; written whole (``write``
        # syncs it before the rename), it is the newest state of its call, and for a call's
        # first journal the only one (review25: deleting it lost the call): put in place.
        for partial in self.dir.glob("*.tmp"):
            try:
                CallJournal(**json.loads(partial.read_text(encoding="utf-8")))
            except (ValueError, TypeError, OSError):
                partial.unlink(missing_ok=True)
            else:
                os.replace(partial, partial.with_suffix(".json"))
        return True

    def path(self, call_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in call_id)[:150]
        return self.dir / f"{safe}.json"

    def write(self, journal: CallJournal) -> None:
        target = self.path(journal.call_id)
        tmp = target.with_suffix(".tmp")
        data = json.dumps(asdict(journal), ensure_ascii=False).encode("utf-8")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)

    def remove(self, call_id: str) -> None:
        self.path(call_id).unlink(missing_ok=True)

    def written_at(self, call_id: str) -> datetime | None:
        """When the call's journal was last written (None: it is gone)."""
        try:
            return datetime.fromtimestamp(self.path(call_id).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def pending(self) -> list[CallJournal]:
        out = []
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(CallJournal(**json.loads(p.read_text(encoding="utf-8"))))
            except FileNotFoundError:
                # Removed since the listing: a call settled meanwhile (a Twilio call at
                # our stop's drain, which polls this). Before (mend74) it raised, and the
                # drain stopped half-way.
                continue
            except (ValueError, TypeError) as exc:
                log.error("unreadable spool file %s kept for inspection: %s", p, exc)
        return out


def call_id_taken(*, sessions: sessionmaker[Session], spool: Spool, call_id: str) -> bool:
    """Whether any call, of any carrier, already has this id (live in the spool, or
    settled). Raises SQLAlchemyError when the database cannot say."""
    if spool.path(call_id).exists():
        return True
    with sessions() as s:
        return _recorded(s, call_id)


def _recorded(session: Session, call_id: str) -> bool:
    """Whether a settled call has this id (one check for the Twilio line and for a SIP
    call's first write, ``CallIntake._claim``)."""
    return session.scalar(select(CallRecord.id).where(CallRecord.call_id == call_id)
                          ) is not None


def new_call_key(*, spool: Spool, call_id: str) -> str:
    """The id a new call is journaled, recorded and ticketed under: its own id, unless

    - that is longer than the columns (a SIP Call-ID has no limit; PostgreSQL refused the
      record and the call stayed in the spool for ever): its head and a digest of the whole;
    - a call in this spool has it now: a key of its own (``other_key``).

    No database here: a call is never kept waiting for one before it is answered. A call
    whose id a settled call had is given its own key at its first write
    (``CallIntake._claim``)."""
    key = call_id
    if len(key) > CALL_ID_CHARS:
        digest = hashlib.sha256(call_id.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        key = f"{call_id[:CALL_ID_CHARS - 33]}~{digest}"
    return other_key(key) if spool.path(key).exists() else key


def other_key(key: str) -> str:
    return f"{key[:CALL_ID_CHARS - 17]}~{secrets.token_hex(8)}"


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _record_for(session: Session, j: CallJournal) -> CallRecord:
    # Locked to the end of the transaction: the call's own thread settling it at hang-up and
    # the voice job's recover_spool (or another node's) can take the same ended journal at
    # once, and on PostgreSQL both then saw no ticket on the record and filed one each. The
    # second now waits and finds the first one's ticket (SQLite's writers queue at BEGIN).
    rec = session.scalars(select(CallRecord).where(CallRecord.call_id == j.call_id)
                          .with_for_update()).first()
    if rec is None:
        rec = CallRecord(call_id=j.call_id, carrier=j.carrier, **caller_fields(j.caller),
                         callee=callee_field(j.callee),
                         arrived_at=_dt(j.arrived_at) or utcnow(),
                         node=j.node or os.uname().nodename)
        session.add(rec)
    rec.answered_at = _dt(j.answered_at)
    rec.ended_at = _dt(j.ended_at)
    if rec.ended_at is None:
        # Written while the call goes on (its answer, a bridge's heartbeat): a sign of life.
        rec.alive_at = utcnow()
    rec.outcome = j.outcome
    rec.recording_path = j.recording_path
    rec.recording_sha256 = j.recording_sha256
    rec.recording_seconds = j.recording_seconds
    if url := j.unfetched_url:
        rec.note = f"{RECORDING_NOT_FETCHED_NOTE}{url}"
    elif j.interrupted or j.stopped:
        rec.note = INTERRUPTED_NOTE if j.interrupted else STOPPED_NOTE
    elif rec.note == LOST_NOTE:
        # Its journal turned up after all (``settle_lost_records``): the record has its
        # real outcome now, and the note saying it could not be checked goes (mend74:
        # before it stuck beside the real outcome).
        rec.note = None
    rec.keys = j.keys[-64:] or None
    session.flush()
    return rec


def _words(j: CallJournal) -> str:
    """What the call's ticket says the caller wants: the transcript, else (a callback
    request with no words) a note of that; empty when nothing was understood yet."""
    text = (j.transcript or "").strip()
    if j.outcome == CallOutcome.CALLBACK_REQUEST.value and not text:
        return service.CALLBACK_REQUESTED
    return text


def left_to_backlog(j: CallJournal) -> bool:
    """The call's ticket waits for the transcription backlog's words: it was due, nothing
    was understood live, and there is a recording to transcribe. Nothing the caller said:
    the callback request's note (``_words``) is the service's, not words (review80: read as
    words, such a call's recording was never transcribed, its complaint never filed)."""
    return j.want_ticket and not (j.transcript or "").strip() and bool(j.recording_path)


def _understand(domain: Domain, j: CallJournal) -> Understanding | None:
    """The call's words classified before any transaction is opened (pure CPU: holding the
    SQLite write lock or PostgreSQL row locks through it delays every other creator)."""
    return service.understand_demand(domain=domain, demand=_words(j) or service.TRANSCRIPT_PENDING,
                                     transcript=j.transcript)


def _file_ticket(session: Session, domain: Domain, j: CallJournal,
                 understood: Understanding | None) -> Ticket:
    """Create (or find, by call id) the call's ticket, accepted and auto-dispatched, with
    its hand-over event when the call was handed over, and its declined hand-over's when
    the caller declined one: both, the decline first, when a caller who declined one
    service was then handed over to another (before, loose27, the decline was dropped from
    the trail). ``understood`` is ``_understand(domain, j)``, run before the transaction."""
    ticket = _ticket_for(session, domain, j, understood)
    if j.handover_declined is not None:
        _record_declined(session, ticket, j)
    if j.handover is not None:
        _record_handover(session, ticket, j)
        if j.handover_result is not None:
            _record_handover_result(session, ticket, j)
    return ticket


def _record_declined(session: Session, ticket: Ticket, j: CallJournal) -> None:
    """The declined hand-over's event, once per ticket (a call settled again after a crash
    must not say it twice)."""
    assert j.handover_declined is not None
    done = session.scalars(select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id,
        TicketEvent.action == service.HANDOVER_DECLINED_ACTION).limit(1)).first()
    if done is not None:
        return
    try:
        service.record_handover_declined(session=session, ticket=ticket,
                                         actor=Actor.system("ivr"),
                                         service=j.handover_declined)
    except InvalidInput as exc:  # a spool file edited by hand: the ticket matters more
        log.error("call %s: declined hand-over not recorded, unknown service in the spool: "
                  "%s", j.call_id, exc)


def _record_handover(session: Session, ticket: Ticket, j: CallJournal) -> None:
    """The hand-over event, once: a call can be settled again after a crash between the
    commit and the spool file's removal, and the ticket itself is found by call id."""
    assert j.handover is not None
    done = session.scalars(select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.action == service.HANDOVER_ACTION)
        .limit(1)).first()
    if done is not None:
        return
    try:
        service.record_emergency_handover(
            session=session, ticket=ticket, actor=Actor.system("ivr"),
            service=str(j.handover.get("service", "")),
            target=str(j.handover.get("target", "")))
    except InvalidInput as exc:
        # A spool file edited by hand or left by another version: the urgent ticket matters
        # more than its audit line, so it is filed without it.
        log.error("call %s: hand-over not recorded, unknown service in the spool: %s",
                  j.call_id, exc)


def _record_handover_result(session: Session, ticket: Ticket, j: CallJournal) -> None:
    """The hand-over's outcome, once (a call is settled again after a crash as above)."""
    assert j.handover is not None and j.handover_result is not None
    done = session.scalars(select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id,
        TicketEvent.action == service.HANDOVER_RESULT_ACTION).limit(1)).first()
    if done is not None:
        return
    try:
        service.record_handover_result(
            session=session, ticket=ticket, actor=Actor.system("ivr"),
            service=str(j.handover.get("service", "")), result=j.handover_result,
            rung=j.handover_rung or str(j.handover.get("target", "")))
    except InvalidInput as exc:
        log.error("call %s: hand-over result not recorded, unknown service in the spool: %s",
                  j.call_id, exc)


def _ticket_for(session: Session, domain: Domain, j: CallJournal,
                understood: Understanding | None) -> Ticket:
    rec = _record_for(session, j)
    if rec.ticket_id is not None:
        ticket = session.get_one(Ticket, rec.ticket_id)
        # Said again, once we hold it: a download that failed leaves the ticket its first
        # recording and words until a callback fetches this one (review87: it lost both).
        if (j.recording_path and j.recording_sha256
                and ticket.recording_path not in (None, j.recording_path)):
            _said_again(session, domain, ticket, j)
            if (not j.unfetched_url and rec.note
                    and rec.note.startswith(RECORDING_NOT_FETCHED_NOTE)):
                # The recording whose URL the note kept is the call's now, held (mend89).
                rec.note = None
        # Filed mid-call (to read the number back) while the recording was still growing:
        # the finished file's digest arrives with the call's end.
        elif j.recording_sha256 and ticket.recording_sha256 != j.recording_sha256:
            ticket.recording_path = j.recording_path
            ticket.recording_sha256 = j.recording_sha256
            session.flush()
        return ticket
    actor = Actor.system("ivr")
    text = (j.transcript or "").strip()
    if j.kb_entry and text:
        answered = _answer_from_kb(session, domain, j, actor, text, understood)
        if answered is not None:
            rec.ticket_id = answered.id
            session.flush()
            return answered
    text = _words(j)
    # A caller without a number (withheld: "anonymous", "unknown"; a softphone user
    # "citizen") gets a ticket with no phone -- never a placeholder all such callers would
    # share -- or the number they keyed in, marked as theirs to call, not as who called.
    ticket = service.create_ticket(session=session, domain=domain, actor=actor,
                                   demand=text or service.TRANSCRIPT_PENDING,
                                   understood=understood, **_call_fields(j))
    if j.confidential or j.no_contact:
        chosen = {k: True for k in ("confidential", "no_contact") if getattr(j, k)}
        service.record_event(session=session, ticket=ticket, actor=actor,
                             action="citizen_preferences", note="市民按键选择："
                             + "、".join(PREFERENCE_LABELS[k] for k in chosen),
                             data={**chosen, "via": "ivr_keypad"})
    if j.interrupted or j.stopped:
        # One event whichever way the service cut the caller off: a crash (settled by
        # recovery) or its own stop; the handler calls back either way.
        seconds = j.recording_seconds or 0.0
        service.record_event(session=session, ticket=ticket, actor=actor,
                             action="call_interrupted",
                             note=f"{INTERRUPTED_NOTE if j.interrupted else STOPPED_NOTE}；"
                                  f"录音{seconds:.0f}秒，为中断前所录，诉求可能不完整，请回拨核实",
                             data={"call_id": j.call_id, "ended_at": j.ended_at,
                                   "recording_seconds": seconds,
                                   **({"stopped": True} if j.stopped else {})})
    if j.recording_cut is not None:
        _record_recording_cut(session, ticket, j.recording_cut, actor)
    service.accept(session=session, domain=domain, ticket=ticket, actor=actor)
    _to_backlog(session, ticket, j)
    rec.ticket_id = ticket.id
    session.flush()
    return ticket


def _said_again(session: Session, domain: Domain, ticket: Ticket, j: CallJournal) -> None:
    """The call's recording is a later one than its ticket's: the caller pressed 2 to say
    the complaint again and hung up while saying it, and that recording's callbacks came
    after the call's status had filed the ticket (Twilio keeps no order; one recording a
    file). The ticket takes it, as a re-record finished on the line gives its ticket the
    new recording, with an audit event naming the one it replaces; the first one's words
    go with it, and the words said again come as late words come, now or from the
    transcription backlog (``service.attach_transcript``: a ticket not dispatched yet is
    classified again); a job of the first still pending is closed, its words would
    overwrite them. Before (mend85) such a recording was downloaded and dropped, or made
    the ticket's recording under the first one's words."""
    actor = Actor.system("ivr")
    replaced = ticket.recording_path
    ticket.recording_path, ticket.recording_sha256 = j.recording_path, j.recording_sha256
    if replaced:
        drop_pending(session=session, ticket_id=ticket.id, recording_path=replaced,
                     reason="superseded: the caller said the complaint again")
    service.record_event(session=session, ticket=ticket, actor=actor, action=SAID_AGAIN_EVENT,
                         note="来电人按2重新录音时挂机，工单录音及诉求改为重新所录",
                         data={"call_id": j.call_id, "recording": j.recording_path,
                               "replaced": replaced})
    # The demand is the first recording's words, which the caller took back by pressing 2
    # (a call ticket's demand is written by its call and the backlog alone): a placeholder
    # now, which the words said again replace, here or from the backlog, as in every order
    # where they came before the status. Before (review87), with the status first, the
    # ticket kept the first words as its demand beside the second's transcript.
    ticket.demand = service.TRANSCRIPT_PENDING
    ticket.transcript = ticket.transcript_meta = None
    words = (j.transcript or "").strip()
    if words:
        service.attach_transcript(session=session, domain=domain, ticket=ticket, actor=actor,
                                  text=words, meta=j.transcript_meta)
    else:
        _to_backlog(session, ticket, j)
    session.flush()


def _to_backlog(session: Session, ticket: Ticket, j: CallJournal) -> None:
    """A transcription job for the call's recording, when the ticket's words are left to
    the backlog (``left_to_backlog``)."""
    if left_to_backlog(j) and j.recording_path:
        enqueue(session=session, ticket_id=ticket.id, recording_path=j.recording_path,
                recording_sha256=j.recording_sha256, call_id=j.call_id,
                reason=j.asr_error or "no transcript at call time")


def _record_recording_cut(session: Session, ticket: Ticket, cut: dict[str, Any],
                          actor: Actor) -> None:
    seconds = float(cut.get("seconds") or 0.0)
    said = (f"录音在第{seconds:.0f}秒因存储写入失败中断，其后所说未录下" if seconds
            else "本次来电因存储写入失败未能录音")
    service.record_event(session=session, ticket=ticket, actor=actor,
                         action="recording_incomplete",
                         note=f"{said}，诉求可能不完整，请回拨核实",
                         data={"recording_seconds": seconds,
                               "reason": str(cut.get("reason", ""))[:120]})


def _call_fields(j: CallJournal) -> dict[str, Any]:
    """What a call gives its ticket besides the words, whichever way it is filed."""
    number = call_number(j.caller)
    keyed = None if number is not None else normalise(j.callback_number)
    return {
        "channel": "twilio" if j.carrier == "twilio" else "phone",
        "caller_phone": number or keyed, "caller_phone_keyed": keyed is not None,
        "confidential": j.confidential, "no_contact": j.no_contact,
        # A SIP user part is whatever the caller's phone put there; the ticket must not fail.
        # Shown masked where it has a number's digits (review77: a number in a foreign
        # context, which reads as none, was shown whole to staff).
        "caller_name": None if number or not j.caller
        else strip_unsafe(f"SIP {caller_id_shown(j.caller)}")[:64],
        "transcript": j.transcript, "transcript_meta": j.transcript_meta,
        "recording_path": j.recording_path, "recording_sha256": j.recording_sha256,
        "call_id": j.call_id, "received_at": _dt(j.arrived_at),
    }


def _answer_from_kb(session: Session, domain: Domain, j: CallJournal, actor: Actor,
                    text: str, understood: Understanding | None) -> Ticket | None:
    """直接答复 through the console's own function (so 直办率 counts the call alike); None
    when the entry was retired or expired since it was read (a spool recovered later): the
    caller's question is then filed as any other."""
    try:
        return kb.answer_from_entry(session=session, domain=domain, actor=actor,
                                    entry_id=j.kb_entry or "", demand=text,
                                    understood=understood, **_call_fields(j))
    except (InvalidInput, service.NotFound) as exc:
        log.warning("call %s: knowledge entry %s no longer answers (%s); filed as a ticket",
                    j.call_id, j.kb_entry, exc)
        return None


def filed_ticket(t: Ticket) -> FiledTicket:
    """The ticket as the caller is told of it (the intake, a replayed Twilio webhook)."""
    return FiledTicket(number=t.number, category=t.category, urgency=t.urgency,
                       due_at=t.due_at, address=t.address,
                       words_pending=service.words_pending(t))


class CallIntake:
    """The journal of one call, kept in the spool and mirrored to the database."""

    def __init__(self, *, sessions: sessionmaker[Session], domain: Domain, spool: Spool,
                 call_id: str, caller: str, carrier: str = "sip",
                 callee: str | None = None) -> None:
        self.sessions = sessions
        self.domain = domain
        self.spool = spool
        # A new call (a journal read back is ``resume``d): kept under a key of its own.
        self.journal = CallJournal(call_id=new_call_key(spool=spool, call_id=call_id),
                                   caller=caller, carrier=carrier, callee=callee or None,
                                   node=domain.settings.node)
        self._claimed = False
        # The journal's spool writes and the key's rename (``_claim``), which may run on the
        # claiming thread (``answered(aside=True)``) while the call writes its journal.
        self._journal_lock = threading.Lock()
        self._claiming: threading.Thread | None = None
        self._write()
        # The hand-over's filing, running beside the transfer (see hand_over).
        self._filing: threading.Thread | None = None
        self._alive_writer: threading.Thread | None = None
        self._filed_aside: FiledTicket | None = None

    @classmethod
    def resume(cls, *, sessions: sessionmaker[Session], domain: Domain, spool: Spool,
               journal: CallJournal, claiming: threading.Thread | None = None) -> CallIntake:
        """Around a journal read back from the spool or the database (Twilio's next
        webhook): the constructor would write a fresh journal over it. ``claiming``: the
        call record's write its answer started aside (``answered``), still to be waited
        for before this intake writes to the database."""
        intake = cls.__new__(cls)
        intake.sessions, intake.domain, intake.spool = sessions, domain, spool
        intake.journal = journal
        intake._claimed = True
        intake._journal_lock = threading.Lock()
        intake._claiming = claiming
        intake._filing = None
        intake._alive_writer = None  # (a Twilio bridge's heartbeat resumes a journal too)
        intake._filed_aside = None
        return intake

    def answered(self, *, aside: bool = False) -> threading.Thread | None:
        """The call is answered: journaled now, its call record written to the database.
        ``aside`` (both carriers): that write runs on a thread of its own, returned, so the
        greeting never waits on a database that is locked or down; the spool has the call
        meanwhile, and every later write to the database waits for it (``await_claim``;
        a Twilio call's next webhook is handed it by ``CallIntake.resume``)."""
        self.journal.answered_at = utcnow().isoformat()
        self._write()
        if not aside:
            self._try_db(lambda s: _record_for(s, self._claim(s)))
            return None
        self._claiming = threading.Thread(
            target=self._try_db, args=(lambda s: _record_for(s, self._claim(s)),),
            name=f"claim-{self.journal.call_id}", daemon=True)
        self._claiming.start()
        return self._claiming

    def await_claim(self) -> None:
        """Before a write to the database: the answer's call record first. Its key is
        settled then (renamed or not), and a record written after the call's own later
        writes would put the answer's state back over them."""
        claiming = self._claiming
        if claiming is not None:
            claiming.join()
            self._claiming = None

    def _write(self) -> None:
        with self._journal_lock:
            self.spool.write(self.journal)

    def _claim(self, session: Session) -> CallJournal:
        """Before a new call's first write: a record already under its key is another
        call's (a phone repeating Call-IDs, SIPp's ``1-<pid>@ip`` after a restart, someone
        who read an INVITE). Found and updated, it made the second call the first one's
        ticket, its complaint lost and its recording in place of the first one's; the
        call takes a key of its own instead (its spool file renamed)."""
        j = self.journal
        if not self._claimed:
            if _recorded(session, j.call_id):
                # Under the journal's lock: a write of the call's own under the old key
                # after the remove would leave a second journal of this call behind.
                with self._journal_lock:
                    old = j.call_id
                    j.call_id = other_key(old)
                    self.spool.write(j)
                    self.spool.remove(old)
            self._claimed = True
        return j

    def alive(self) -> threading.Thread | None:
        """The call goes on (a bridge to an operator lasts as long as the talk): its
        journal written again, so that recovery, which counts a call in progress as dead
        from its journal's last write, leaves it alone (``recover_spool``); and its call
        record's ``alive_at``, so that an outbound call does not take the caller for free
        (``ivr.callrecords.live_call``, the same clock: review51).

        The record is written on a thread of its own, as ``hand_over``'s ticket is: the
        bridge's loop calls this and must go on watching for a hang-up while a busy SQLite
        or an unreachable PostgreSQL takes its time (review52). One such write at a time;
        the thread started (None when the last one is still at it)."""
        self._write()
        if self._alive_writer is not None and self._alive_writer.is_alive():
            return None
        self._alive_writer = threading.Thread(target=self._record_alive, daemon=True,
                                              name=f"alive-{self.journal.call_id}")
        self._alive_writer.start()
        return self._alive_writer

    def _record_alive(self) -> None:
        self.await_claim()
        self._try_db(lambda s: _record_for(s, self._claim(s)))

    def key(self, keys: str) -> None:
        """Keys the dialogue took, in the order pressed (one, or a burst flushed at once).
        Journaled now, one write for the lot: a key in memory only was gone after a crash
        (the record's ``keys`` empty at recovery), and a flood costs a write per taking,
        never per key (the keypad's own rate limit bounds how often a key is taken)."""
        if not keys:
            return
        self.journal.keys += keys
        # After ``end`` the spool file is gone (settled): a write would bring it back.
        if self.journal.ended_at is None:
            self._write()

    @property
    def caller_number(self) -> str | None:
        """The caller's number in E.164; None when it was withheld."""
        return call_number(self.journal.caller)

    def callback_number(self, e164: str) -> None:
        """The number the caller keyed in to be called back (before the ticket is filed)."""
        self.journal.callback_number = e164
        self._write()

    def preferences(self, *, confidential: bool = False, no_contact: bool = False) -> None:
        """The caller's keypad choices; switched on only, kept in the spool at once."""
        self.journal.confidential = self.journal.confidential or confidential
        self.journal.no_contact = self.journal.no_contact or no_contact
        self._write()

    def answered_from(self, entry_id: str) -> None:
        """Key 1 after an entry's answer: the ticket is a 直接答复 from that entry."""
        self.journal.kb_entry = entry_id
        self._write()

    def recording(self, path: Path, sha256: str | None = None,
                  seconds: float | None = None) -> None:
        self._set_recording(path, sha256, seconds)
        self._write()

    def _set_recording(self, path: Path, sha256: str | None, seconds: float | None) -> None:
        self.journal.recording_path = str(path)
        self.journal.recording_sha256 = sha256
        self.journal.recording_seconds = seconds

    def stopped(self) -> None:
        """Our stop hung the call up before its ticket was filed (``CallJournal.stopped``)."""
        self.journal.stopped = True
        self._write()

    def recording_cut(self, seconds: float, reason: str) -> None:
        """The recording failed after ``seconds`` (0: none was made)."""
        if self.journal.recording_cut is None:
            self.journal.recording_cut = {"seconds": round(seconds, 1), "reason": reason}
            self._write()

    def understood(self, text: str | None, meta: dict[str, Any] | None = None,
                   asr_error: str | None = None) -> None:
        self._set_understood(text, meta, asr_error)
        self._write()

    def _set_understood(self, text: str | None, meta: dict[str, Any] | None,
                        asr_error: str | None) -> None:
        self.journal.transcript = text
        self.journal.transcript_meta = meta
        self.journal.asr_error = asr_error
        self.journal.want_ticket = True

    def heard(self, path: Path, sha256: str | None, seconds: float | None,
              text: str | None, meta: dict[str, Any] | None = None,
              asr_error: str | None = None) -> None:
        """A recording and its words (or why there are none) in one spool write. Written
        apart, a crash between the two left recovery a journal with one recording under
        another's words: after key 2 the one said again under the first words, or the
        first recording with its words cleared (review87)."""
        self._set_recording(path, sha256, seconds)
        self._set_understood(text, meta, asr_error)
        self._write()

    def hand_over(self, service_number: str, target: str) -> None:
        """三号联动: the urgent ticket and its hand-over event are due. Journaled in the
        spool now; written to the database on a thread of its own, so the caller's transfer
        never waits on it (a database that is down can take its connect timeout to say so).
        Whatever that write does not get done, :meth:`end` or recover_spool does."""
        j = self.journal_handover(service_number, target)
        # A copy: the call goes on changing (and writing) its journal meanwhile.
        with self._journal_lock:
            snapshot = copy.deepcopy(j)
        self._filing = threading.Thread(target=self._file_aside, args=(snapshot,),
                                        name=f"handover-{j.call_id}", daemon=True)
        self._filing.start()

    def journal_handover(self, service_number: str, target: str) -> CallJournal:
        """The hand-over in the spool: from here on the urgent ticket and its event are
        filed whatever happens to the database (by whoever files the call next)."""
        j = self.journal
        j.want_ticket = True
        j.outcome = CallOutcome.TICKET.value
        j.handover = {"service": service_number, "target": target}
        self._write()
        return j

    def handover_ended(self, result: str, rung: str | None = None) -> None:
        """How the hand-over's bridge ended, and who it rang (None: the hand-over's target;
        the last bridge's stands): journaled now, on the ticket when the call is settled
        (``end``, or recover_spool)."""
        self.journal.handover_result = result
        self.journal.handover_rung = rung
        self._write()

    def decline_handover(self, service_number: str) -> None:
        """The caller declined a hand-over only the model asked for (``Understanding.
        model_handover``): journaled now, so the ticket filed later -- by the dialogue, at
        hang-up or by recover_spool -- carries the declined event and no hand-over."""
        self.journal.handover_declined = service_number
        self._write()

    def _file_aside(self, snapshot: CallJournal) -> None:
        # The hand-over never waits on the database; this thread does: the call's claim
        # first (still running while the database blocks), so the ticket is filed under
        # the key the claim settled; then that key is the call's for good.
        self.await_claim()
        self._claimed = True
        snapshot.call_id = self.journal.call_id
        understood = _understand(self.domain, snapshot)
        self._filed_aside = self._try_db(lambda s: filed_ticket(_file_ticket(s, self.domain,
                                                                       snapshot, understood)))

    def _await_filing(self) -> None:
        # Two writers filing the same call at once could both miss the other's ticket.
        if self._filing is None:
            return
        self._filing.join()
        self._filing = None
        if self._filed_aside is not None:
            self.journal.ticket_number = self._filed_aside.number

    def file_ticket(self, outcome: CallOutcome = CallOutcome.TICKET) -> FiledTicket | None:
        """Make the ticket now (to read its number back); None if the database is down,
        in which case the spool keeps the call and the ticket is made on recovery."""
        self.await_claim()
        self._await_filing()
        self.journal.want_ticket = True
        self.journal.outcome = outcome.value
        self._write()
        understood = _understand(self.domain, self.journal)
        filed = self._try_db(
            lambda s: filed_ticket(_file_ticket(s, self.domain, self._claim(s), understood)))
        if filed is not None:
            self.journal.ticket_number = filed.number
            self._write()
        return filed

    def hold(self) -> None:
        """A dialogue of this process runs the call until :meth:`end`
        (``ivr.callrecords.held_here``)."""
        hold_call(self)

    def held_key(self) -> str:
        """The key it is held under: its journal's, its call record's (``held_here``)."""
        return self.journal.call_id

    def end(self, outcome: CallOutcome | None = None) -> bool:
        """Close the journal; True once everything is in the database (spool removed)."""
        try:
            return self._end(outcome)
        finally:
            let_call_go(self)

    def _end(self, outcome: CallOutcome | None) -> bool:
        self.await_claim()
        self._await_filing()
        j = self.journal
        j.ended_at = utcnow().isoformat()
        if outcome is not None and not (j.ticket_number and outcome == CallOutcome.ABANDONED):
            j.outcome = outcome.value
        elif j.outcome == CallOutcome.IN_PROGRESS.value:
            j.outcome = CallOutcome.TICKET.value if j.want_ticket else CallOutcome.ABANDONED.value
        self._write()
        if not self._claimed:  # never answered (CANCEL), or the database was down then
            self._try_db(self._claim)
        return settle(sessions=self.sessions, domain=self.domain, spool=self.spool, journal=j)

    def _try_db(self, fn: Any) -> Any:
        try:
            with transaction(self.sessions) as session:
                return fn(session)
        except SQLAlchemyError as exc:
            log.error("call %s: database unavailable, kept in spool: %s", self.journal.call_id,
                      exc.__class__.__name__)
            return None


def settle(*, sessions: sessionmaker[Session], domain: Domain, spool: Spool,
           journal: CallJournal) -> bool:
    """Write a finished call (and its ticket, if due) to the database; drop its spool file."""
    # A ticket filed mid-call (its number read back) is only found again here.
    filing = journal.want_ticket and not journal.ticket_number
    understood = _understand(domain, journal) if filing else None
    number = None
    try:
        with transaction(sessions) as session:
            if journal.want_ticket:
                number = _file_ticket(session, domain, journal, understood).number
            else:
                _record_for(session, journal)
    except SQLAlchemyError as exc:
        # A commit refused (a read-only file) rolls back a ticket already numbered: the
        # call must not carry a number the next ticket will be given.
        log.error("call %s: database unavailable, kept in spool: %s", journal.call_id,
                  exc.__class__.__name__)
        return False
    if number is not None:
        journal.ticket_number = number
    spool.remove(journal.call_id)
    return True


def _modified(path: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(Path(path).stat().st_mtime, UTC) if path else None
    except OSError:
        return None


def _spoken(j: CallJournal) -> bool:
    """Whether the recording of a call cut by a crash holds a complaint: speech by the
    live call's rule (``ivr.audio.holds_speech``). Before, any recording of a second or more
    was one: a caller cut in the greeting, silent, got a ticket "（录音待转写）" with a number,
    dispatched, and its SMS, where the same silence on a live call is no ticket (and a
    recording under a second was none, whatever it held)."""
    from ivr.audio import holds_speech  # the call's audio module; only recovery reads it

    # Unreadable: kept, a person can listen (as before).
    return _recording_is(j, holds_speech, unreadable=True)


def _silent_outcome(j: CallJournal) -> CallOutcome:
    """How a call cut by a crash with no speech ended: ``no_speech`` when its recording is a
    fax machine's tones (``ivr.audio.fax_only``), as the live SIP call and Twilio end it;
    ``abandoned`` otherwise. Before (review62) a fax call cut by a crash was ``abandoned``."""
    from ivr.audio import fax_only

    fax = _recording_is(j, fax_only, unreadable=False)
    return CallOutcome.NO_SPEECH if fax else CallOutcome.ABANDONED


def _recording_is(j: CallJournal, judge: Callable[[bytes], bool], *, unreadable: bool
                  ) -> bool:
    """``judge`` on the recording of a call cut by a crash; False without one."""
    from telephony.media.wav import read_wav_pcm16

    if not j.recording_path or not Path(j.recording_path).exists():
        return False
    try:
        return judge(read_wav_pcm16(j.recording_path))
    except Exception as exc:
        log.error("call %s: recording unreadable: %s", j.call_id, exc)
        return unreadable


def recover_spool(*, sessions: sessionmaker[Session], domain: Domain, spool: Spool,
                  stale_after_seconds: float = LIVE_CALL_SECONDS,
                  restarted: bool = False) -> list[str]:
    """Settle calls left in the spool by a database outage or a crash.

    A call still "in progress" is only touched once it is older than any call can be
    (``stale_after_seconds``), so a live call on this node is never settled early. At
    start-up with the spool taken over (``restarted``), SIP calls in progress died with the
    previous process and are settled at once; Twilio calls may still be up (Twilio keeps
    calling the webhooks of whichever process answers next) and wait as usual. A crashed
    call whose recording holds audio becomes a ticket whose words come from the
    transcription backlog.
    """
    from asr.recording import repair_wav  # recordings are this module's business too

    settled = []
    now = utcnow()
    held = held_here()
    for j in spool.pending():
        if j.ended_at is None and j.call_id in held:
            continue  # up in this process: alive whatever the clock says
        if j.ended_at is None:
            # Since its journal was last written, not since it arrived: a live call writes
            # its journal as it goes (``CallIntake.alive`` while bridged to an operator),
            # and one counted from its arrival was settled mid-talk after 15 minutes.
            # (The one rule live_call reads the call record by: ``ivr.callrecords``.)
            last = last_sign(_dt(j.arrived_at) or now, spool.written_at(j.call_id) or now)
            died_with_process = restarted and j.carrier == "sip"
            if not died_with_process and not presumed_dead(last, now,
                                                           after=stale_after_seconds):
                continue
            # When it died: the last write of its journal or its recording, not now (a
            # restart can come hours later; the record's length was the gap before).
            writes = [t for t in (spool.written_at(j.call_id), _modified(j.recording_path))
                      if t is not None]
            j.ended_at = min(max(writes, default=now), now).isoformat()
            j.interrupted = True
            if j.bridged_at and j.handover is not None and j.handover_result is None:
                # A Twilio <Dial> whose action never came: whether it was put through is not
                # known, and the trail says so rather than the attempt alone (handover47).
                j.handover_result = service.HANDOVER_UNKNOWN
                j.handover_rung = (service.HANDOVER_RUNG_OPERATOR
                                   if j.outcome == CallOutcome.OPERATOR.value else None)
            if j.recording_path and Path(j.recording_path).exists():
                try:
                    rec = repair_wav(j.recording_path)
                    j.recording_sha256, j.recording_seconds = rec.sha256, rec.duration_seconds
                except Exception as exc:
                    log.error("call %s: recording unreadable: %s", j.call_id, exc)
            if j.transcript or _spoken(j):
                j.want_ticket = True
                j.outcome = CallOutcome.TICKET.value
                j.asr_error = j.asr_error or "call interrupted by a service restart"
            else:
                j.outcome = _silent_outcome(j).value
            # Kept at once: repair_wav just moved the recording's time to now, and a settle
            # that fails (the database down at restart) would have the next pass date the
            # call's end to this recovery, not to when the process died.
            spool.write(j)
        if settle(sessions=sessions, domain=domain, spool=spool, journal=j):
            settled.append(j.call_id)
    try:
        lost = settle_lost_records(sessions=sessions, spool=spool, node=domain.settings.node,
                                   stale_after_seconds=stale_after_seconds)
    except SQLAlchemyError as exc:  # the database down: the next pass looks again
        log.warning("call records left in progress not checked: %s", exc)
    else:
        if lost:
            log.warning("%d call record(s) of this node were in progress with no journal in "
                        "its spool (a database restored from a backup taken mid-call?): "
                        "settled %s: %s", len(lost), CallOutcome.LOST_AT_RESTORE.value,
                        ", ".join(lost))
    return settled


def settle_lost_records(*, sessions: sessionmaker[Session], spool: Spool, node: str,
                        stale_after_seconds: float = LIVE_CALL_SECONDS) -> list[str]:
    """Settle the call records of ``node`` (this one: its spool is ``spool``) still in
    progress whose journal is in that spool no more, once ``presumed_dead`` by the spool's
    own rule (15 minutes from the last sign of life). A call's journal is written before
    its record and removed only after the record is settled, so such a record is one the
    spool can never file: a database restored from a backup taken mid-call (the call ended,
    and its journal went, after the backup; judge29) or a spool deleted by hand. It ended
    at its last sign of life, outcome ``lost_at_restore`` (``ticket`` where a ticket was
    filed before the backup), with a note saying so; before, it stayed ``in_progress``
    and ``hotline_calls{outcome="in_progress"}`` counted it for ever.

    Only this node's records: each node keeps its own spool (docs/scaling.md), and a
    record another node wrote may have its journal in that node's spool, down now and
    filing it when it comes back. A record whose node has no name (none is written
    without one) is left alone. A journal that turns up after all (a spool put back) is
    filed by ``recover_spool`` as any: the record then takes its outcome, and its one
    ticket (``_record_for``: the ticket already on a record is never filed again)."""
    now = utcnow()
    held = held_here()
    settled: list[str] = []
    with transaction(sessions) as session:
        last = func.coalesce(CallRecord.alive_at, CallRecord.arrived_at)
        ghosts = session.scalars(
            select(CallRecord).where(
                CallRecord.ended_at.is_(None), CallRecord.node == node,
                last <= now - timedelta(seconds=stale_after_seconds))
            .order_by(CallRecord.id).with_for_update()).all()
        for rec in ghosts:
            if rec.call_id in held or spool.path(rec.call_id).exists():
                continue  # up here, or the spool files it (recover_spool)
            rec.ended_at = last_sign(rec.arrived_at, rec.alive_at)
            if rec.outcome == CallOutcome.IN_PROGRESS.value:
                rec.outcome = (CallOutcome.TICKET if rec.ticket_id is not None
                               else CallOutcome.LOST_AT_RESTORE).value
            rec.note = rec.note or LOST_NOTE
            settled.append(rec.call_id)
    return settled
