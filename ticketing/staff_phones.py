"""Staff numbers: a satisfaction survey (回访) answered on one is no citizen's answer.

满意率 and 解决率 (docs/metrics.md) are what citizens say of the handling. A unit that wanted
better figures could file easy tickets from its staff's phones, close them and answer
"resolved, satisfied" itself. So a number in the directory, any user's (handler,
supervisor, operator, admin; active or not) or any unit's contact number, is a staff
number, whatever unit the ticket is at (a 改派 after filing changes nothing, and a handler
cannot answer for a neighbouring unit either), and:

- no survey is placed to it (ticketing.merging.surveyed_caller and ``surveyable`` read
  :func:`staff_number`; a 并单 group is surveyed on a merged citizen's number instead), and
  the closed ticket is marked 不参与回访 with the reason (:func:`mark_not_surveyed`, from the
  planner);
- an answer already stored for such a ticket (before its number was entered in the
  directory) stays on the trail and counts in no figure (ticketing.merging.answer_counted).

Both read the directory as it is when they run: a forgery found later, once the number is
entered, leaves every figure computed from then on. The directory is the centre's alone to
write (admin API, ``hotline user add`` / ``unit add``), so no unit can make a citizen's
number a staff number to drop an answer it did not like.

Numbers compare in E.164: the directory (ticketing.directory) and the tickets
(ticketing.service) store only what ``ticketing.phones.normalise`` gives, and a number
asked about here goes through it too, so "+86 139 …", "0086139…" and "139…" are one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.models import DirectoryVersion, StaffGap, Ticket, TicketEvent, Unit, User, utcnow
from ticketing.phones import normalise
from ticketing.service import record_event

# The audited mark on a closed ticket whose survey is not placed for this rule.
NOT_SURVEYED_EVENT = "survey_not_placed"
NOT_SURVEYED_NOTE = "不参与回访：来电号码为工作人员号码（承办单位或热线中心登记的电话）"
_MARKER = Actor.system("survey")
# PostgreSQL advisory lock (the two-key form, apart from the one-key locks of outbound's
# lines and attachments' hashes) marking 不参与回访 takes turns on.
_MARKING_LOCK = (12345, 1)


def staff_number(phone: Any, filed_at: Any) -> Any:
    """SQL: the number column (or bound value) ``phone`` is a staff number for a ticket
    filed at ``filed_at`` (a column or a value): a unit's, an active account's, or a
    disabled one's when the ticket was filed before its ``staff_until`` (or it was
    disabled before that was kept: staff for good), never one filed in a ``StaffGap``
    (after a cut-off, before the enabling that followed it). EXISTS, not IN, so that its negation
    is plain true or false (NOT IN over a NULL is neither)."""
    still = or_(User.active.is_(True), User.staff_until.is_(None),
                User.staff_until > filed_at)
    # Filed between a cut-off and the enabling after it: a citizen's for good (review55).
    gap = exists(select(StaffGap.id).where(StaffGap.user_id == User.id,
                                           StaffGap.since <= filed_at, StaffGap.until > filed_at)
                 .correlate_except(StaffGap))  # two levels down: name what comes from outside
    return or_(exists(select(User.id).where(User.phone == phone, still, ~gap)),
               exists(select(Unit.id).where(Unit.phone == phone)))


def is_staff_number(*, session: Session, phone: str | None,
                    filed_at: datetime | None = None) -> bool:
    """:func:`staff_number` for one number, written any way (it is normalised first), for
    a ticket filed at ``filed_at`` (None: now)."""
    e164 = normalise(phone)
    if e164 is None:
        return False
    found = session.scalar(select(staff_number(e164, filed_at or utcnow())))
    return bool(found)


def directory_version(session: Session) -> int:
    """The directory's version (``DirectoryVersion``), bumped by ticketing.directory
    whenever a number enters or leaves the staff numbers."""
    return session.scalar(select(DirectoryVersion.version).where(DirectoryVersion.id == 1)) or 0


def unchecked(version: int | None) -> Any:
    """SQL on Ticket: not yet checked against the directory at ``version`` for its current
    closure (None: never checked for it at any version, a new closure). The survey
    planner decides only these each tick (a survey, 不参与回访, or neither), new closures
    first, and then remembers them (:func:`checked`): before (loose27) it asked every
    closed, unanswered ticket of all history on every tick. A number entered later still
    counts: entering it bumps the version, and every closed ticket is looked at again once.
    Disabling or enabling an account does not bump it (no filed ticket's standing moves)."""
    new = or_(Ticket.staff_checked_version.is_(None),
              Ticket.staff_checked_round != Ticket.redo_count)
    return new if version is None else or_(new, Ticket.staff_checked_version != version)


def checked(*, session: Session, seen: list[tuple[int, int]], version: int) -> None:
    """Remember that the tickets ``seen`` ((id, redo_count) as read) were decided at
    ``version``: each with the closure it was read at (one redone since is looked at
    again)."""
    for ticket_id, round_ in seen:
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(
            staff_checked_version=version, staff_checked_round=round_)
            .execution_options(synchronize_session=False))


def mark_not_surveyed(*, session: Session, candidates: Any, now: datetime,
                      then: Callable[[], None] | None = None) -> int:
    """Record 不参与回访 on every closed ticket ``candidates`` (a WHERE clause: closed,
    no answer for this closure, a callback number that only the staff rule keeps from a
    survey) picks, once per closure: an audited event, the reason in its note. ``then``
    runs after the marks, under the same lock (the planner remembers its checks there);
    not when another planner holds it (that one marks and remembers this tick)."""
    marked = exists(select(TicketEvent.id).where(
        TicketEvent.ticket_id == Ticket.id, TicketEvent.action == NOT_SURVEYED_EVENT,
        TicketEvent.at >= Ticket.closed_at))
    unmarked = select(Ticket).where(and_(candidates, ~marked)).order_by(Ticket.id)
    tickets = session.scalars(unmarked).all()
    if tickets and session.get_bind().dialect.name == "postgresql":
        # Two planners (two nodes) both read the ticket unmarked and both marked it: the
        # mark has no key to conflict on, as the planner's tasks have. One marks at a time
        # (the lock held to its COMMIT; SQLite's transactions begin IMMEDIATE, one at a
        # time already); the other leaves the marks to it this tick rather than wait
        # holding what its plan wrote so far. Read again under the lock: in READ
        # COMMITTED a new statement sees the marks a planner before it committed.
        if not session.scalar(select(func.pg_try_advisory_xact_lock(*_MARKING_LOCK))):
            return 0
        tickets = session.scalars(unmarked).all()
    for ticket in tickets:
        record_event(session=session, ticket=ticket, actor=_MARKER, action=NOT_SURVEYED_EVENT,
                     note=NOT_SURVEYED_NOTE, data={"round": ticket.redo_count}, at=now)
    if then is not None:
        then()
    return len(tickets)
