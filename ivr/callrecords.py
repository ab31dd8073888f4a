"""Every call has a record: who, when, how it ended, the recording and the ticket."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import (
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from ticketing.models import Base, UTCDateTime, utcnow
from ticketing.phones import CALLER_ID_CHARS, call_number, normalise

# What the columns hold of a caller ID: longer is a leaned-on softphone, not a number.
CALLER_CHARS = CALLER_ID_CHARS  # (ticketing.phones: the log shows as much)
# What the columns hold of a call's id (call records, tickets, transcription jobs). A SIP
# Call-ID has no length limit; a longer one is kept as ``ivr.intake.new_call_key`` says.
CALL_ID_CHARS = 128
# Longer than any call goes without a sign of life: a call still "in progress" this long
# after its last one is one whose process died (recover_spool settles its journal then;
# live_call stops counting its record). Signs of life: the arrival, the answer, and the
# heartbeat of a bridge to an operator (``ivr.transfer.ALIVE_SECONDS``), which writes both
# the journal and the record's ``alive_at`` (``CallIntake.alive``). One clock for both
# (``last_sign``, ``presumed_dead``): before, live_call aged a call from its arrival, and a
# caller bridged for over 15 minutes counted as free, a survey ringing them mid-talk
# (review51).
LIVE_CALL_SECONDS = 900.0


class KeyedTicketTry(Base):
    """A ticket number keyed at key 1 by a caller nobody vouched for, counted against the
    network address the call came from (``ivr.ticket_lookup.KeyedLookups``). In the
    database so that every node behind the front shares one count: counted in memory,
    each node allowed the hour's tries again (loose27). Only inserted and deleted (past the
    window), never updated."""

    __tablename__ = "keyed_ticket_tries"
    __table_args__ = (Index("ix_keyed_ticket_tries_address_at", "address", "tried_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    tried_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CallOutcome(StrEnum):
    """How a hotline call ended, kept on its call record (``CallRecord.outcome``); placing
    a call is answered by ``telephony.call.DialOutcome`` instead."""

    IN_PROGRESS = "in_progress"
    TICKET = "ticket"  # a complaint was taken and a ticket made
    ABANDONED = "abandoned"  # silence only, or hung up before speaking
    # Sound but no voice: a fax machine's tones (asr.vad.fax_tone) and no speech by the
    # energy gate's figure (ivr.audio.enough_speech); no ticket, the recording kept on the
    # call record for the operator to hear (loose28: each was a "（录音待转写）" ticket).
    NO_SPEECH = "no_speech"
    OPERATOR = "operator"  # transferred to a human operator
    CALLBACK_REQUEST = "callback_request"  # asked for an operator, none answered
    STATUS_QUERY = "status_query"  # heard the status of their tickets
    BUSY = "busy"  # refused: all lines busy
    FAILED = "failed"
    # Left in progress by a database restored from a backup taken mid-call: its journal is
    # in no spool that could still file it, so how it ended cannot be known
    # (``ivr.intake.settle_lost_records``; judge29's ghosts).
    LOST_AT_RESTORE = "lost_at_restore"


class CallRecord(Base):
    __tablename__ = "call_records"
    # A phone's latest calls (live_call, at every outbound claim of a call): one indexed
    # look-up, not a walk of every call ever recorded (migration 0020). The calls not ended
    # (calls_up: the dashboard and /metrics; settle_lost_records: a node's lost-call scan at
    # every start) and the records of one outcome (the dashboard's lost calls): each a walk
    # of every call ever recorded before migration 0027. The calls not ended are few at any
    # time, so their index holds them alone (partial, on both backends).
    __table_args__ = (
        Index("ix_call_records_caller_arrived", "caller", "arrived_at"),
        Index("ix_call_records_open", "node", "arrived_at",
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
        Index("ix_call_records_outcome", "outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(CALL_ID_CHARS), unique=True)
    carrier: Mapped[str] = mapped_column(String(16), default="sip")  # sip | twilio
    direction: Mapped[str] = mapped_column(String(8), default="in")
    # E.164 like a ticket's number (ticketing.phones), so that a call and its caller's
    # tickets compare; None when withheld or no number at all (see caller_fields).
    caller: Mapped[str | None] = mapped_column(String(CALLER_CHARS))
    # The caller ID as it came, kept only when it was no number (anonymous, a softphone's
    # user name, a carrier's odd spelling): what to look at when a number was not read.
    caller_raw: Mapped[str | None] = mapped_column(String(CALLER_CHARS))
    callee: Mapped[str | None] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A call in progress: its last sign of life (``LIVE_CALL_SECONDS``); None: its arrival.
    alive_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(24), default=CallOutcome.IN_PROGRESS.value)
    recording_path: Mapped[str | None] = mapped_column(String(512))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    recording_seconds: Mapped[float | None] = mapped_column(Float)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    node: Mapped[str | None] = mapped_column(String(64))
    keys: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)


def caller_fields(raw: str | None) -> dict[str, str | None]:
    """A call record's ``caller`` and ``caller_raw`` for the caller ID ``raw`` (the SIP From
    user or asserted identity, Twilio's From)."""
    e164 = call_number(raw)
    return {"caller": e164, "caller_raw": None if e164 or not raw else raw[:CALLER_CHARS]}


