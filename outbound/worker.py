"""Claim due work items with a lease, place the call or SMS, record what happened.

Order of writes for one attempt (the crash rules in docs/outbound.md follow from it):

1. claim transaction: row locked (SKIP LOCKED on PostgreSQL), still wanted? (ticket state
   re-checked here, so a sign between plan and dial stops the call), attempts+1, status
   in_progress with a lease, an ``outbound_attempts`` row — COMMIT, then dial;
2. during the call: answered_at, then the keys and their effect (a key 1 signs), each
   committed at once;
3. finish transaction: outcome, audit event, and the next step (done / retry at a later
   time / escalate / SMS fallback) — only if this worker still holds the claim.

A row found in_progress with its lease run out belonged to a worker that died between 1
and 3. It is never redialled on the spot: the attempt row says what is known (answered?
keys?) and the task's own ``after`` rule decides, exactly as for a call that ended that way
(unknown counts as not reached: a retry at the next slot of the schedule).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import live_call
from outbound.citizen_sms import CitizenSms
from outbound.conversation import (
    KEYS_AHEAD,
    KEYS_WRONG,
    NO_AUDIO,
    NOT_COUNTED,
    STOPPED,
    Conversation,
)
from outbound.dialers import CallResult, Dialer
from outbound.lanes import sms_work
from outbound.models import (
    CITIZEN_KINDS,
    Kind,
    OutboundAttempt,
    OutboundTask,
    Outcome,
    TaskStatus,
)
from outbound.planner import plan
from outbound.policies import RECOVERED, SYSTEM, Policy, Target, abandoned, postpone
from outbound.reminders import (
    DispatchSms,
    EscalateCall,
    FollowUpSms,
    SignCall,
    SuperviseSms,
    UrgeCall,
    UtilityCall,
)
from outbound.sms import LogSms, SmsSender
from outbound.survey import SurveyCall, SurveySms
from outbound.telemetry import LATENESS_SECONDS
from ticketing import service
from ticketing.actors import mask_phone
from ticketing.classify import URGENCY_LEVELS
from ticketing.context import Domain
from ticketing.db import database_unavailable, transaction
from ticketing.models import Ticket
from ticketing.outage import OutageLog, first_line

log = logging.getLogger("outbound.worker")

# While the database is unavailable the worker retries after poll_seconds, doubling up to
# this many polls: a lock held for minutes costs a query every few seconds, not every poll.
OUTAGE_BACKOFF_POLLS = 8

POLICIES: dict[str, Policy] = {
    Kind.SMS_DISPATCH.value: DispatchSms(),
    Kind.SIGN_CALL.value: SignCall(),
    Kind.ESCALATE_CALL.value: EscalateCall(),
    Kind.URGE.value: UrgeCall(),
    Kind.UTILITY_CALL.value: UtilityCall(),
    Kind.SURVEY_CALL.value: SurveyCall(),
    Kind.SURVEY_SMS.value: SurveySms(),
    Kind.CITIZEN_SMS.value: CitizenSms(),
    Kind.SUPERVISE_SMS.value: SuperviseSms(),
    Kind.FOLLOW_UP_SMS.value: FollowUpSms(),
}

EVENT_NOTES: dict[str, str] = {
    Kind.SMS_DISPATCH.value: "派单短信",
    Kind.SIGN_CALL.value: "签收提醒电话",
    Kind.ESCALATE_CALL.value: "督办电话",
    Kind.URGE.value: "催办",
    Kind.UTILITY_CALL.value: "水电气暖督办电话",
    Kind.SURVEY_CALL.value: "回访电话",
    Kind.SURVEY_SMS.value: "回访短信",
    Kind.CITIZEN_SMS.value: "告知市民短信",
    Kind.SUPERVISE_SMS.value: "多诉督办短信",
    Kind.FOLLOW_UP_SMS.value: "市民补充信息短信",
}

# What an attempt came to, as the trail tells the operators (review127: it printed the code,
# "派单短信（第1次）：unknown"). By channel: a failed call and a failed SMS are different
# things, and "unknown" calls for different action on each (a call is retried as not
# reached, an SMS is never sent twice). The event's data keeps the code for the machines.
OUTCOME_NOTES: dict[tuple[str, str], str] = {
    ("call", Outcome.ANSWERED): "已接通",
    ("call", Outcome.NO_ANSWER): "无人接听",
    ("call", Outcome.BUSY): "对方忙线",
    ("call", Outcome.REJECTED): "对方拒接",
    ("call", Outcome.FAILED): "呼叫失败",
    ("call", Outcome.NO_AUDIO): "接通无声",
    ("call", Outcome.UNKNOWN): "结果未知（可能未接通，按未接通处理）",
    ("sms", Outcome.SENT): "短信平台已受理",
    ("sms", Outcome.FAILED): "发送失败",
    ("sms", Outcome.UNKNOWN): "结果未知（可能未送达，请人工核实）",
}


def outcome_note(channel: str, outcome: str) -> str:
    """The trail's words for an attempt's outcome; a code from elsewhere shows as itself."""
    return OUTCOME_NOTES.get((channel, outcome), outcome)


@dataclass(frozen=True)
class Claim:
    task_id: int
    attempt_id: int
    kind: str
    target: Target


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def sms_ref(task_id: int, to: str, text: str) -> str:
    """The id the SMS provider is given to drop repeats: the same at every attempt of the
    same message. Per attempt, a gateway that took an SMS but answered after our timeout
    (so it counted as failed and was retried) got a new id and sent it again: the handler
    and the citizen texted twice, three times after the second retry (fault trial,
    fifteenth round, docs/scaling.md). A message that changed between attempts is new."""
    digest = hashlib.sha256(f"{to}\n{text}".encode()).hexdigest()[:16]
    return f"outbound-{task_id}-{digest}"


# Logged when the lanes' SQL (``outbound.lanes.sms_work``) and the prepared target disagree
# on the channel: tests/outbound/conftest.py fails any test that logs it.
LANE_MISREAD = "lane misread"


# Rows one claim transaction may read without a claim (postponed out of quiet hours,
# cancelled, waiting for a line) beyond its claims: a backlog of them is worked through
# by the drain's next transactions, not one that holds SQLite's single writer for it all.
# 64 (sms43) held it ~0.2 s a transaction over a backlog of held receipts, and a filing
# beside it waited p50 ~270 ms, max 0.5 s; at 16 p50 48 ms, max 0.15 s, the backlog
# settled no slower (review113, docs/scaling.md; load ~19 on 2 cores). A query reads up
# to a lane's room, so a transaction may read ``room - 1`` rows past this.
SETTLE_PER_BATCH = 16


@dataclass(frozen=True)
class ClaimBatch:
    claims: list[Claim]
    settled: int  # rows read and settled without a claim, no longer due


def claim_due(*, session: Session, domain: Domain, worker: str, now: datetime, limit: int,
              carrier: str, sms_carrier: str, running: Collection[int] = (),
              sms_limit: int | None = None) -> list[Claim]:
    """The claims of ``claim_batch``."""
    return claim_batch(session=session, domain=domain, worker=worker, now=now, limit=limit,
                       carrier=carrier, sms_carrier=sms_carrier, running=running,
                       sms_limit=sms_limit).claims


def claim_batch(*, session: Session, domain: Domain, worker: str, now: datetime, limit: int,
                carrier: str, sms_carrier: str, running: Collection[int] = (),
                sms_limit: int | None = None) -> ClaimBatch:
    """Claim up to ``limit`` due calls and ``sms_limit`` (``limit`` if None) due SMS, each
    in due order, the staff's work before the citizens' (``models.CITIZEN_KINDS``: at
    08:00 a handler's SMS waited behind the night's receipts, review113; ``lanes.sms_work``
    tells SMS and calls apart); settle abandoned ones (no live
    claim, ``claim_live``) on the way. ``running``: the tasks this worker is carrying out
    now. One limit for both in due order had a second surge's dispatch SMS wait behind
    reminder calls holding every slot (review101, sms42).

    A limit counts claims, not rows read: a row its ``prepare`` settles without a claim
    (a citizen's SMS postponed to the end of quiet hours, a cancelled reminder, a call
    waiting for a line) leaves its lane's room to the next due row, read in the same
    transaction, up to ``SETTLE_PER_BATCH`` rows read without a claim (the drain goes on
    in its next transaction: ``settled``). Before (sms43), a batch of eight
    citizens' 受理 SMS found in quiet hours claimed nothing, the drain took "nothing
    claimed" for "nothing due", and each poll settled eight of them: 400 tickets filed at
    night had their handlers' dispatch SMS, due among them, out ~20 s late."""
    lease = timedelta(seconds=domain.settings.outbound.lease_seconds)
    wanted = or_(
        and_(OutboundTask.status == TaskStatus.PENDING.value, OutboundTask.due_at <= now),
        # Not read at all while live: a held task skipped here used one of the limit's
        # slots until its next renewal (review60).
        and_(OutboundTask.status == TaskStatus.IN_PROGRESS.value, ~claim_live(now, running)),
    )
    texts = sms_work(domain)
    # The lanes' SQL reads the channel before prepare; the prepared target is what is
    # placed, and each channel's limit holds on that: a task the SQL misread (a call kind
    # left out of CALL_KINDS) waits for a slot of its own channel, never beyond it.
    room = {"sms": limit if sms_limit is None else sms_limit, "call": limit}
    staff_first = case((OutboundTask.kind.in_([k.value for k in CITIZEN_KINDS]), 1), else_=0)
    claims: list[Claim] = []
    seen: list[int] = []  # read in this transaction: a row left due is not read twice
    settled = 0
    for lane, where in (("sms", texts), ("call", ~texts)):
        # Bounded by the rows read without a claim, so a lane of rows left due (a misread)
        # is not read whole in one transaction either.
        while room[lane] > 0 and len(seen) - len(claims) < SETTLE_PER_BATCH:
            want = room[lane]
            rows = session.scalars(
                select(OutboundTask).where(wanted, where, OutboundTask.id.not_in(seen))
                .order_by(staff_first, OutboundTask.due_at, OutboundTask.id)
                .limit(want)
                .with_for_update(skip_locked=True)).all()
            for task in rows:
                seen.append(task.id)
                claim = _claim_one(session=session, domain=domain, task=task, lane=lane,
                                   room=room, worker=worker, now=now, lease=lease,
                                   carrier=carrier, sms_carrier=sms_carrier, running=running)
                if claim is not None:
                    claims.append(claim)
                elif task.status != TaskStatus.PENDING.value or task.due_at > now:
                    settled += 1
            if len(rows) < want:
                break  # the lane has nothing more due (or not free to this claim)
    session.flush()
    return ClaimBatch(claims, settled)


