"""Tables of outbound work: one row per work item, one row per call/SMS attempt, and the
supervisors' review queue of dissatisfied citizens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.models import Base, UTCDateTime, utcnow


class Kind(StrEnum):
    SMS_DISPATCH = "sms_dispatch"  # SMS to the handler when the ticket arrives
    SIGN_CALL = "sign_call"  # not signed in time: call the handler, key 1 signs
    ESCALATE_CALL = "escalate_call"  # reminders exhausted: call the unit's supervisor
    URGE = "urge"  # a rung of the escalation ladder: 催办 near/at/after the deadline
    UTILITY_CALL = "utility_call"  # a utility still undispatched: call the duty dispatcher
    SURVEY_CALL = "survey_call"  # 回访 after closure
    SURVEY_SMS = "survey_sms"  # survey calls unanswered: SMS with a reply code
    # The caller hears back: accepted / more information asked / answer at closure. One
    # per (ticket, audit event): round is the event's id, step what it was (CitizenStep).
    CITIZEN_SMS = "citizen_sms"
    # 多诉督办 opened: SMS to the supervisor (round = the record's id, ticket = its first)
    SUPERVISE_SMS = "supervise_sms"
    # The citizen added words to their open ticket by SMS: SMS to its handler (round = the
    # follow-up's audit event id, so one per follow-up).
    FOLLOW_UP_SMS = "follow_up_sms"


CALL_KINDS = frozenset({Kind.SIGN_CALL, Kind.ESCALATE_CALL, Kind.URGE, Kind.SURVEY_CALL,
                        Kind.UTILITY_CALL})
# Work for the citizens, which can wait a few minutes: at a claim it comes after the staff's
# work due beside it (``worker.claim_batch``). At 08:00 the night's 受理 SMS and surveys
# put off by quiet hours all fall due at once, and in due order alone a handler's dispatch
# SMS (or sign reminder) for a ticket filed at 08:00:05 waited behind every one (review113).
CITIZEN_KINDS = frozenset({Kind.CITIZEN_SMS, Kind.SURVEY_SMS, Kind.SURVEY_CALL})
# Work that only makes sense while the ticket waits to be signed.
SIGN_KINDS = frozenset({Kind.SIGN_CALL, Kind.ESCALATE_CALL})
# The result of sign work stopped because the ticket no longer waited for its sign (signed,
# moved, merged): the planner resumes it if the ticket waits again in the same round (a
# split back to its unit: planner.resume_sign_work).
SIGN_MOOT = "signed_or_moved"


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"  # claimed; committed before the call is placed
    DONE = "done"
    CANCELLED = "cancelled"  # the ticket moved on (signed, reassigned, surveyed...)
    # A 催办/督办 rung aimed at the unit while the ticket waits for the centre: kept with its
    # due time, pending again once it no longer waits (planner.release_held_urges).
    HELD = "held"
    FAILED = "failed"  # retries exhausted without reaching anyone


class Outcome(StrEnum):
    """The one outcome every carrier maps to."""

    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"  # 486/600
    REJECTED = "rejected"  # 603 declined
    FAILED = "failed"
    # Answered, and not a packet of audio from the phone all call (no RTP, no key): the
    # line was picked up (a phone answering for a busy user, a gateway with a broken media
    # path) but nobody could be heard or hear us. Before the twenty-second round it was
    # "answered" with no detail, and an escalation or 催办 so answered was settled as
    # heard; now every policy retries it as an unanswered call (not ANSWERED).
    NO_AUDIO = "no_audio"
    # Worker died between placing the call and recording its end (crash recovery).
    UNKNOWN = "unknown"
    SENT = "sent"  # SMS accepted by the provider


class OutboundTask(Base):
    """A durable work item. The unique key (ticket, kind, round, step) is what makes a
    planner running twice, or two planners at once, create each item only once."""

    __tablename__ = "outbound_tasks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "round", "step", name="uq_outbound_task"),
        Index("ix_outbound_tasks_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Dispatch round for sign work, closure round (ticket.redo_count) for urge/survey work.
    round: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer, default=0)  # e.g. which 催办 fraction
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.PENDING.value)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboundAttempt(Base):
    """One call or SMS as placed. Written (without an outcome) in the claim transaction,
    before dialling; answered_at and keys are committed while the call is still up, so a
    crash leaves evidence of what the callee already did."""

    __tablename__ = "outbound_attempts"
    __table_args__ = (
        UniqueConstraint("task_id", "attempt", name="uq_outbound_attempt"),
        Index("ix_outbound_attempts_phone", "to_phone", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("outbound_tasks.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))  # call | sms
    carrier: Mapped[str] = mapped_column(String(16))
    to_phone: Mapped[str] = mapped_column(String(32))
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    keys: Mapped[str | None] = mapped_column(String(32))
    call_ref: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SurveyReview(Base):
    """A dissatisfied citizen's ticket waiting for a supervisor (one per closure round)."""

    __tablename__ = "outbound_reviews"
    __table_args__ = (UniqueConstraint("ticket_id", "closure_round", name="uq_outbound_review"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    closure_round: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(64))
    keys: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)
