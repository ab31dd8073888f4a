"""Each Twilio call's journal, kept between webhooks.

A Twilio call is a series of independent HTTP requests, so the ``CallIntake`` of one call
is rebuilt for every webhook: from the spool while the call is live (the spool is the
journal of record until the call ends), and from its call record once the call has been
settled -- a recording or status callback can arrive after that. Webhooks of one call are
serialised by a per-call lock, because Twilio sends the record action and the recording
status callback of the same recording at nearly the same moment.

The answer's webhook never waits on the database: its reads are a reader's (no write lock)
and the call record is written aside (``CallIntake.answered``, as on the SIP line), that
write handed to the call's next webhooks, which wait for it before they write themselves.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import TranscriptionJob
from ivr.callrecords import CallRecord
from ivr.intake import (
    RECORDING_NOT_FETCHED_NOTE,
    CallIntake,
    CallJournal,
    Spool,
    call_id_taken,
    settle,
)
from telephony.call import CallerVouch
from ticketing import service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket, TicketEvent

log = logging.getLogger("hotline.ivr.twilio")

CARRIER = "twilio"


@dataclass
class TwilioCall:
    intake: CallIntake
    # True when rebuilt from the database: the call was settled already, so any change
    # must be settled again right away (nobody will call end() for it).
    ended: bool

    @property
    def journal(self) -> CallJournal:
        return self.intake.journal

    def save(self) -> None:
        self.intake.spool.write(self.intake.journal)


class TwilioCalls:
    def __init__(self, *, sessions: sessionmaker[Session], read_sessions: sessionmaker[Session],
                 domain: Domain, spool: Spool) -> None:
        self.sessions = sessions
        # For what only reads (is the CallSid ours, a settled call's record): on SQLite a
        # writer's session takes the write lock at BEGIN, and with another process holding
        # it the answer waited out the busy time (30 s), past Twilio's webhook timeout.
        self.read_sessions = read_sessions
        self.domain = domain
        self.spool = spool
        self._locks: weakref.WeakValueDictionary[str, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        # The call record's write each answer started aside, while it runs.
        self._claims: weakref.WeakValueDictionary[str, threading.Thread] = (
            weakref.WeakValueDictionary()
        )
        self._locks_guard = threading.Lock()

    def lock(self, call_sid: str) -> threading.Lock:
        """The lock of one call; it lives as long as some webhook holds it."""
        with self._locks_guard:
            lock = self._locks.get(call_sid)
            if lock is None:
                lock = threading.Lock()
                self._locks[call_sid] = lock
            return lock

    def start(self, call_sid: str, caller: str,
              vouch: CallerVouch = CallerVouch.NONE, *, address: str = "",
              callee: str = "") -> TwilioCall:
        intake = CallIntake(sessions=self.sessions, domain=self.domain, spool=self.spool,
                            call_id=call_sid, caller=caller, carrier=CARRIER, callee=callee)
        intake.journal.caller_vouch = vouch.value
        intake.journal.caller_address = address
        # Aside: written in line, a locked database kept the caller in silence and the
        # webhook past Twilio's timeout. The spool has the call (number, then recording).
        claiming = intake.answered(aside=True)
        if claiming is not None:
            with self._locks_guard:
                self._claims[call_sid] = claiming
        return TwilioCall(intake, ended=False)

    def taken(self, call_sid: str) -> bool:
        """Whether any call, of any carrier, already has this id (live or settled)."""
        return call_id_taken(sessions=self.read_sessions, spool=self.spool, call_id=call_sid)

    def find(self, call_sid: str) -> TwilioCall | None:
        journal = self._from_spool(call_sid)
        if journal is not None:
            return TwilioCall(self._intake(journal), ended=journal.ended_at is not None)
        journal = self._from_database(call_sid)
        if journal is not None:
            return TwilioCall(self._intake(journal), ended=True)
        return None

    def settle(self, call: TwilioCall) -> bool:
        call.intake.await_claim()
        return settle(sessions=self.sessions, domain=self.domain, spool=self.spool,
                      journal=call.journal)

    def fill_recording_hash(self, call: TwilioCall, path: Path, sha256: str,
                            seconds: float | None) -> None:
        """A recording that failed to download at call time has arrived: give the rows
        that point at it (call record, ticket, transcription job) its hash."""
        call.intake.await_claim()
        call_sid = call.journal.call_id
        where_path = str(path)
        with transaction(self.sessions) as s:
            s.execute(update(CallRecord)
                      .where(CallRecord.call_id == call_sid,
                             CallRecord.recording_path == where_path,
                             CallRecord.recording_sha256.is_(None))
                      .values(recording_sha256=sha256, recording_seconds=seconds))
            s.execute(update(CallRecord)
                      .where(CallRecord.call_id == call_sid,
                             CallRecord.note.startswith(RECORDING_NOT_FETCHED_NOTE,
                                                        autoescape=True))
                      .values(note=None))
            s.execute(update(Ticket)
                      .where(Ticket.call_id == call_sid, Ticket.recording_path == where_path,
                             Ticket.recording_sha256.is_(None))
                      .values(recording_sha256=sha256))
            s.execute(update(TranscriptionJob)
                      .where(TranscriptionJob.call_id == call_sid,
                             TranscriptionJob.recording_path == where_path,
                             TranscriptionJob.recording_sha256.is_(None))
                      .values(recording_sha256=sha256))

    # ---- internals
    def _intake(self, journal: CallJournal) -> CallIntake:
        with self._locks_guard:
            claiming = self._claims.get(journal.call_id)
        return CallIntake.resume(sessions=self.sessions, domain=self.domain, spool=self.spool,
                                 journal=journal, claiming=claiming)

    def _from_spool(self, call_sid: str) -> CallJournal | None:
        try:
            data = json.loads(self.spool.path(call_sid).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        journal = CallJournal(**data)
        # The spool is shared with the SIP IVR: a webhook naming a SIP call's id must not
        # resume (or overwrite) that call.
        return journal if journal.call_id == call_sid and journal.carrier == CARRIER else None

    def _from_database(self, call_sid: str) -> CallJournal | None:
        with self.read_sessions() as s:
            rec = s.scalars(select(CallRecord).where(CallRecord.call_id == call_sid,
                                                     CallRecord.carrier == CARRIER)).first()
            if rec is None:
                return None
            ticket = s.get(Ticket, rec.ticket_id) if rec.ticket_id is not None else None
            # The entry of a 直接答复 (its "answer" event), so a replay says it was answered;
            # a hand-over, or one the caller declined, so a replay hands over only the first.
            events = [] if ticket is None else list(s.scalars(select(TicketEvent).where(
                TicketEvent.ticket_id == ticket.id, TicketEvent.action.in_(
                    ("answer", service.HANDOVER_ACTION, service.HANDOVER_DECLINED_ACTION)))))
            kb_entry = next((str(e.data["kb_entry"]) for e in events
                             if e.action == "answer" and e.data and e.data.get("kb_entry")),
                            None)
            handover = next(({str(k): str(v) for k, v in e.data.items()} for e in events
                             if e.action == service.HANDOVER_ACTION and e.data), None)
            declined = next((str(e.data.get("service")) for e in events
                             if e.action == service.HANDOVER_DECLINED_ACTION and e.data), None)
            return CallJournal(
                call_id=rec.call_id, caller=rec.caller or rec.caller_raw or "",
                carrier=rec.carrier,
                arrived_at=rec.arrived_at.isoformat(),
                answered_at=rec.answered_at.isoformat() if rec.answered_at else None,
                ended_at=rec.ended_at.isoformat() if rec.ended_at else None,
                outcome=rec.outcome, want_ticket=ticket is not None,
                # The ticket's words are the record's recording's only while the ticket
                # has that recording: one said again after key 2, on the record and not
                # yet fetched, has none yet (``intake._said_again`` gives it its own).
                transcript=ticket.transcript
                if ticket and ticket.recording_path == rec.recording_path else None,
                recording_path=rec.recording_path, recording_sha256=rec.recording_sha256,
                recording_seconds=rec.recording_seconds, keys=rec.keys or "",
                ticket_number=ticket.number if ticket else None,
                confidential=bool(ticket and ticket.confidential),
                no_contact=bool(ticket and ticket.no_contact), kb_entry=kb_entry,
                handover=handover, handover_declined=declined,
            )