def _claim_one(*, session: Session, domain: Domain, task: OutboundTask, lane: str,
               room: dict[str, int], worker: str, now: datetime, lease: timedelta,
               carrier: str, sms_carrier: str, running: Collection[int]) -> Claim | None:
    """Prepare and claim one due row read in ``lane``, taking a slot of its channel's
    ``room``; None when it was settled instead (or left due: a misread lane)."""
    ticket = session.get_one(Ticket, task.ticket_id)
    policy = POLICIES[task.kind]
    if task.status == TaskStatus.IN_PROGRESS.value:
        recover_abandoned(session=session, domain=domain, task=task, ticket=ticket, now=now)
        return None
    # prepare() may record a rung or plan an escalation: undone below when the line is
    # in a call already, so the next claim prepares the task afresh, once.
    before = session.begin_nested()
    target = policy.prepare(session=session, domain=domain, task=task, ticket=ticket,
                            now=now)
    if target is None:
        before.commit()
        return None
    if target.channel != lane:
        log.error("%s: task %s (%s, step %s) read as %s, prepared as %s", LANE_MISREAD,
                  task.id, task.kind, task.step, lane, target.channel)
    if room[target.channel] <= 0:  # never without a misread: a lane reads its room
        before.rollback()
        return None
    busy = (line_in_call(session, target, now, running=running)
            if target.channel == "call" else None)
    if busy is not None:
        before.rollback()
        wait_for_line(session=session, task=task, ticket=ticket, busy=busy, now=now)
        return None
    before.commit()
    LATENESS_SECONDS.labels(task.kind).observe(
        max(0.0, (now - task.due_at).total_seconds()))
    task.attempts += 1
    task.status = TaskStatus.IN_PROGRESS.value
    task.claimed_by = worker
    task.claimed_until = now + lease
    attempt = OutboundAttempt(
        task_id=task.id, ticket_id=task.ticket_id, kind=task.kind, attempt=task.attempts,
        channel=target.channel, carrier=carrier if target.channel == "call" else sms_carrier,
        to_phone=target.phone, to_user_id=target.user_id, worker=worker, started_at=now,
    )
    session.add(attempt)
    session.flush()
    room[target.channel] -= 1
    return Claim(task.id, attempt.id, task.kind, target)