def callee_field(raw: str | None) -> str | None:
    """A call record's ``callee``: the number dialled as the peer wrote it, cut as a
    caller's ``caller_raw`` is (a To user is whatever the peer sent)."""
    return raw[:CALLER_CHARS] if raw else None


def last_sign(arrived: datetime, alive: datetime | None) -> datetime:
    """A call in progress's last sign of life: its arrival, or a later write (the journal's,
    the record's ``alive_at``)."""
    return arrived if alive is None else max(arrived, alive)


def presumed_dead(last: datetime, now: datetime, *,
                  after: float = LIVE_CALL_SECONDS) -> bool:
    """Whether a call in progress whose last sign of life was ``last`` died with its
    process (``LIVE_CALL_SECONDS``): recover_spool settles it, live_call no longer counts it."""
    return (now - last).total_seconds() >= after


class HeldCall(Protocol):
    """A call a dialogue of this process runs (``ivr.intake.CallIntake``)."""

    def held_key(self) -> str: ...


# The calls a dialogue of this process is running (``hold_call`` to ``let_call_go``): alive
# whatever the wall clock says, to the spool's recovery (``ivr.intake.recover_spool``) as
# to ``live_call``. Counted from the last write alone, a step of the clock (NTP, a VM
# resumed) past ``LIVE_CALL_SECONDS`` made the voice job settle this process's own call
# mid-complaint (judge28), and a caller still talking to us count as free to the outbound
# calls (review60). Calls, not keys: a call's key may change at its claim
# (``CallIntake._claim``).
_HELD: weakref.WeakSet[HeldCall] = weakref.WeakSet()
_HELD_LOCK = threading.Lock()


def hold_call(call: HeldCall) -> None:
    with _HELD_LOCK:
        _HELD.add(call)


def let_call_go(call: HeldCall) -> None:
    with _HELD_LOCK:
        _HELD.discard(call)


def held_here() -> set[str]:
    """The keys (spool's, call record's ``call_id``) of the calls this process's dialogues
    are running now."""
    with _HELD_LOCK:
        return {call.held_key() for call in _HELD}


def live_call(session: Session, phone: str, now: datetime) -> CallRecord | None:
    """The hotline call of ours ``phone`` is in right now (one it made to us, any carrier,
    any node), or None. The phone in E.164 by the one rule the records were written with
    (``ticketing.phones.normalise``). A record still in progress counts until it is
    ``presumed_dead`` from its last sign of life (``last_sign``, in SQL): a node that died
    in a call and never came back leaves it so, and it must not hold the phone for ever;
    a call bridged to an operator for an hour keeps it, its heartbeat written; a call this
    process runs (``held_here``) keeps it whatever the wall clock says."""
    e164 = normalise(phone)
    if e164 is None:
        return None
    return session.scalars(
        select(CallRecord).where(CallRecord.caller == e164, *calls_up(now))
        .order_by(CallRecord.arrived_at.desc()).limit(1)).first()


def calls_up(now: datetime) -> list[ColumnElement[bool]]:
    """SQL conditions of a call record whose call is up now (``live_call``'s rule, read by
    the dashboard's and /metrics' calls in progress too): not ended, whatever outcome the
    call already knows (a hand-over's or a Twilio operator bridge's is written before the
    talk ends; before loose26 such a caller, still on the line, counted as free), and not
    ``presumed_dead``, unless this process holds it. A record whose journal is in no spool
    (a database restored from a backup taken mid-call, a node that never came back) showed
    on the dashboard and in ``hotline_calls_in_progress`` for ever (judge29)."""
    # ``last_sign`` in SQL: alive_at is never before arrived_at (written at the answer on).
    last = func.coalesce(CallRecord.alive_at, CallRecord.arrived_at)
    live = last > now - timedelta(seconds=LIVE_CALL_SECONDS)
    held = held_here()
    return [CallRecord.ended_at.is_(None),
            or_(live, CallRecord.call_id.in_(held)) if held else live]
