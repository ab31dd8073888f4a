"""并单: a supervisor or operator merges duplicates into one primary ticket, so that one
answer and one satisfaction survey cover the group and every caller still hears the result.

The rules (docs/metrics.md, "并单"):

- Only operators, supervisors and admins merge (the MERGE transition's roles): a handler
  could otherwise hide a late ticket in someone else's group.
- Primary and merged tickets are open; a ticket is never merged into itself, into a merged
  ticket, nor is a primary merged into another (groups are one level deep, so no cycle can
  form: 拆单 the group first).
- Same unit: a merged ticket is held by the primary's unit, or by none yet (then the
  primary's unit takes it over; 拆单 hands it back to the dispatch queue). A ticket with
  another unit is refused: 改派 it first, so no unit loses a ticket without a decision.
  When the primary is dispatched or 改派'd later, its merged tickets follow it.
- Never across the confidential flag (as a duplicate link): the group lists its tickets
  side by side.
- A merged ticket is in state ``merged``: off the handlers' queues, the sign reminders and
  the deadline ladder (they take open / assigned states only). Every ticket of the group
  gets an audited event.
- 拆单 moves no clock a unit is measured on: back at its unit a ticket keeps the sign
  window and the 办结 deadline it had, the time merged not given back; split at another
  unit (it followed its primary there) it is a new dispatch there
  (``service.sign_window_kept``, docs/metrics.md "A unit's sign window").
- When the primary is closed (核实办结), each merged ticket is closed with the same answer
  (``close_merged``, which the citizen SMS planner texts like any closure).
- One survey for the group, on the primary (its result is stored there): called to the
  primary's caller, else, when they asked for no callback or gave no number, to the earliest
  merged caller who may be called. Merged tickets are never surveyed themselves. When the
  primary is sent back for redo (驳回重办), they wait for its next answer again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.deadlines import passed
from ticketing.inputs import InvalidInput, StateConflict, clean_text, has_text
from ticketing.models import SupervisionLink, Ticket, Unit
from ticketing.queries import (
    callback_numbered,
    caller_visible,
    contactable,
    created_here,
    forget_created,
    is_open,
    may_contact,
    scope_filter,
)
from ticketing.service import (
    apply_transition,
    leaving,
    on_duty_handler,
    open_sign_window,
    record_event,
    sign_window_kept,
    signed_at_its_unit,
)
from ticketing.staff_phones import is_staff_number, staff_number
from ticketing.states import (
    ASSIGNED_STATUSES,
    AWAITING_DISPATCH_STATUSES,
    TRANSITIONS,
    UNDISPATCHED_STATUSES,
    Action,
    PermissionDenied,
    ReasonRequired,
    Status,
    TransitionError,
    transition_for,
    values,
)

GROUP_EVENT = "merge_group"  # on the primary: who was merged into it
SPLIT_EVENT = "unmerge_group"  # on the primary: who left the group
FOLLOW_EVENT = "merged_unit"  # on a merged ticket: it followed its primary to another unit
# On a ticket split back to a unit's queue where someone must be told of its sign window (a
# new one at another unit, or the window kept for an on-duty handler picked at the split):
# a new round of sign reminders (outbound.rounds). Back with the handler it had, the round
# goes on (outbound.planner.resume_sign_work).
SIGN_WINDOW_EVENT = "unmerge_sign_window"
MERGE_ROLES = TRANSITIONS[Action.MERGE].roles
CLOSER = Actor.system("merge")
# A ticket merged from one of these had no unit of its own: 拆单 gives it back no unit.
_UNIT_LESS = UNDISPATCHED_STATUSES | AWAITING_DISPATCH_STATUSES
# States a handler of the unit has taken the ticket into (signed it, or more): without that
# handler (the ticket followed its primary to another unit) nobody there has taken it on.
_TAKEN_ON = ASSIGNED_STATUSES - {Status.DISPATCHED}


def members(*, session: Session, primary: Ticket, actor: Actor | None = None) -> list[Ticket]:
    """Every ticket merged into ``primary`` (still merged, or closed with it), oldest call
    first; with ``actor``, those in their scope (a primary 改派'd after the merge leaves its
    merged tickets with the unit they had)."""
    if created_here(session, primary):
        return []  # inserted by this transaction, and nothing merged into it since
    stmt = select(Ticket).where(Ticket.merged_into_id == primary.id)
    if actor is not None:
        stmt = stmt.where(scope_filter(actor))
    return list(session.scalars(stmt.order_by(Ticket.received_at, Ticket.id)))


def primary_of(*, session: Session, ticket: Ticket) -> Ticket | None:
    if ticket.merged_into_id is None:
        return None
    return session.get(Ticket, ticket.merged_into_id)


def answering(*, session: Session, ticket: Ticket) -> Ticket:
    """The ticket whose answer ``ticket``'s citizen waits for: its primary while merged,
    else itself (a citizen's follow-up goes to whoever is writing that answer)."""
    if ticket.status == Status.MERGED.value:
        return primary_of(session=session, ticket=ticket) or ticket
    return ticket


def _has_members(session: Session, ticket: Ticket) -> bool:
    return session.scalar(select(Ticket.id).where(Ticket.merged_into_id == ticket.id)
                          .limit(1)) is not None


def refuse_exclusion(*, session: Session, ticket: Ticket) -> None:
    """剔除 of a primary would leave its merged tickets waiting for an answer that never
    comes (only the primary's closure closes them): 拆单 them first, so each is judged on
    its own (service.exclude calls this)."""
    if _has_members(session, ticket):
        raise StateConflict("ticket", f"工单{ticket.number}是并单主单，请先拆单再剔除。")


def refusal(session: Session, primary: Ticket, other: Ticket) -> str | None:
    """Why ``other`` may not join ``primary``'s group, None when it may (its state is the
    transition table's to judge)."""
    if other.id == primary.id:
        return "不能将工单并入其自身。"
    if _has_members(session, other):
        return f"工单{other.number}是并单主单，请先拆单再并入。"
    if other.confidential != primary.confidential:
        return f"工单{other.number}与主单保密设置不同，不能并单。"
    if other.unit_id is not None and other.unit_id != primary.unit_id:
        return f"工单{other.number}由其他单位承办，请先改派到主单的承办单位。"
    return None


def merge(*, session: Session, domain: Domain, primary: Ticket, others: Sequence[Ticket],
          actor: Actor, reason: str | None = None) -> list[Ticket]:
    """Merge ``others`` into ``primary``; returns the merged tickets. Everything is checked
    before anything changes (the caller's transaction holds it all together anyway)."""
    if actor.role not in MERGE_ROLES:
        raise PermissionDenied(actor.role, Action.MERGE)
    # Two merges of the same tickets at once (PostgreSQL): each locks the rows in one order,
    # then reads them afresh, so the second waits for the first and judges what it left.
    # Without it each could hold a row the other is about to update: a deadlock.
    session.scalars(select(Ticket).where(Ticket.id.in_({primary.id, *(t.id for t in others)}))
                    .order_by(Ticket.id).with_for_update()
                    .execution_options(populate_existing=True)).all()
    if not is_open(primary.status):  # closed, excluded, or itself merged
        raise TransitionError(Status(primary.status), Action.MERGE)
    unique = list({t.id: t for t in others}.values())
    if not unique:
        raise InvalidInput("others", "请选择要并入的工单。")
    for other in unique:
        why = refusal(session, primary, other)
        if why is not None:  # itself: the body's fault; the rest: the tickets' state
            raise (InvalidInput if other.id == primary.id else StateConflict)("others", why)
        # The table says whether this state may be merged (an already merged, closed or
        # excluded ticket may not), before the first ticket is changed.
        transition_for(Status(other.status), Action.MERGE, actor.role, reason)
    reason = (reason or "").strip() or None
    now = domain.now()
    forget_created(session, primary)  # its members are in the database from now on
    for other in unique:
        old = apply_transition(session=session, ticket=other, actor=actor, action=Action.MERGE,
                               now=now, reason=reason, data={"primary": primary.number})
        other.merged_into_id = primary.id
        other.merged_at = now
        other.merged_from_status = old.value
        if other.unit_id is None:
            other.unit_id = primary.unit_id
    # An UPDATE of the primary, so its optimistic lock catches a concurrent merge the other
    # way round (A into B while B into A: a cycle) or a concurrent closure (a ticket merged
    # into a primary being closed would never be closed).
    primary.updated_at = now
    record_event(session=session, ticket=primary, actor=actor, action=GROUP_EVENT,
                 note=f"并单：{'、'.join(t.number for t in unique)} 并入本工单",
                 data={"merged": [t.number for t in unique], "reason": reason}, at=now)
    session.flush()
    return unique


def merge_linked(*, session: Session, domain: Domain, case_id: int, primary: Ticket,
                 others: Sequence[Ticket], actor: Actor, reason: str) -> list[Ticket]:
    """并单 from a 多诉督办 record (ticketing.supervision): ``others`` into ``primary``, all
    linked to record ``case_id``, by :func:`merge`'s rules. The reason is required: the
    supervisor decides for tickets of several callers at once, and says why."""
    reason = clean_text(reason or "", field="reason", multiline=True).strip()
    if not has_text(reason):
        raise ReasonRequired(Action.MERGE)
    linked = set(session.scalars(select(SupervisionLink.ticket_id)
                                 .where(SupervisionLink.case_id == case_id)))
    for t in (primary, *others):
        if t.id not in linked:
            raise InvalidInput("others", f"工单{t.number}不属于本督办件。")
    return merge(session=session, domain=domain, primary=primary, others=others, actor=actor,
                 reason=reason)


def unmerge(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor,
            reason: str) -> Ticket:
    """拆单: a ticket merged by mistake leaves its group and goes back to the state it was
    merged from (its 办结 deadline stands); audited on it and on the primary. One whose
    primary was returned (退单) while it was merged has no unit any more: it goes back to
    the dispatch queue (``returned``). One signed (or further) that followed its primary
    to another unit (follow_primary drops its handler) goes back dispatched to that unit,
    to be signed there (its on-duty handler picked as by a dispatch). A dispatched one is
    signed by the window ``service.sign_window_kept`` gives: back at the unit it was
    merged at, the window it had, the time merged not given back (a merge and a split,
    however often, never move it), and with the handler it had the same round of sign
    reminders (outbound resumes it: at once for a window gone); at another unit, a new
    one, as a dispatch there."""
    primary = primary_of(session=session, ticket=ticket)
    back = Status(ticket.merged_from_status or Status.ACCEPTED.value)
    now = domain.now()
    if ticket.unit_id is None and back not in _UNIT_LESS:
        # Its unit returned the group (退单) while it was merged: it is the queue's again.
        back = Status.RETURNED
        ticket.sign_due_at = None
    elif back in _TAKEN_ON and not signed_at_its_unit(ticket):
        # Signed by a handler of the unit it has left: nobody at its new unit has, and a
        # signed ticket with no handler is on nobody's list (the one mark, review92's).
        back = Status.DISPATCHED
        ticket.signed_at = None
        ticket.replied_at = None
    unit = None if back in _UNIT_LESS or ticket.unit_id is None else session.get(
        Unit, ticket.unit_id)
    apply_transition(session=session, ticket=ticket, actor=actor, action=Action.UNMERGE,
                     now=now, reason=reason, to=back,
                     # The unit it is at from now (service.return_deadline reads it).
                     data={"primary": primary.number if primary else None,
                           "unit": unit.code if unit else None})
    if back in _UNIT_LESS:
        ticket.unit_id = None
        ticket.handler_id = None
    if back == Status.DISPATCHED:
        told = ticket.handler_id is not None
        if not told and unit is not None:
            # Its handler stayed with the unit it followed its primary from: the new unit's
            # on-duty handler is told and reminded, as by a dispatch there.
            ticket.handler = on_duty_handler(session=session, unit_id=unit.id)
        # Not the centre's dispatch decision, whoever splits: the rule's own answer.
        kept = sign_window_kept(session=session, ticket=ticket, unit=unit, actor=None)
        if kept is None:
            open_sign_window(session=session, domain=domain, ticket=ticket, now=now)
        else:
            ticket.sign_due_at = kept
        if ticket.sign_due_at is not None and (kept is None or not told):
            # Someone not yet told of this window (a new one, or the unit's on-duty handler
            # now holding it): a new dispatch round for the sign reminders (outbound.rounds),
            # its SMS and call; for a window gone, "sign at once" and the call now. Back
            # with the handler told, the round and its window go on: the planner resumes
            # the reminders the merge stopped (outbound.planner.resume_sign_work), no
            # second SMS, and the escalation follows them, once, for a window gone.
            gone = passed(ticket.sign_due_at, now)
            record_event(session=session, ticket=ticket, actor=actor, action=SIGN_WINDOW_EVENT,
                         note=("拆单：转至新承办单位，重新计算签收时限" if kept is None
                               else "拆单：签收时限已过，提醒值班承办人立即签收" if gone
                               else "拆单：签收时限不变，提醒值班承办人签收"), at=now,
                         data={"sign_due_at": ticket.sign_due_at.isoformat(),
                               "kept": kept is not None})
    ticket.merged_into_id = None
    ticket.merged_at = None
    ticket.merged_from_status = None
    if primary is not None:
        record_event(session=session, ticket=primary, actor=actor, action=SPLIT_EVENT,
                     note=f"拆单：{ticket.number} 移出本组（{reason.strip()}）",
                     data={"unmerged": ticket.number}, at=now)
    session.flush()
    return ticket


def follow_primary(*, session: Session, primary: Ticket, actor: Actor,
                   now: datetime) -> list[Ticket]:
    """The primary was just dispatched, 改派'd or returned (退单, to the dispatch queue): the
    tickets merged into it go with it, so the unit answering the group holds all of it, and
    a unit that returned the group holds none of it (service.dispatch and
    service.return_ticket call this). Their handler is dropped: 拆单 would otherwise hand
    one back to a handler of another unit. Their sign window is the new unit's by
    ``service.sign_window_kept`` (none yet, opened at 拆单, unless that unit had the ticket
    unsigned before in the round); the unit left is named as any 改派 names it."""
    moved = []
    for member in members(session=session, primary=primary):
        if member.status != Status.MERGED.value or member.unit_id == primary.unit_id:
            continue
        data = {"primary": primary.number,
                "unit": primary.unit.code if primary.unit else None,
                **leaving(member, now)}
        kept = sign_window_kept(session=session, ticket=member, unit=primary.unit, actor=None)
        member.unit_id = primary.unit_id
        member.unit = primary.unit  # both: ``leaving`` reads the relationship
        member.handler_id = None
        member.sign_due_at = kept
        where = f"转至{primary.unit.name}" if primary.unit else "退回派单队列"
        record_event(session=session, ticket=member, actor=actor, action=FOLLOW_EVENT,
                     note=f"随主单{primary.number}{where}", data=data, at=now)
        moved.append(member)
    return moved


def close_members(*, session: Session, domain: Domain, primary: Ticket,
                  actor: Actor) -> list[Ticket]:
    """The primary was just closed: close every ticket still merged into it with the same
    answer, at the same moment (service.close calls this)."""
    now = primary.closed_at or domain.now()
    closed = []
    for member in members(session=session, primary=primary):
        if member.status != Status.MERGED.value:
            continue
        apply_transition(session=session, ticket=member, actor=CLOSER,
                         action=Action.CLOSE_MERGED, now=now,
                         reason=f"随主单{primary.number}办结",
                         data={"primary": primary.number, "outcome": primary.reply_outcome,
                               "closed_by": actor.name})
        member.reply_text = primary.reply_text
        member.reply_outcome = primary.reply_outcome
        member.reply_reason = primary.reply_reason
        member.replied_at = member_answered(primary.replied_at, member.merged_at)
        member.closed_at = now
        closed.append(member)
    return closed


def member_answered(answered: datetime | None,
                    merged_at: datetime | None) -> datetime | None:
    """When a merged ticket got its primary's answer (``answered``): never before it joined
    the group. The one date its 按期办结 (``Ticket.done_at``) and 反馈率 read: a ticket
    merged late, past its own deadline, into a group answered long before is late, not
    answered before its caller called."""
    if answered is None or merged_at is None:
        return answered
    return max(answered, merged_at)


def candidates(*, session: Session, actor: Actor, ticket: Ticket, since: datetime,
               limit: int = 20) -> list[Ticket]:
    """What the ticket page offers to merge into ``ticket``: open tickets linked to it as
    duplicates (重复诉求, either way) or of its category in its community since ``since``,
    that ``actor`` may see with their caller and that a merge would take."""
    if ticket.merged_into_id is not None or not is_open(ticket.status):
        return []
    near = [Ticket.duplicate_of_id == ticket.id]
    if ticket.duplicate_of_id is not None:
        near += [Ticket.id == ticket.duplicate_of_id,
                 Ticket.duplicate_of_id == ticket.duplicate_of_id]
    if ticket.community:
        near.append(and_(Ticket.community == ticket.community,
                         Ticket.category == ticket.category, Ticket.received_at >= since))
    found = session.scalars(
        select(Ticket).where(
            or_(*near), Ticket.id != ticket.id, Ticket.merged_into_id.is_(None),
            Ticket.status.in_(values(TRANSITIONS[Action.MERGE].sources)),
            scope_filter(actor), caller_visible(actor))
        .order_by(Ticket.received_at, Ticket.id).limit(limit))
    return [t for t in found if refusal(session, ticket, t) is None]


def reopen_members(*, session: Session, domain: Domain, primary: Ticket) -> list[Ticket]:
    """The primary was just sent back for redo (驳回重办): the tickets closed with it wait for
    its next answer again, so each caller hears that one too (service.reject_redo calls
    this). An archived one stays archived."""
    now = domain.now()
    reopened = []
    for member in members(session=session, primary=primary):
        if member.status != Status.CLOSED.value:
            continue
        apply_transition(session=session, ticket=member, actor=CLOSER,
                         action=Action.REOPEN_MERGED, now=now,
                         reason=f"主单{primary.number}驳回重办", data={"primary": primary.number})
        member.closed_at = None
        member.replied_at = None
        reopened.append(member)
    return reopened


# --- the group's one survey ---------------------------------------------------------------


def surveyed_caller(*, session: Session, ticket: Ticket) -> Ticket | None:
    """The ticket whose caller the survey of ``ticket``'s group goes to: its primary's own
    caller, or when they asked for no callback or called from a staff number
    (ticketing.staff_phones) the first merged caller who may be surveyed; None when nobody
    is to be surveyed. The one caller offered the survey's reply codes
    (outbound.citizen_sms) is this one, so a reply can only come from whom it is for."""
    primary = primary_of(session=session, ticket=ticket) or ticket
    if _may_survey(session, primary):
        return primary
    for member in members(session=session, primary=primary):
        if _may_survey(session, member):
            return member
    return None


def _may_survey(session: Session, ticket: Ticket) -> bool:
    """``_surveyed_here`` for one loaded ticket."""
    return may_contact(ticket) and not is_staff_number(
        session=session, phone=ticket.caller_phone, filed_at=ticket.received_at)


def survey_phone(*, session: Session, ticket: Ticket) -> str | None:
    """The number the group's survey calls (and texts), None when nobody is to be surveyed:
    a merged ticket's citizen is surveyed through its primary, never on it."""
    if ticket.merged_into_id is not None:
        return None
    surveyed = surveyed_caller(session=session, ticket=ticket)
    return surveyed.caller_phone if surveyed is not None else None


def _surveyed_here(tickets: Any) -> Any:
    """Tickets (``tickets``: Ticket or an alias) whose caller the survey may ask: contact
    allowed, and the number no staff member's."""
    return and_(contactable(tickets), ~staff_number(tickets.caller_phone, tickets.received_at))


def _in_group(clause: Any) -> Any:
    """``clause`` (a function of a Ticket alias) holds for Ticket or one of its merged
    tickets."""
    member = aliased(Ticket)
    return or_(clause(Ticket), exists(select(member.id).where(member.merged_into_id == Ticket.id,
                                                              clause(member))))


def surveyable() -> Any:
    """``survey_phone`` is not None, as a WHERE clause on Ticket."""
    return and_(Ticket.merged_into_id.is_(None), _in_group(_surveyed_here))


def kept_from_survey_as_staff() -> Any:
    """Primaries (or lone tickets) the survey would call but for the staff rule: a caller
    who may be called, none of them on a number that is no staff member's. The planner
    marks them 不参与回访 (staff_phones.mark_not_surveyed)."""
    return and_(Ticket.merged_into_id.is_(None), _in_group(contactable),
                ~_in_group(_surveyed_here))


def answer_counted() -> Any:
    """SQL on Ticket: its survey answers count in the figures (满意率, 解决率, 契合度, the
    mean score, the points). Not when its group's numbers include a staff number and no
    citizen's callback number, the survey's answer could then only have come from staff
    (ticketing.staff_phones): an answer given before the number was entered in the
    directory stays on the trail and leaves the figures. A "no callback" asked after an
    answer does not matter here: the answer given stands."""
    def citizen(tickets: Any) -> Any:
        return and_(callback_numbered(tickets),
                    ~staff_number(tickets.caller_phone, tickets.received_at))

    def staff(tickets: Any) -> Any:
        return staff_number(tickets.caller_phone, tickets.received_at)

    return or_(~_in_group(staff), _in_group(citizen))


def verdict_counted() -> Any:
    """SQL on Ticket: its standing survey verdict counts, in the figures (reports.loop_counts,
    _verdict_scores) and the points alike: a citizen's answer (``answer_counted``) on a
    ticket not set aside (剔除 leaves every figure of its unit; the points kept its −1,
    review110)."""
    return and_(Ticket.status != Status.EXCLUDED.value, answer_counted())


# --- the figures -----------------------------------------------------------------------------


def still_counted(deadline: datetime | None, merged_at: datetime | None) -> bool:
    """Whether a timeliness figure (响应率, 按期办结率, 反馈率, 水电气暖派单及时率) still counts a
    ticket against ``deadline``: always when it was never merged; a merged ticket only when
    the deadline had passed before the merge. Otherwise the group counts once, through its
    primary, and merging a late ticket away cannot hide the lateness."""
    return merged_at is None or (deadline is not None and passed(deadline, merged_at))


def still_counted_sql(deadline: Any) -> Any:
    """:func:`still_counted` as an SQL condition on the deadline column ``deadline``, for
    the grouped figures (ticketing.reports.loop_counts)."""
    return or_(Ticket.merged_at.is_(None),
               and_(deadline.is_not(None), passed(deadline, Ticket.merged_at)))