def claim_live(now: datetime, running: Collection[int]) -> ColumnElement[bool]:
    """Whether an in-progress task's claim is live: its lease has not run out, or it is one
    of ``running``, the tasks this worker is carrying out now, live whatever the wall
    clock says. The one rule of the recovery (``claim_due``: a task with no live claim is
    a dead worker's) and of the line check (``line_in_call``: a call counts while its claim
    is live). By the lease alone, a step of the wall clock past it (NTP, a VM resumed),
    before the keeper's next renewal, had the worker settle its own live call and ring the
    phone again (judge28), then, with that mended, count the phone free and place the
    next call to it on top of the live one (review60)."""
    live = OutboundTask.claimed_until >= now
    return or_(live, OutboundTask.id.in_(list(running))) if running else live


# A call waiting for another call to the same phone is due again when that call ends
# (``free_line``), or this much later when no end is recorded (a worker that died in it:
# its lease runs out first).
LINE_RECHECK_SECONDS = 15.0
WAITS_FOR_LINE = "line:"  # OutboundTask.result while it waits: "line:" + the phone


# OutboundTask.result while another transaction was claiming the same phone (PostgreSQL's
# advisory lock taken): no call of ours is known to be under way, so nothing is said on the
# ticket; a later wait for a real call still says so once (it starts with WAITS_FOR_LINE,
# this does not).
CLAIMED_LINE = "line?:"


def waits_for_line(phone: str) -> str:
    return f"{WAITS_FOR_LINE}{phone}"[:32]  # OutboundTask.result's width; E.164 is <= 16


def claimed_line(phone: str) -> str:
    return f"{CLAIMED_LINE}{phone}"[:32]


def line_lock(phone: str) -> int:
    """The PostgreSQL advisory lock key of one phone's line."""
    return int.from_bytes(hashlib.sha256(f"outbound-line:{phone}".encode()).digest()[:8],
                          "big", signed=True)


# OutboundAttempt.kind of a stand-in for a call the phone made to us (``line_in_call``).
INBOUND = "inbound"


def line_in_call(session: Session, target: Target, now: datetime, *,
                 running: Collection[int] = ()) -> OutboundAttempt | None:
    """The call being placed to ``target``'s phone now, by any worker, or None. A person
    has one phone and it takes one call at a time: two reminders to one handler a second
    apart (tickets 4 and 5, both cy-handler's) were two calls at once, the second busy,
    retried and counted as a miss (twenty-first round's trial). A call counts while its
    task's claim is live (``claim_live``: ``running`` are this worker's calls; a dead
    worker's is settled by ``recover_abandoned`` and frees the line). On PostgreSQL two
    workers claiming calls to one phone at once take turns by an advisory lock held to
    COMMIT; one that finds it taken treats the line as busy rather than wait (no deadlock
    between claim batches); SQLite's transactions begin IMMEDIATE (ticketing.db), so
    claims are serialised already."""
    if session.get_bind().dialect.name == "postgresql" and not session.scalar(
            select(func.pg_try_advisory_xact_lock(line_lock(target.phone)))):
        # Being claimed elsewhere: no attempt row (id None), perhaps no call at all.
        return OutboundAttempt(to_phone=target.phone)
    ours = session.scalars(
        select(OutboundAttempt)
        .join(OutboundTask, OutboundTask.id == OutboundAttempt.task_id)
        .where(OutboundAttempt.channel == "call", OutboundAttempt.to_phone == target.phone,
               OutboundAttempt.ended_at.is_(None),
               OutboundTask.status == TaskStatus.IN_PROGRESS.value,
               claim_live(now, running))
        .limit(1)).first()
    if ours is not None:
        return ours
    # The phone calling the hotline right now is in a call just as much: a survey rang a
    # citizen still on the line with us (a handler reminded while calling the hotline),
    # busy or call waiting mid-dialogue. Its end writes nothing here; the recheck finds it.
    inbound = live_call(session, target.phone, now)
    if inbound is None:
        return None
    return OutboundAttempt(id=0, kind=INBOUND, to_phone=target.phone,
                           ticket_id=inbound.ticket_id)


