"""Turn ticket state into work items. Idempotent: it can run any number of times, in any
number of processes at once; the unique key on outbound_tasks makes a second insert of the
same item a no-op. No event cursor is kept (on PostgreSQL ids can commit out of order, so
a cursor would skip events): every pass looks at what tickets ARE now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from outbound.citizen_sms import plan_citizen_sms
from outbound.ladder import due_items
from outbound.models import SIGN_KINDS, SIGN_MOOT, Kind, OutboundTask, TaskStatus
from outbound.policies import insert_ignore, task_row
from outbound.rounds import dispatch_rounds
from outbound.survey import allowed_at
from ticketing.context import Domain
from ticketing.merging import kept_from_survey_as_staff, surveyable
from ticketing.models import SupervisionCase, SupervisionLink, SurveyResult, Ticket
from ticketing.queries import queued_since, waiting_too_long_to_wait
from ticketing.staff_phones import checked, directory_version, mark_not_surveyed, unchecked
from ticketing.states import (
    ASSIGNED_STATUSES,
    WAITING_FOR_CENTRE_STATUSES,
    Status,
    values,
)

ASSIGNED = values(ASSIGNED_STATUSES)
WAITING_FOR_CENTRE = values(WAITING_FOR_CENTRE_STATUSES)


@dataclass
class PlanStats:
    created: int = 0
    cancelled: int = 0
    released: int = 0


def plan(*, session: Session, domain: Domain, now: datetime) -> PlanStats:
    stats = PlanStats()
    stats.cancelled = cancel_moot_sign_work(session=session, now=now)
    stats.released = release_held_urges(session=session)
    stats.created += plan_sign_work(session=session, domain=domain, now=now)
    stats.created += plan_urges(session=session, domain=domain, now=now)
    stats.created += plan_utility_calls(session=session, domain=domain, now=now)
    stats.created += plan_surveys(session=session, domain=domain, now=now)
    stats.created += plan_citizen_sms(session=session, domain=domain, now=now)
    stats.created += plan_supervision_sms(session=session, now=now)
    session.flush()
    return stats


def cancel_moot_sign_work(*, session: Session, now: datetime) -> int:
    """A handler who signed (API, keypad, web — whichever) stops every pending reminder
    for the ticket. Claim time checks again, for a sign between this pass and a dial."""
    waiting = select(Ticket.id).where(Ticket.status == Status.DISPATCHED.value)
    result = session.execute(
        update(OutboundTask)
        .where(OutboundTask.status == TaskStatus.PENDING.value,
               OutboundTask.kind.in_([k.value for k in SIGN_KINDS]),
               OutboundTask.ticket_id.not_in(waiting))
        .values(status=TaskStatus.CANCELLED.value, result=SIGN_MOOT, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    return max(0, result.rowcount or 0)


def release_held_urges(*, session: Session) -> int:
    """Rungs held while the ticket waited for the centre (reminders.UrgeCall) go back to
    pending, due time kept, once it no longer waits: a 退回 or a refused 剔除 brings the
    urging back, the claim cancelling what a closure made moot and letting the latest of
    the 超期督办 repetitions speak for all."""
    waiting = select(Ticket.id).where(Ticket.status.in_(WAITING_FOR_CENTRE))
    result = session.execute(
        update(OutboundTask)
        .where(OutboundTask.status == TaskStatus.HELD.value,
               OutboundTask.ticket_id.not_in(waiting))
        .values(status=TaskStatus.PENDING.value, result="released")
        .execution_options(synchronize_session=False)
    )
    return max(0, result.rowcount or 0)


def _existing(session: Session, kind: Kind, ticket_ids: list[int]) -> set[tuple[int, int]]:
    if not ticket_ids:
        return set()
    rows = session.execute(
        select(OutboundTask.ticket_id, OutboundTask.round)
        .where(OutboundTask.kind == kind.value, OutboundTask.ticket_id.in_(ticket_ids))
    ).all()
    return {(t, r) for t, r in rows}


def plan_sign_work(*, session: Session, domain: Domain, now: datetime) -> int:
    """Dispatched and unsigned: an SMS when the sign window opens (now, or the end of staff
    quiet hours for a held general ticket: service.open_sign_window) and a reminder call
    before it ends (``sign_call_lead_seconds`` before), early enough for key 1 to be on
    time."""
    lead = timedelta(seconds=domain.settings.outbound.sign_call_lead_seconds)
    window = timedelta(seconds=domain.settings.deadlines.sign_window_seconds)
    waiting = session.execute(
        select(Ticket.id, Ticket.sign_due_at)
        .where(Ticket.status == Status.DISPATCHED.value, Ticket.signed_at.is_(None),
               Ticket.sign_due_at.is_not(None))
    ).all()
    ids = [tid for tid, _ in waiting]
    rounds = dispatch_rounds(session=session, ticket_ids=ids)
    have = _existing(session, Kind.SIGN_CALL, ids)
    resumed = resume_sign_work(session=session, current={
        (tid, rounds.get(tid, 0)) for tid in ids} & have)
    rows: list[dict[str, Any]] = []
    for tid, sign_due in waiting:
        r = rounds.get(tid, 0)
        if (tid, r) in have:
            continue
        rows.append(task_row(ticket_id=tid, kind=Kind.SMS_DISPATCH.value, round_=r, step=0,
                             due_at=max(now, sign_due - window), now=now))
        rows.append(task_row(ticket_id=tid, kind=Kind.SIGN_CALL.value, round_=r, step=0,
                             due_at=max(now, sign_due - lead), now=now))
    return resumed + insert_ignore(session, rows)


def resume_sign_work(*, session: Session, current: set[tuple[int, int]]) -> int:
    """The sign work of a round stopped while the ticket did not wait for its sign (merged:
    cancel_moot_sign_work, or a claim that found it so) goes on when it waits again in
    that round: 拆单 back to the unit and handler it had keeps the window and the round
    (ticketing.merging.unmerge), so the reminder call, and the escalation if the reminders
    were used up, are due again, at their time (now for a window that has passed), with
    the attempts they had: once for the window however often it is merged and split, and
    no second dispatch SMS (review89: nothing was planned again, no call, no escalation).
    ``current``: the waiting tickets' (ticket, current round) pairs that have sign work;
    how many tasks resumed."""
    if not current:
        return 0
    stopped = [task_id for task_id, tid, r in session.execute(
        select(OutboundTask.id, OutboundTask.ticket_id, OutboundTask.round)
        .where(OutboundTask.ticket_id.in_([tid for tid, _ in current]),
               OutboundTask.kind.in_([k.value for k in SIGN_KINDS]),
               OutboundTask.result == SIGN_MOOT,
               OutboundTask.status.in_([TaskStatus.CANCELLED.value, TaskStatus.DONE.value])))
        if (tid, r) in current]
    if not stopped:
        return 0
    # Guarded by the same state: a planner beside this one resumes each task once.
    result = session.execute(
        update(OutboundTask)
        .where(OutboundTask.id.in_(stopped), OutboundTask.result == SIGN_MOOT,
               OutboundTask.status.in_([TaskStatus.CANCELLED.value, TaskStatus.DONE.value]))
        .values(status=TaskStatus.PENDING.value, result="resumed", finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return max(0, result.rowcount or 0)


def plan_urges(*, session: Session, domain: Domain, now: datetime) -> int:
    """The escalation ladder of every assigned ticket with a deadline, for its current
    closure round: rungs at fractions of the time allowed, then 超期督办 until it is
    closed (the claim cancels what a closure made moot)."""
    if not domain.settings.escalation.ladder:
        return 0
    open_ = session.execute(
        select(Ticket.id, Ticket.redo_count, Ticket.received_at, Ticket.dispatched_at,
               Ticket.due_at)
        .where(Ticket.status.in_(ASSIGNED), Ticket.due_at.is_not(None))
    ).all()
    ids = [row[0] for row in open_]
    planned: dict[tuple[int, int], set[int]] = {}
    if ids:
        for tid, r, n in session.execute(
            select(OutboundTask.ticket_id, OutboundTask.round, OutboundTask.step)
            .where(OutboundTask.kind == Kind.URGE.value, OutboundTask.ticket_id.in_(ids))
        ).all():
            planned.setdefault((tid, r), set()).add(n)
    rows: list[dict[str, Any]] = []
    for tid, redo, received, dispatched, due in open_:
        # A redo's deadline runs from its re-dispatch; the first from when the call came in.
        start = dispatched if redo and dispatched else received
        rows += due_items(domain=domain, ticket_id=tid, round_=redo, start=start, due=due,
                          planned=planned.get((tid, redo), set()), now=now)
    return insert_ignore(session, rows)


def plan_utility_calls(*, session: Session, domain: Domain, now: datetime) -> int:
    """A utility or an urgent ticket in the manual queue: a call to the duty dispatcher when
    the dispatch window ends, one per stay in the queue (a 退单 starts a new one)."""
    waiting = session.execute(
        select(Ticket.id, queued_since()).where(waiting_too_long_to_wait())).all()
    ids = [tid for tid, _ in waiting]
    rounds = dispatch_rounds(session=session, ticket_ids=ids)
    have = _existing(session, Kind.UTILITY_CALL, ids)
    rows = [task_row(ticket_id=tid, kind=Kind.UTILITY_CALL.value, round_=rounds.get(tid, 0),
                     step=0, due_at=since + domain.utility_window, now=now)
            for tid, since in waiting if (tid, rounds.get(tid, 0)) not in have]
    return insert_ignore(session, rows)


# Closed tickets decided a tick at most (the first tick after an upgrade works through
# the history in batches of this many).
SURVEY_CHECKS_PER_TICK = 500


def plan_surveys(*, session: Session, domain: Domain, now: datetime) -> int:
    """Closed, a number to call and contact allowed (for a 并单 group: the primary, called
    on its own or a merged caller's number, ticketing.merging.surveyable), no staff
    member's number, no survey result and no survey task for this closure."""
    no_task = ~select(OutboundTask.id).where(
        OutboundTask.ticket_id == Ticket.id, OutboundTask.kind == Kind.SURVEY_CALL.value,
        OutboundTask.round == Ticket.redo_count,
    ).exists()
    no_result = ~select(SurveyResult.id).where(
        and_(SurveyResult.ticket_id == Ticket.id,
             SurveyResult.closure_round == Ticket.redo_count)
    ).exists()
    # Only closures not yet decided at the directory's version (ticketing.staff_phones),
    # a batch a tick: before (loose27) every closed, unanswered ticket of all history was
    # asked each tick whether its number is a staff one.
    # New closures first (never decided, or redone since): after a version bump the whole
    # history is undecided again, and oldest-first put every new closure of the day behind
    # it, 500 a tick (review55). The history fills what the batch has left.
    version = directory_version(session)
    seen: list[tuple[int, int]] = []
    for undecided in (unchecked(None), unchecked(version)):
        seen += [(tid, redo) for tid, redo in session.execute(
            select(Ticket.id, Ticket.redo_count)
            .where(Ticket.status == Status.CLOSED.value, undecided, no_result,
                   Ticket.id.not_in([tid for tid, _ in seen]))
            .order_by(Ticket.id).limit(SURVEY_CHECKS_PER_TICK - len(seen))).all()]
        if len(seen) >= SURVEY_CHECKS_PER_TICK:
            break
    if not seen:
        return 0
    batch = Ticket.id.in_([tid for tid, _ in seen])
    closed = session.execute(
        select(Ticket.id, Ticket.redo_count, Ticket.closed_at)
        .where(batch, Ticket.status == Status.CLOSED.value, surveyable(), no_task, no_result)
    ).all()
    rows = [task_row(ticket_id=tid, kind=Kind.SURVEY_CALL.value, round_=redo, step=0,
                     due_at=allowed_at(domain, max(closed_at or now, now)), now=now)
            for tid, redo, closed_at in closed]
    created = insert_ignore(session, rows)
    # Filed from a staff number (ticketing.staff_phones): no survey, and the ticket says why.
    # The batch is remembered as decided under the marking's lock (not when another
    # planner holds it: it marks, and this batch is looked at again next tick).
    mark_not_surveyed(session=session, now=now, candidates=and_(
        batch, Ticket.status == Status.CLOSED.value, kept_from_survey_as_staff(), no_result),
        then=lambda: checked(session=session, seen=seen, version=version))
    return created


def plan_supervision_sms(*, session: Session, now: datetime) -> int:
    """An SMS to the supervisor for every open 多诉督办 record nobody has been told about
    (ticketing.supervision opens them; the core cannot send anything itself)."""
    first = (select(func.min(SupervisionLink.ticket_id))
             .where(SupervisionLink.case_id == SupervisionCase.id).scalar_subquery())
    no_task = ~select(OutboundTask.id).where(
        OutboundTask.kind == Kind.SUPERVISE_SMS.value, OutboundTask.round == SupervisionCase.id,
    ).exists()
    rows = [task_row(ticket_id=tid, kind=Kind.SUPERVISE_SMS.value, round_=cid, step=0,
                     due_at=now, now=now)
            for cid, tid in session.execute(
                select(SupervisionCase.id, first)
                .where(SupervisionCase.status == "open", no_task)).all()
            if tid is not None]
    return insert_ignore(session, rows)