def wait_for_line(*, session: Session, task: OutboundTask, ticket: Ticket,
                  busy: OutboundAttempt, now: datetime) -> None:
    """Hold ``task`` until the line is free: no attempt, nothing counted (a phone in our
    own call is no miss), looked at again in ``LINE_RECHECK_SECONDS``. Said on its ticket
    once per wait; the call itself follows as any attempt does."""
    first = not (task.result or "").startswith(WAITS_FOR_LINE)
    later = now + timedelta(seconds=LINE_RECHECK_SECONDS)
    if busy.id is None:
        # Only the phone's advisory lock was taken (PostgreSQL): another transaction is
        # claiming a task for this phone right now, which may yet place no call (its ticket
        # signed, its SMS the channel). "正在接听另一通电话" would then be untrue on the
        # ticket, so nothing is said here; if that claim did place a call, the next look
        # finds it and says so then. Either way its end (or the recheck) frees this task.
        # A task already waiting for a real call stays so: said once per wait.
        postpone(task, later, claimed_line(busy.to_phone) if first else task.result)
        return
    postpone(task, later, waits_for_line(busy.to_phone))
    if not first:
        return
    other = session.get(Ticket, busy.ticket_id) if busy.ticket_id else None
    if busy.kind == INBOUND:
        about = f"（来电，工单{other.number}）" if other is not None else ""
        what = f"对方号码正在拨打本热线{about}"
    else:
        about = (f"（{EVENT_NOTES.get(busy.kind, busy.kind)}，工单{other.number}）"
                 if other is not None and busy.kind else "")
        what = f"对方号码正在接听本热线的另一通电话{about}"
    service.record_event(
        session=session, ticket=ticket, actor=SYSTEM, action="outbound_wait",
        note=(f"{EVENT_NOTES.get(task.kind, task.kind)}：{what}，待其结束后再拨（不计为未接通）"),
        data={"kind": task.kind, "round": task.round, "step": task.step,
              "to": mask_phone(busy.to_phone), "busy_with_ticket": other.number if other else None,
              **({INBOUND: True} if busy.kind == INBOUND else {})},
        at=now)
    log.info("task %s (%s, ticket %s): the phone is in another of our calls; waiting",
             task.id, task.kind, ticket.number)


def free_line(session: Session, phone: str, now: datetime) -> None:
    """A call to ``phone`` has ended: the most urgent call waiting for it is due now, the
    others wait for that one in turn. All due at once, the claim took them oldest first,
    so a supervisor's urgent ticket waited behind every older call to them (review,
    twenty-second round). Most urgent: the ticket's urgency (life safety, livelihood,
    general), then its nearest deadline, then the order they were planned. The others are
    pushed past the one freed, so their own recheck cannot take the line before it."""
    waiting = and_(OutboundTask.status == TaskStatus.PENDING.value,
                   OutboundTask.result.in_([waits_for_line(phone), claimed_line(phone)]))
    first = session.scalar(
        select(OutboundTask.id).join(Ticket, Ticket.id == OutboundTask.ticket_id)
        .where(waiting)
        .order_by(case({u: i for i, u in enumerate(URGENCY_LEVELS)}, value=Ticket.urgency,
                       else_=len(URGENCY_LEVELS)),
                  Ticket.due_at.is_(None), Ticket.due_at, OutboundTask.id)
        .limit(1))
    if first is None:
        return
    session.execute(update(OutboundTask).where(OutboundTask.id == first)
                    .values(due_at=now).execution_options(synchronize_session=False))
    later = now + timedelta(seconds=LINE_RECHECK_SECONDS)
    session.execute(update(OutboundTask)
                    .where(waiting, OutboundTask.id != first, OutboundTask.due_at < later)
                    .values(due_at=later).execution_options(synchronize_session=False))


# The share of a poll one tick may spend claiming batch after batch while work is due
# (``OutboundWorker._drain``); the rest keeps the tick within its interval, so the scheduler
# never finds it still running (it would skip the run and log a warning each time).
DRAIN_SHARE = 0.8


# How often a call's lease is renewed while the call goes on, as a share of the lease: two
# renewals may fail (the database busy) before a live call's claim runs out.
RENEWALS_PER_LEASE = 3


def renew_lease(*, session: Session, task_id: int, worker: str, now: datetime,
                lease_seconds: float) -> bool:
    """Extend ``worker``'s claim of a task whose call is still up; False when the claim is
    no longer its own (taken over, settled). Before, the lease was set once at the claim:
    a call longer than ``lease_seconds`` (300 s) was counted dead while it went on, so its
    line was free to a second call to the same phone and its task to a second claim
    (settled by recovery, and a survey placed again) while the first still talked."""
    done = session.execute(
        update(OutboundTask)
        .where(OutboundTask.id == task_id, OutboundTask.claimed_by == worker,
               OutboundTask.status == TaskStatus.IN_PROGRESS.value)
        .values(claimed_until=now + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False))
    return bool(getattr(done, "rowcount", 0))


def end_leases(*, session: Session, call_refs: Collection[str], worker: str, now: datetime,
               lease_seconds: float) -> list[int]:
    """End now the claims of calls known over: ``call_refs``, a dead process's calls that
    the next start on its SIP address ended with a BYE (``SipFrontEnd.left_ended``). A
    claim lives by its lease (``claim_live``) because a dead worker's call may still be
    up; once its BYE is sent it is not, so the claim runs out here (as if renewed last a
    lease ago) and the same claim settles it by the crash rule (``recover_abandoned``):
    the outcome its lease's end gives, a result recorded before the kill kept, nothing
    dialled on the spot, the phone free. Only a claim still the attempt's own worker's
    and not ours (a task taken over since has another attempt, and call, of its own).
    Before (judge39), the BYE went and the task waited the whole lease (300 s), the phone
    busy to every call waiting for it. The ids of the tasks whose claims ended."""
    if not call_refs:
        return []
    ids = list(session.scalars(
        select(OutboundTask.id)
        .join(OutboundAttempt, OutboundAttempt.task_id == OutboundTask.id)
        .where(OutboundAttempt.call_ref.in_(list(call_refs)),
               OutboundAttempt.channel == "call", OutboundAttempt.ended_at.is_(None),
               OutboundTask.status == TaskStatus.IN_PROGRESS.value,
               OutboundTask.claimed_by == OutboundAttempt.worker,
               OutboundTask.claimed_by != worker)))
    if ids:
        session.execute(
            update(OutboundTask).where(OutboundTask.id.in_(ids))
            .values(claimed_until=now - timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False))
        log.info("tasks %s: their calls were ended by our start's BYE; settled now, not a "
                 "lease later", ", ".join(map(str, ids)))
    return ids


def recover_abandoned(*, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
                      now: datetime) -> None:
    attempt = session.scalars(
        select(OutboundAttempt).where(OutboundAttempt.task_id == task.id)
        .order_by(OutboundAttempt.attempt.desc()).limit(1)
    ).first()
    if attempt is None:  # claimed but the attempt row never committed: nothing was placed
        task.status = TaskStatus.PENDING.value
        task.claimed_by = task.claimed_until = None
        return
    if attempt.ended_at is None or not attempt.outcome:
        answered = attempt.answered_at is not None
        attempt.outcome = (Outcome.ANSWERED if answered else Outcome.UNKNOWN).value
        attempt.ended_at = now
        attempt.detail = f"worker {attempt.worker} died during the attempt; lease ran out"
        # The policies must not place an answered call again because of a crash.
        attempt.data = {**(attempt.data or {}), RECOVERED: True}
        if attempt.channel == "call":
            free_line(session, attempt.to_phone, now)
    log.warning("task %s (%s, ticket %s): abandoned by %s, outcome %s", task.id, task.kind,
                ticket.number, attempt.worker, attempt.outcome)
    _audit(session, task, ticket, attempt, now)
    task.claimed_by = task.claimed_until = None
    POLICIES[task.kind].after(session=session, domain=domain, task=task, ticket=ticket,
                              attempt=attempt, now=now)


def record_end(*, session: Session, domain: Domain, claim: Claim, worker: str,
               outcome: Outcome, keys: str, call_ref: str | None, detail: str) -> None:
    """The finish transaction of one attempt."""
    now = domain.now()
    task = session.scalars(
        select(OutboundTask).where(OutboundTask.id == claim.task_id).with_for_update()
    ).one()
    attempt = session.get_one(OutboundAttempt, claim.attempt_id, populate_existing=True)
    ticket = session.get_one(Ticket, task.ticket_id, populate_existing=True)
    if attempt.ended_at is None or attempt.outcome is None:
        attempt.outcome = outcome.value
    attempt.ended_at = attempt.ended_at or now
    # Keys committed during the call win over what the carrier reported at the end.
    attempt.keys = max(attempt.keys or "", keys or "", key=len) or None
    attempt.call_ref = attempt.call_ref or call_ref
    attempt.detail = (detail or attempt.detail or "")[:2000] or None
    if attempt.channel == "call":
        free_line(session, attempt.to_phone, now)
    if task.status != TaskStatus.IN_PROGRESS.value or task.claimed_by != worker:
        # Our lease ran out and another worker settled the task: keep the record only.
        log.warning("task %s was taken over while %s held the call", task.id, worker)
        return
    _audit(session, task, ticket, attempt, now)
    task.claimed_by = task.claimed_until = None
    POLICIES[task.kind].after(session=session, domain=domain, task=task, ticket=ticket,
                              attempt=attempt, now=now)


NOT_COUNTED_NOTE = "（通话期间工单状态已变更，按键未生效）"
NOT_COUNTED_NOTES = {
    Kind.SURVEY_CALL.value: "（回访期间工单已驳回重办或变更，本次回答未计入满意度）",
    Kind.SIGN_CALL.value: "（通话期间工单已签收、退回或改派，按键未生效）",
}
# Why, when it is not the ticket that moved: the citizen answered the survey another way
# (the SMS reply code, the centre) while the call rang (judge28).
NOT_COUNTED_WHY = {"answered": "（回访期间市民已通过短信或人工回访作答，本次未再提问）"}
# The same, when this call's keys had answered already (the SMS reply landed between the
# call's two keys, review60): asked, answered, and not counted.
NOT_COUNTED_KEYED = {"answered": "（回访期间市民已通过短信或人工回访作答，以该次作答为准，"
                                 "本次按键未计入满意度）"}


def _audit(session: Session, task: OutboundTask, ticket: Ticket, attempt: OutboundAttempt,
           now: datetime) -> None:
    action = "outbound_call" if attempt.channel == "call" else "outbound_sms"
    outcome = attempt.outcome or Outcome.UNKNOWN.value
    keys = f"，按键{attempt.keys}" if attempt.keys else ""
    # Pressed before the question: answered nothing, but pressed (set_keys_ahead_aside).
    ahead = (attempt.data or {}).get(KEYS_AHEAD)
    keys += f"，提问前按键{ahead}（不作答）" if ahead else ""
    # Keys no question takes (Conversation.wrong): pressed, answering nothing.
    wrong = (attempt.data or {}).get(KEYS_WRONG)
    keys += f"，无效按键{wrong}（不作答）" if wrong else ""
    # The shipped provider only logs: a timeline saying "sent" had the centre believe the
    # handler or the citizen was told. What they would have read is its detail (LogSms).
    logged = attempt.channel == "sms" and attempt.carrier == LogSms.name
    text = f"；内容：{attempt.detail}" if logged and outcome == Outcome.SENT.value else ""
    unsent = f"（短信通道为 log，未实际发出{text}）" if logged else ""
    # Settled by recovery, not by its worker: the trail read like a call that ended as
    # calls do, though the service died in it (the outcome is what was committed by then).
    # A call only (an SMS has no "during"), and worded for what happened, not what comes
    # next: a survey cut so is placed again (outbound.policies), a reminder is settled.
    recovered = attempt.channel == "call" and abandoned(attempt)
    cut = "（通话中服务中断，以中断前已记录的接听与按键为准）" if recovered else ""
    # Hung up by our own stop (SIGTERM), with a BYE: the same, said as what it was.
    stopped = bool((attempt.data or {}).get(STOPPED))
    cut += "（通话中服务停止，以停止前已记录的接听与按键为准）" if stopped else ""
    # Picked up, nothing heard from the phone (Outcome.NO_AUDIO): said, and what follows.
    unheard = (attempt.data or {}).get(NO_AUDIO)
    cut += "（已接通，但对方电话无任何声音传来，按未接通处理）" if unheard else ""
    # Keys that did nothing because the ticket had moved on meanwhile (a survey answered
    # after a 驳回重办, a sign reminder's 1 after a 退单 or a sign in the console): said,
    # or the trail read as the citizen's verdict on the reopened ticket, or as a signing.
    not_counted = (attempt.data or {}).get(NOT_COUNTED)
    why = NOT_COUNTED_KEYED if attempt.keys else NOT_COUNTED_WHY
    cut += (why.get(not_counted) or NOT_COUNTED_NOTES.get(task.kind, NOT_COUNTED_NOTE)
            if not_counted else "")
    service.record_event(
        session=session, ticket=ticket, actor=SYSTEM, action=action,
        note=(f"{EVENT_NOTES.get(task.kind, task.kind)}（第{attempt.attempt}次）："
              f"{outcome_note(attempt.channel, outcome)}{keys}{unsent}{cut}"),
        data={"kind": task.kind, "round": task.round, "step": task.step,
              "attempt": attempt.attempt, "to": mask_phone(attempt.to_phone),
              "outcome": outcome, "keys": attempt.keys, "carrier": attempt.carrier,
              "call_ref": attempt.call_ref, **({RECOVERED: True} if recovered else {}),
              **({KEYS_AHEAD: ahead} if ahead else {}),
              **({KEYS_WRONG: wrong} if wrong else {}),
              **({NO_AUDIO: unheard} if unheard else {}),
              **({STOPPED: True} if stopped else {}),
              **({NOT_COUNTED: not_counted} if not_counted else {})},
        at=now,
    )


def conversation_for(*, sessions: sessionmaker[Session], domain: Domain,
                     attempt_id: int) -> Conversation:
    """The conversation of a claimed call attempt (the worker's SIP thread and the Twilio
    webhooks both build it from the rows)."""
    with sessions() as session:
        attempt = session.get_one(OutboundAttempt, attempt_id)
        task = session.get_one(OutboundTask, attempt.task_id)
        ticket = session.get_one(Ticket, attempt.ticket_id)
        _ = ticket.unit, ticket.handler  # loaded before the session closes
        return POLICIES[task.kind].conversation(sessions=sessions, domain=domain, task=task,
                                                attempt=attempt, ticket=ticket)


class OutboundWorker:
    """One process's share of the outbound work: a planning pass every ``plan_seconds``,
    up to ``max_parallel`` calls and, in slots of their own, ``sms_parallel`` SMS in
    flight. ``tick()`` is what APScheduler runs."""

    def __init__(self, *, sessions: sessionmaker[Session], domain: Domain, dialer: Dialer,
                 sms: SmsSender, name: str | None = None,
                 max_parallel: int | None = None, sms_parallel: int | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 renew_seconds: float | None = None,
                 ended_calls: Collection[str] = ()) -> None:
        self.sessions = sessions
        self.domain = domain
        self.dialer = dialer
        self.sms = sms
        self.name = name or worker_name()
        self.max_parallel = max_parallel or domain.settings.outbound.max_parallel
        self.sms_parallel = sms_parallel or domain.settings.outbound.sms_parallel
        self._pool = ThreadPoolExecutor(self.max_parallel + self.sms_parallel,
                                        thread_name_prefix="outbound")
        self._lock = threading.Lock()
        # Notified when an attempt ends and its slot is free (``_drain`` waits on it).
        self._slot_free = threading.Condition(self._lock)
        # Set by ``shutdown`` (under ``_lock``): nothing is claimed from then on, and a
        # drain waiting for a slot returns at once.
        self._stopping = False
        self._inflight = 0
        self._texting = 0  # of ``_inflight``, the SMS (the rest are calls)
        self._running: set[int] = set()  # the tasks of the claims being carried out
        # Calls a dead process of this node left up, ended by our start's BYE: their
        # claims end at the next claim (``end_leases``), kept until that commits.
        self._ended_calls = list(ended_calls)
        self._clock = clock
        self._last_plan = 0.0
        self._tick_lock = threading.Lock()
        # The database outage this worker is waiting out, the back-off and when the next
        # tick may try again.
        poll = domain.settings.outbound.poll_seconds
        self._outage = OutageLog(log, "outbound", counted="tick(s) failed", clock=clock,
                                 waiting=f"retrying every {poll:g}-"
                                         f"{poll * OUTAGE_BACKOFF_POLLS:g} s until it is back")
        self._backoff = 0.0
        self._retry_at = 0.0
        # A live call's lease renewed this often (wall seconds): a crash stops the renewals,
        # so its claim still runs out within one lease of the last.
        self.renew_seconds = renew_seconds or max(
            1.0, domain.settings.outbound.lease_seconds / RENEWALS_PER_LEASE)

    def plan_now(self) -> None:
        with transaction(self.sessions) as session:
            plan(session=session, domain=self.domain, now=self.domain.now())
        self._last_plan = self._clock()

    def tick(self) -> int:
        """Plan if due, then claim and start as many due items as there are free slots.

        A database that is locked or down is an expected condition, not a bug: one warning
        when it starts, ticks skipped with a growing back-off, one line when it is back.
        Any other error propagates (the scheduler logs its traceback)."""
        with self._tick_lock:
            now = self._clock()
            if now < self._retry_at:
                return 0
            try:
                started = self._drain()
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                self._database_failed(exc, now)
                return 0
            if self._outage.succeeded():
                self._backoff = self._retry_at = 0.0
            return started

    def _database_failed(self, exc: BaseException, now: float) -> None:
        poll = self.domain.settings.outbound.poll_seconds
        if self._outage.failed(exc):
            self._backoff = poll
        else:
            self._backoff = min(self._backoff * 2, poll * OUTAGE_BACKOFF_POLLS)
        self._retry_at = now + self._backoff

    def _drain(self) -> int:
        """Claim and start due items until a batch claims none or ``DRAIN_SHARE`` of a
        poll has passed: a batch that claimed any says more may be due, so the next is
        claimed at once, or as soon as a slot frees. Before (sms41), ``serve``'s scheduler
        ran one batch of ``max_parallel`` a poll: 400 tickets dispatched in a storm had
        their handlers' SMS (and the citizens' 受理 SMS beside them) out at 8 a second, the
        last minutes late. Calls and SMS have slots of their own (``_free``): the wait is
        for a slot of a channel the last batch claimed in, as more may be due there. The
        budget is read on the worker's clock (``time.monotonic`` unless a test gives another).
        A batch that only settled rows (postponed, cancelled: ``claim_batch``) says more may
        be due too: taken for "nothing due", eight citizens' SMS put off to the morning a
        poll held a night surge's dispatch SMS ~20 s (sms43)."""
        budget = self.domain.settings.outbound.poll_seconds * DRAIN_SHARE
        end = self._clock() + budget
        started = 0
        while True:
            calls, texts, settled = self._claim_and_start()
            started += calls + texts
            if not calls + texts:
                if settled and self._clock() < end:
                    continue  # rows settled without a claim: more may be due behind them
                return started  # nothing (more) due, or every slot is taken
            with self._slot_free:
                while not self._stopping:
                    call_slots, sms_slots = self._free()
                    if (calls and call_slots > 0) or (texts and sms_slots > 0):
                        break
                    left = end - self._clock()
                    if left <= 0:
                        return started
                    self._slot_free.wait(left)
            if self._clock() >= end:
                return started

    def _claim_and_start(self) -> tuple[int, int, int]:
        """Claim into the free slots and hand the claims to the pool: how many calls and
        how many SMS were started, and how many rows were settled without a claim."""
        if self._clock() - self._last_plan >= self.domain.settings.outbound.plan_seconds:
            self.plan_now()
        with self._lock:
            call_slots, sms_slots = self._free()
            running = set(self._running)
        if (call_slots <= 0 and sms_slots <= 0) or self._stopping:
            return 0, 0, 0
        ended = list(self._ended_calls)
        with transaction(self.sessions) as session:
            now = self.domain.now()
            end_leases(session=session, call_refs=ended, worker=self.name, now=now,
                       lease_seconds=self.domain.settings.outbound.lease_seconds)
            batch = claim_batch(session=session, domain=self.domain, worker=self.name,
                                now=now, limit=max(0, call_slots),
                                sms_limit=max(0, sms_slots),
                                carrier=self.dialer.name, sms_carrier=self.sms.name,
                                running=running)
        claims = batch.claims
        if ended:
            # Settled, or handed to whichever worker claims first: the claims have ended.
            self._ended_calls = [c for c in self._ended_calls if c not in ended]
        for claim in claims:
            with self._lock:
                self._inflight += 1
                self._texting += claim.target.channel == "sms"
                self._running.add(claim.task_id)
            self._pool.submit(self._run, claim)
        texts = sum(claim.target.channel == "sms" for claim in claims)
        return len(claims) - texts, texts, batch.settled

    def _free(self) -> tuple[int, int]:
        """Free call slots and free SMS slots (under ``_lock``): an attempt takes a slot
        of its own channel, so calls stay within ``max_parallel`` whatever the SMS do."""
        calls = self._inflight - self._texting
        return self.max_parallel - calls, self.sms_parallel - self._texting

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop``; straight on while there is work, else every poll_seconds."""
        while not stop.is_set():
            try:
                started = self.tick()
            except Exception:
                log.exception("outbound tick failed")
                started = 0
            if not started:
                stop.wait(self.domain.settings.outbound.poll_seconds)

    def _run(self, claim: Claim) -> None:
        ended = threading.Event()
        keeper = threading.Thread(target=self._keep_lease, args=(claim, ended), daemon=True,
                                  name=f"outbound-lease-{claim.task_id}")
        try:
            # In the try: a keeper that cannot start (no thread left) fails the attempt
            # before anything is placed; outside it, the slot was never freed (review101).
            keeper.start()
            result = self._execute(claim)
        except Exception as exc:
            log.exception("task %s attempt %s failed", claim.task_id, claim.attempt_id)
            result = CallResult(Outcome.FAILED, detail=f"{type(exc).__name__}: {exc}"[:500])
        finally:
            ended.set()
            if keeper.ident is not None:
                keeper.join()
        try:
            with transaction(self.sessions) as session:
                record_end(session=session, domain=self.domain, claim=claim, worker=self.name,
                           outcome=result.outcome, keys=result.keys, call_ref=result.call_ref,
                           detail=result.detail)
        except Exception as exc:
            # Left in_progress: the lease runs out and recovery settles it from the rows.
            if not database_unavailable(exc):
                log.exception("recording the end of task %s failed", claim.task_id)
            else:
                log.warning("recording the end of task %s failed, database unavailable "
                            "(%s: %s); its lease will settle it", claim.task_id,
                            type(exc).__name__, first_line(exc))
        finally:
            with self._slot_free:
                self._inflight -= 1
                self._texting -= claim.target.channel == "sms"
                self._running.discard(claim.task_id)
                self._slot_free.notify_all()

    def _keep_lease(self, claim: Claim, ended: threading.Event) -> None:
        """Renew the claim's lease until its call (or SMS) ends. A renewal that fails (the
        database down) is tried again at the next turn; one that finds the claim gone
        stops (the finish transaction then keeps the record only, ``record_end``)."""
        lease = self.domain.settings.outbound.lease_seconds
        while not ended.wait(self.renew_seconds):
            try:
                with transaction(self.sessions) as session:
                    mine = renew_lease(session=session, task_id=claim.task_id,
                                       worker=self.name, now=self.domain.now(),
                                       lease_seconds=lease)
            except Exception as exc:
                log.warning("task %s: renewing its lease failed (%s: %s); trying again",
                            claim.task_id, type(exc).__name__, first_line(exc))
                continue
            if not mine:
                log.warning("task %s: its claim was taken over during the call", claim.task_id)
                return

    def _execute(self, claim: Claim) -> CallResult:
        target = claim.target
        if target.channel == "sms":
            text = target.text or ""
            sent = self.sms.send(to=target.phone, text=text,
                                 ref=sms_ref(claim.task_id, target.phone, text))
            outcome = (Outcome.SENT if sent.ok
                       else Outcome.UNKNOWN if sent.unknown else Outcome.FAILED)
            return CallResult(outcome, call_ref=sent.ref, detail=sent.detail)
        conversation = conversation_for(sessions=self.sessions, domain=self.domain,
                                        attempt_id=claim.attempt_id)
        return self.dialer.call(to=target.phone, conversation=conversation)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while self._inflight and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._inflight

    def shutdown(self, wait: bool = True) -> None:
        """Claim nothing more, then close the pool. A claim committed after the pool
        closed would never be carried out: its SMS settled ``unknown_after_crash`` a lease
        later and never sent, its call retried late (review101: serve's stop came while a
        tick drained, and the calls the stop hung up freed the slots it waited for). The
        tick under way is waited for (its claim transaction, at most a poll), so that what
        it claimed is in the pool before the pool closes; nothing handed to the pool is
        cancelled (a cancelled claim is lost just the same), the dialer's stop hangs up a
        call placed meanwhile."""
        with self._slot_free:
            self._stopping = True
            self._slot_free.notify_all()
        ticking = self._tick_lock.acquire(timeout=self.domain.settings.outbound.poll_seconds)
        try:
            self._pool.shutdown(wait=wait)
        finally:
            if ticking:
                self._tick_lock.release()

