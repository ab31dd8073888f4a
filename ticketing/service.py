"""Ticket service: every change to a ticket goes through these functions.

Functions are keyword-only, take the session, and flush but never commit: the caller (an
API request, a CLI command, a call, a scheduler job) owns the transaction, so a transition
and its audit event are committed together or not at all.
"""

from __future__ import annotations

import re
import weakref
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, overload

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    CursorResult,
    Engine,
    Executable,
    Row,
    SQLColumnExpression,
    and_,
    bindparam,
    case,
    event,
    false,
    func,
    insert,
    null,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from ticketing import hearing, numbers, phones, supervision
from ticketing.actors import Actor
from ticketing.classify import (
    URGENCY_LEVELS,
    UTILITY_CATEGORIES,
    category_label,
    classify,
    sub_category_in,
)
from ticketing.context import Domain
from ticketing.db import one_of, persistent_unflushed, run_at_commit, undone_by
from ticketing.deadlines import due_at, passed
from ticketing.holders import holder_refusal, holders, receiver_refusal
from ticketing.inputs import (
    MAX_ID,
    InvalidInput,
    StateConflict,
    ascii_int,
    check_category,
    check_label,
    check_sub_category,
    clean_optional_name,
    clean_text,
    echoed,
    has_text,
)
from ticketing.intake_model import Understanding
from ticketing.models import (
    ReplyAttachment,
    SurveyResult,
    Ticket,
    TicketEvent,
    TicketSequence,
    Unit,
    User,
)
from ticketing.queries import (
    LINK_EVENT,
    held_reason,
    identified_caller,
    is_held,
    may_act_on,
    may_send_to,
    note_created,
    note_filed,
    same_identified_caller,
)
from ticketing.queries import scope_filter as scope_filter  # callers written against service
from ticketing.quiet import staff_quiet_until
from ticketing.respondent import MAX_LENGTH as RESPONDENT_MAX
from ticketing.states import (
    ASSIGNED_STATUSES,
    EXCLUSION_REQUEST_STANDS,
    FILING_ROLES,
    OPEN_STATUSES,
    UNDISPATCHED_STATUSES,
    Action,
    PermissionDenied,
    Role,
    Status,
    Transition,
    transition_for,
    values,
)

CHANNELS = ("phone", "twilio", "web", "api")


class NotFound(LookupError):
    pass


# --- lookups -------------------------------------------------------------------------


def get_ticket(*, session: Session, actor: Actor, ref: str | int) -> Ticket:
    """A ticket by id or number, as ``actor`` may see it; out of scope looks like absent."""
    stmt = select(Ticket)
    if isinstance(ref, str):
        # Typed with an input method's full-width (or Arabic-Indic) digits: the same number,
        # as the search reads it (queries.search).
        ref = phones.ascii_digits(ref)
    # A ref of the number's layout is a number (``numbers.parse``: before, "ten digits" was
    # counted here again as len < 9, a second copy of the layout); other ASCII digits are
    # an id. Anything else, or an id past any row's, is looked up as a number: not found.
    if isinstance(ref, int):
        ticket_id: int | None = ref
    else:
        ticket_id = ascii_int(ref) if numbers.parse(ref) is None else None
        ticket_id = ticket_id if ticket_id is not None and ticket_id <= MAX_ID else None
    if ticket_id is not None:
        stmt = stmt.where(Ticket.id == ticket_id)
    else:
        stmt = stmt.where(Ticket.number == str(ref))
    ticket = session.scalars(stmt.where(scope_filter(actor))).first()
    if ticket is None:
        raise NotFound(f"ticket {echoed(ref)} not found")
    return ticket


def events_of(*, session: Session, ticket: Ticket) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    )


# --- audit ---------------------------------------------------------------------------


def record_event(
    *,
    session: Session,
    ticket: Ticket,
    actor: Actor,
    action: str,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> TicketEvent:
    """Append an audit event; used for transitions and for non-transition steps
    (reminder calls, SMS, surveys, escalations) alike."""
    ev = TicketEvent(
        actor_id=actor.id,
        actor_name=actor.name,
        role=actor.role.value,
        action=action,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data,
    )
    if ticket.id is not None:
        ev.ticket_id = ticket.id
    else:
        # A ticket still to be INSERTed (create_ticket's ``accept``): the flush fills the id
        # in. Never for a stored ticket: setting the relationship would load its events.
        ev.ticket = ticket
    if at is not None:
        ev.at = at
    session.add(ev)
    return ev


HANDOVER_ACTION = "emergency_handover"  # 三号联动: the audit action of a hand-over
# A hand-over's target when the service's stop came first: no call was placed, the caller
# was told to dial the service themselves (ivr.call_flow ``Dialogue._stop_notice``).
HANDOVER_STOPPED = "stopped"
# A hand-over's target when there is no line to hand to (no ``ivr.emergency_uris`` entry,
# no operator: the shipped settings): the caller was told to dial the service themselves.
HANDOVER_NOWHERE = "none"


def record_emergency_handover(
    *, session: Session, ticket: Ticket, actor: Actor, service: str, target: str
) -> TicketEvent:
    """三号联动: the call was handed to 110/119/120 (``target``: "uri" for the service's own
    line, "operator" for the duty operator; "stopped": the service's stop came first and
    no call was placed; "none": no line to hand to, none was placed); the audit names the
    service."""
    # The ticket is already urgent: create_ticket classified the same words (emergency ->
    # urgent), so its deadline is the urgent one; this only records what was done.
    service = check_label("emergency", service)
    # Said as it happened: "转接110" for a stop that placed no call misled (review70), and
    # so did it for a hand-over with no line to go to, read in the console as done (ux44).
    # A line to go to: only the attempt is known here, the bridge comes after; its outcome
    # is a second event (``record_handover_result``): "转接119" alone read as put through
    # when the line rang out or refused.
    why = {HANDOVER_STOPPED: "服务停止", HANDOVER_NOWHERE: "无转接线路"}.get(target)
    note = (f"未转接{service}：{why}，已告知来电人直接拨打{service}"
            if why is not None else f"发起转接{service}")
    ev = record_event(session=session, ticket=ticket, actor=actor, action=HANDOVER_ACTION,
                      note=note, data={"service": service, "target": target})
    session.flush()
    return ev


HANDOVER_RESULT_ACTION = "emergency_handover_result"  # how the attempt above ended
# How the bridge of a hand-over to a line ended (the telephony's own statuses are mapped to
# these by ivr.call_flow and ivr.twilio.call_flow): the words the trail gives each.
HANDOVER_PUT_THROUGH = "bridged"
HANDOVER_UNANSWERED = "no_answer"
HANDOVER_REFUSED = "refused"  # busy, declined, the trunk or our front end refused the call
HANDOVER_CALLER_GONE = "caller_gone"
# No word of the bridge ever came (a Twilio <Dial> whose action and status callback were
# both lost, the call settled by recovery's 15-minute rule): put through or not is unknown.
HANDOVER_UNKNOWN = "unknown"
# Who was rung, in ``record_emergency_handover``'s target words: the service's own line, or
# the duty operator (no line configured for the service, or the caller's 0 asked for them).
HANDOVER_RUNG_LINE = "uri"
HANDOVER_RUNG_OPERATOR = "operator"
_HANDOVER_RESULT_WHY = {HANDOVER_UNANSWERED: "无人应答", HANDOVER_REFUSED: "线路占线或拒绝呼叫",
                        HANDOVER_STOPPED: "服务停止"}


def handover_result_note(service: str, result: str, rung: str = HANDOVER_RUNG_LINE) -> str:
    """The trail's words for how a hand-over's bridge ended, naming who was rung (the
    service's line, or the duty operator: "已接通119" for the operator read as 119 had the
    call), and what the caller was told: the SIP line and Twilio alike play "请挂机后直接拨打
    119" when it was not put through."""
    who = "值班员" if rung == HANDOVER_RUNG_OPERATOR else service
    if result == HANDOVER_PUT_THROUGH:
        return f"已接通{who}" if who == service else f"已接通{who}（未拨打{service}）"
    if result == HANDOVER_CALLER_GONE:
        return f"未接通{who}：来电人在接通前挂机"
    if result == HANDOVER_UNKNOWN:
        return f"转接{who}结果未知：未收到呼叫结果"
    why = _HANDOVER_RESULT_WHY.get(result, "转接失败")
    return f"未接通{who}：{why}，已告知来电人直接拨打{service}"


def record_handover_result(
    *, session: Session, ticket: Ticket, actor: Actor, service: str, result: str,
    rung: str = HANDOVER_RUNG_LINE,
) -> TicketEvent:
    """三号联动's outcome, after the attempt (``record_emergency_handover``): who was rung
    (``rung``), put through or not and why."""
    service = check_label("emergency", service)
    ev = record_event(session=session, ticket=ticket, actor=actor,
                      action=HANDOVER_RESULT_ACTION,
                      note=handover_result_note(service, result, rung),
                      data={"service": service, "result": result, "rung": rung})
    session.flush()
    return ev


HANDOVER_DECLINED_ACTION = "emergency_handover_declined"


def record_handover_declined(
    *, session: Session, ticket: Ticket, actor: Actor, service: str
) -> TicketEvent:
    """The caller declined a hand-over to 110/119/120 that only the intake model asked for
    (no emergency rule named it): the call went on as a complaint. Audited, naming the
    service, so a declined emergency can be found and reviewed."""
    service = check_label("emergency", service)
    ev = record_event(session=session, ticket=ticket, actor=actor,
                      action=HANDOVER_DECLINED_ACTION, note=f"来电人拒绝转接{service}",
                      data={"service": service})
    session.flush()
    return ev


def _allowed(*, ticket: Ticket, actor: Actor, action: Action,
             reason: str | None) -> Transition:
    """The refusals of ``_apply`` (a ticket out of sight, the transition table), changing
    nothing: for an action with a refusal of its own to check after these and before any
    change."""
    if not may_act_on(actor, ticket):
        raise NotFound(f"ticket {ticket.number} not found")
    return transition_for(Status(ticket.status), action, actor.role, reason)


def _request_made(session: Session, ticket: Ticket) -> tuple[str | None, str | None]:
    """The ticket's last 申请剔除 as ``request_exclusion`` wrote it (its event: the listed
    reason in the data, the note ``reason：text``); (None, None) when it made none."""
    event = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                  TicketEvent.action == Action.REQUEST_EXCLUSION.value)
        .order_by(TicketEvent.id.desc()).limit(1)).first()
    reason = (event.data or {}).get("reason") if event is not None else None
    if not isinstance(reason, str) or event is None:
        return None, None
    return reason, (event.note or "").removeprefix(f"{reason}：") or None


def _apply(
    *,
    session: Session,
    ticket: Ticket,
    actor: Actor,
    action: Action,
    now: datetime,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    to: Status | None = None,
) -> Status:
    """Check the transition table, move the ticket and audit it. Returns the old status.
    ``to``: where the ticket goes when the table's target is nominal (拆单 goes back to
    the state the ticket was merged from)."""
    old = Status(ticket.status)
    t = _allowed(ticket=ticket, actor=actor, action=action, reason=reason)
    target = to or t.target
    ticket.status = target.value
    ticket.updated_at = now
    if target not in EXCLUSION_REQUEST_STANDS:
        # Denied (or overtaken: closed with its primary): read as standing, the ticket's
        # exclusion reason showed every reviewer a request the centre refused, and a later
        # 剔除 on other grounds as if granted (mend90). The trail keeps it (its event note).
        ticket.exclusion_reason = ticket.exclusion_text = None
    elif target == Status.EXCLUSION_REQUESTED and action == Action.UNMERGE:
        # 拆单 back to 剔除待审核 after its group closed (which cleared the request) and was
        # reopened (驳回重办): the request waits again, the one the handler made (review100:
        # it came back with no reason or words, and a grant told the citizen none).
        ticket.exclusion_reason, ticket.exclusion_text = _request_made(session, ticket)
    record_event(
        session=session,
        ticket=ticket,
        actor=actor,
        action=action.value,
        from_status=old.value,
        to_status=target.value,
        note=reason,
        data=data,
        at=now,
    )
    return old


# The one way another core module (ticketing.merging) moves a ticket through the table.
apply_transition = _apply


# --- creation ------------------------------------------------------------------------


def _next_number(session: Session, domain: Domain, now: datetime) -> str:
    """Date + per-day sequence, e.g. 2611240007: the day the ticket is filed (``now``, not
    the call's own time: a call spooled past midnight and filed late is numbered on the day
    it is filed, so each day's numbers stay one run from 1) and its counter, at least four
    digits (ten in all; a fifth only past 9999 tickets in a day), easy to read back by
    phone. The IVR reads a caller their tickets' last four digits (``TAIL_DIGITS``)."""
    day = numbers.day_of(now, domain.tz)
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # SQLite serialises writers anyway: the counter rides in the ticket's transaction.
        past_taken = session.info.pop(_PAST_TAKEN, False)
        seq = None if past_taken else _counted_number(session, conn, day)
        if seq is None:
            if past_taken:
                conn.execute(_CATCH_UP_DAY, _day_range(day))
            seq = _bump_day_counter(conn, day)
            _note_bumped(session, day, seq)
    else:
        if session.info.pop(_PAST_TAKEN, False):
            # Refused a taken number: the sequence set back (a restore, a hand edit) hands
            # out taken numbers until it is past the day's highest, so it is moved there
            # first (forward only, by nextval: ``_CATCH_UP_SEQUENCE``).
            conn.execute(_CATCH_UP_SEQUENCE, _day_range(day))
        # A counter row bumped in the ticket's transaction would stay locked through all
        # of it, and every creator would queue behind it; bumped on a connection of its
        # own it cost each filing a second connection and transaction. A sequence locks
        # nothing: nextval in the ticket's own transaction, less the day's base, read in
        # the same statement (no copy kept in the process: after a restore or a promoted
        # standby the base is the database's, not what a process remembers). A number
        # whose ticket then rolls back is skipped, as before.
        seq = conn.execute(_NEXT_OF_DAY, {"of_day": day}).scalar()
        if seq is None:  # the day's first filing: its base first
            _set_day_base(conn.engine, day)
            seq = conn.execute(_NEXT_OF_DAY, {"of_day": day}).scalar_one()
    if seq < 1:
        # Only a sequence set back by hand below a day's base (its row kept) comes here:
        # refused, never a malformed number such as 261207-099.
        raise TicketNumberError(
            f"ticket number of day {day}: the sequence ticket_numbers is below the day's "
            f"base in ticket_sequences (gives {seq}); set it back above the numbers "
            "handed out (setval) before filing again")
    return numbers.make(day, seq)


_PAST_TAKEN = "hotline_number_past_taken"  # Session.info key: ``number_past_taken``


def number_past_taken(session: Session) -> None:
    """The next ticket this session numbers was refused a number taken already
    (``ticketing.db.ticket_number_taken``) and is filed once more: on SQLite the day's
    counter row is first moved up to the highest number of the day's tickets, as a rolled
    back bump would hand out the same taken number again (the counter set back by hand, a
    restore of tickets without their counter). On PostgreSQL the sequence is moved past
    the day's highest number the same way (``_CATCH_UP_SEQUENCE``): set back by two or more
    it kept handing out taken numbers, a 503 a filing, until an operator ran ``setval``
    (docs/scaling.md; loose31)."""
    session.info[_PAST_TAKEN] = True


def _day_range(day: str) -> dict[str, str]:
    low, high = numbers.day_range(day)
    return {"of_day": day, "from": low, "to": high}


class TicketNumberError(RuntimeError):
    """The database's numbering state would give a number below 1 (an operator's fault to
    mend, not a request's): loud, and no ticket is written."""


# Session.info keys: per day, the number this transaction's bump of the counter row gave and
# the last it handed out, counted in memory since (``count_numbers``); and per savepoint
# begun, those as they were then (a rollback of it puts them back).
_NUMBERS_COUNTED = "hotline_numbers_counted"
_NUMBERS_AT_SAVEPOINT = "hotline_numbers_at_savepoint"


def count_numbers(session: Session) -> None:
    """``session``'s transaction files tickets one after another on SQLite (a filing group
    of more than one, ticketing.group_commit): the day's counter row is bumped by its first
    number only, each next one counted in memory, and the row set to the last one just
    before the commit. The transaction holds SQLite's write lock throughout, so nobody else
    hands out numbers meanwhile: the same numbers as an UPDATE a ticket, one statement of
    the writers' turn a ticket fewer (docs/scaling.md, twenty-eighth round). A savepoint's
    rollback gives its numbers back, as it gives back a bump of the row (no gap); PostgreSQL's
    numbers come from a sequence and are not counted."""
    session.info.setdefault(_NUMBERS_COUNTED, {})


def _counted_number(session: Session, conn: Connection, day: str) -> int | None:
    """The day's next number counted in memory (``count_numbers``), None when the row is to
    be bumped instead."""
    counted: dict[str, list[int]] | None = session.info.get(_NUMBERS_COUNTED)
    if counted is None or day not in counted:
        return None
    # What a bump of the row would give now, because nobody else can have bumped it since
    # this transaction did: SQLite's write lock, taken at BEGIN IMMEDIATE (at the latest by
    # the bump's UPDATE), is held until this transaction's COMMIT or ROLLBACK, and the count
    # is dropped with the transaction (``_numbers_ended``). A savepoint's rollback keeps
    # the lock (its bump undone by the database, its count here: ``_numbers_rolled_back``).
    # Were the DBAPI connection out of a transaction (autocommit), the lock would have gone
    # with the bump's statement and another writer could take these numbers.
    assert conn.connection.driver_connection.in_transaction, \
        "counted numbers outside the transaction that bumped the day's row"
    counted[day][1] = _following(counted[day][1])
    return counted[day][1]


def _note_bumped(session: Session, day: str, seq: int) -> None:
    counted: dict[str, list[int]] | None = session.info.get(_NUMBERS_COUNTED)
    if counted is not None:
        counted[day] = [seq, seq]


@event.listens_for(Session, "after_transaction_create")
def _numbers_at_savepoint(session: Session, transaction: Any) -> None:
    # Also before anything is counted: counting may begin inside the savepoint (a group
    # written a savepoint a filing), its first bump then undone with it.
    if transaction.nested:
        counted = session.info.get(_NUMBERS_COUNTED, {})
        session.info.setdefault(_NUMBERS_AT_SAVEPOINT, {})[transaction] = {
            day: list(pair) for day, pair in counted.items()}


@event.listens_for(Session, "after_soft_rollback")
def _numbers_rolled_back(session: Session, rolled_back: Any) -> None:
    # The savepoint's bump of the row is undone by the database; its counted numbers here.
    # A flush failing inside it rolled it back naming the flush's sub-transaction
    # (``undone_by``; review73: the count was kept, a gap in the day's numbers).
    before = session.info.get(_NUMBERS_AT_SAVEPOINT, {}).pop(undone_by(rolled_back), None)
    if before is not None and _NUMBERS_COUNTED in session.info:
        session.info[_NUMBERS_COUNTED] = before


@event.listens_for(Session, "before_commit")
def _write_counted_numbers(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the transaction goes on counting
    for day, (bumped, last) in session.info.pop(_NUMBERS_COUNTED, {}).items():
        if last != bumped:
            session.connection().execute(_SET_DAY, {"of_day": day, "last": last})


@event.listens_for(Session, "after_transaction_end")
def _numbers_ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # committed (the rows set) or rolled back: counted anew
        session.info.pop(_NUMBERS_COUNTED, None)
        session.info.pop(_NUMBERS_AT_SAVEPOINT, None)


def _bump_day_counter(conn: Connection, day: str) -> int:
    """SQLite: the day's next counter value; the first creator of the day inserts its row."""
    seq = conn.execute(_BUMP_DAY, {"of_day": day}).scalar()
    if seq is not None:
        return seq
    # Two first creators of a day: one inserts, the other's insert does nothing and its
    # second UPDATE (which waits for the inserter's commit) counts on from there.
    inserted = conn.execute(
        sqlite_insert(TicketSequence).values(day=day, last=_following(0))
        .on_conflict_do_nothing(index_elements=[TicketSequence.day])
        .returning(TicketSequence.last)
    ).scalar()
    if inserted is not None:
        return inserted
    return conn.execute(_BUMP_DAY, {"of_day": day}).scalar_one()


# SQLite: the day's counter row at least the highest number of the day's tickets (inserted
# when missing), read off the unique index on the number (``number_past_taken``).
_HIGHEST_OF_DAY = (
    select(func.coalesce(func.max(numbers.sequence_of(Ticket.number)), 0))
    .where(Ticket.number >= bindparam("from"), Ticket.number < bindparam("to"))
    .scalar_subquery())
_CATCH_UP_DAY = (
    sqlite_insert(TicketSequence).values(day=bindparam("of_day"), last=_HIGHEST_OF_DAY)
    .on_conflict_do_update(index_elements=[TicketSequence.day], set_={
        "last": func.max(TicketSequence.last, sqlite_insert(TicketSequence).excluded.last)}))
_SET_DAY = (update(TicketSequence).where(TicketSequence.day == bindparam("of_day"))
            .values(last=bindparam("last")))


@overload
def _following(last: int) -> int: ...


@overload
def _following(last: SQLColumnExpression[int]) -> ColumnElement[int]: ...


def _following(last: Any) -> Any:
    """The day's number after ``last`` (SQLite's counter row): the one rule for the row's
    UPDATE (``_BUMP_DAY``, a SQL expression), its first INSERT (after 0) and a group's
    numbers counted in memory (``_counted_number``, an int), which must give the numbers
    the UPDATE would."""
    return last + 1


_BUMP_DAY = (update(TicketSequence).where(TicketSequence.day == bindparam("of_day"))
             .values(last=_following(TicketSequence.last)).returning(TicketSequence.last))

# PostgreSQL (migration 0026): one sequence for every day's numbers.
_NUMBERS = sa_table("ticket_numbers", sa_column("last_value"), sa_column("is_called"))
# The day's next number in one statement: no row (the day's first filing) gives none, and
# nextval is then not taken (the target list is evaluated for matching rows only).
_NEXT_OF_DAY = (select(func.nextval("ticket_numbers") - TicketSequence.base)
                .where(TicketSequence.day == bindparam("of_day"),
                       TicketSequence.base.is_not(None)))
# The highest value the sequence has handed out (0 before its first): read from the
# sequence itself, which is shared state, not a snapshot of this transaction's.
_HANDED_OUT = select(case((_NUMBERS.c.is_called, _NUMBERS.c.last_value),
                          else_=_NUMBERS.c.last_value - 1)).scalar_subquery()
_SET_BASE = (
    postgresql_insert(TicketSequence).values(day=bindparam("of_day"), last=0, base=_HANDED_OUT)
    # A day the counter row numbered before the upgrade goes on after its last number.
    .on_conflict_do_update(index_elements=[TicketSequence.day],
                           set_={"base": _HANDED_OUT - TicketSequence.last},
                           where=TicketSequence.base.is_(None)))


# The sequence moved up to the day's highest number (its base plus the highest sequence part
# of the day's tickets, read off the number's unique index), when it is behind it: by as
# many nextval as it is behind, never by setval. A setval sets what this statement read a
# moment before, and another node's nextval in that moment (a node caught up already, taking
# the next free numbers) was set back and handed out again: the same number twice, a 503
# (review82). nextval only moves forward; taken by others meanwhile, the run overshoots
# by as many numbers, skipped as a rolled-back one is. At most the day's highest many: the
# sequence is at the day's base or past it here (below it, ``_next_number`` refuses first).
_BEHIND = (select(func.least(TicketSequence.base + _HIGHEST_OF_DAY - _HANDED_OUT,
                             _HIGHEST_OF_DAY))
           .where(TicketSequence.day == bindparam("of_day"), TicketSequence.base.is_not(None))
           .scalar_subquery())
_CATCH_UP_SEQUENCE = (select(func.count(func.nextval("ticket_numbers")))
                      .select_from(func.generate_series(1, _BEHIND)))


def _set_day_base(engine: Engine, day: str) -> None:
    """PostgreSQL: ``day``'s base, what ``nextval('ticket_numbers')`` less gives its
    numbers, unless set already; in a transaction of its own (committed before any of the
    day's numbers is taken, so it is below every one of them)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(_SET_BASE, {"of_day": day})


def validate_phone(phone: str) -> str:
    """``phone`` in E.164 (ticketing.phones); a typed number that is none is refused, with
    how to say there is none (a withheld number is no placeholder such as "anonymous")."""
    e164 = phones.normalise(phone)
    if e164 is None:
        raise InvalidInput("caller_phone", f"invalid phone number: {phone!r}; for a withheld "
                                           "number give none (null)")
    return e164


def _intake_text(demand: str, transcript: str | None) -> str:
    """The words a ticket is classified by: the demand, else the call's transcript."""
    return clean_text(demand or "", field="demand", multiline=True).strip() or (
        transcript or "").strip()


def understand_demand(
    *, domain: Domain, demand: str, transcript: str | None = None
) -> Understanding | None:
    """What create_ticket would understand of this demand, computed without the session."""
    return _understand(domain, _intake_text(demand, transcript))


def _understand(domain: Domain, text: str) -> Understanding | None:
    # A placeholder (a call still being transcribed, a callback request with no words) is
    # no demand: it stays in the manual queue as "other" until attach_transcript classifies
    # the words (a model would guess).
    return domain.understand(text) if text and not is_placeholder(text) else None


def create_ticket(
    *,
    session: Session,
    domain: Domain,
    actor: Actor,
    channel: str,
    caller_phone: str | None,
    demand: str,
    caller_phone_keyed: bool = False,
    caller_name: str | None = None,
    confidential: bool = False,
    no_contact: bool = False,
    address: str | None = None,
    district: str | None = None,
    category: str | None = None,
    sub_category: str | None = None,
    urgency: str | None = None,
    subject: str | None = None,
    respondent: str | None = None,
    transcript: str | None = None,
    transcript_meta: dict[str, Any] | None = None,
    recording_path: str | None = None,
    recording_sha256: str | None = None,
    call_id: str | None = None,
    received_at: datetime | None = None,
    understood: Understanding | None = None,
    accept_now: bool = False,
) -> Ticket:
    """Create a draft ticket, classifying the demand for whatever the caller did not say;
    with ``accept_now``, also accept it and dispatch it by the rule table (``accept``).

    ``caller_phone`` None: the caller's number is unknown (withheld); nobody calls or texts
    them back and nothing is linked by their number. ``caller_phone_keyed``: the number was
    keyed in by the caller on the IVR, not given by the network -- used to call back, never
    to tell who called (anyone can key any number). ``understood`` is ``understand_demand``
    of the same demand and transcript, when the caller ran it before opening the transaction
    (it needs no lock, and holding one while it runs delays every other creator).
    ``accept_now``: the ticket is written once, accepted and dispatched, with its trail (one
    INSERT, not an INSERT of the draft and an UPDATE); its audit events are the same, and in
    the same order, as ``accept`` called after the draft's creation writes. Only for a
    role of ``FILING_ROLES`` (else ``PermissionDenied``, before anything is written); its
    filer takes it through intake whatever unit it goes to (``queries.may_act_on``)."""
    if actor.role not in FILING_ROLES:
        raise PermissionDenied(actor.role, Action.ACCEPT)
    if channel not in CHANNELS:
        raise InvalidInput("channel", f"unknown channel {echoed(channel)!r}; "
                                      f"one of {', '.join(CHANNELS)}")
    phone = validate_phone(caller_phone) if caller_phone and caller_phone.strip() else None
    if category is not None:
        category = check_category(category)
    demand = clean_text(demand or "", field="demand", multiline=True)
    caller_name = clean_optional_name(caller_name, field="caller_name")
    address = clean_optional_name(address, field="address")
    district = clean_optional_name(district, field="district")
    subject = clean_optional_name(subject, field="subject")
    respondent = check_respondent(respondent)
    text = _intake_text(demand, transcript)
    now = domain.now()
    received = received_at or now
    guess = understood if understood is not None else _understand(domain, text)
    if (guess is not None and category is None and transcript
            and text == _intake_text(transcript, None)):
        # The words classified are the recogniser's: held when they are not to be trusted.
        guess = _heard(domain, guess, text, transcript_meta)
    chosen = category or (guess.category if guess else "other")
    if sub_category:
        sub_category = check_sub_category(chosen, sub_category)
    elif guess and guess.category == chosen:
        # The rules' sub-category belongs to the category they read; for one an operator
        # typed over it there is none until someone sets it.
        sub_category = guess.sub_category
    else:
        sub_category = None
    ticket = Ticket(
        number=_next_number(session, domain, now),
        channel=channel,
        caller_phone=phone,
        caller_phone_keyed=bool(phone and caller_phone_keyed),
        caller_name=caller_name,
        confidential=confidential,
        no_contact=no_contact,
        address=address or (guess.address if guess else None),
        district=district or (guess.district if guess else None),
        category=chosen,
        sub_category=sub_category,
        urgency=urgency or (guess.urgency if guess else "general"),
        kind=guess.kind if guess else "complaint",
        emergency=guess.emergency if guess else "none",
        # An operator who typed the category has already judged the call.
        needs_confirmation=bool(guess and guess.needs_confirmation and category is None),
        classification_confidence=_lowest(guess.confidence) if guess else None,
        subject=(subject or (retitled(guess.subject, guess.category, chosen) if guess else "")
                 or "")[:128],
        respondent=respondent or _respondent_of(domain, text),
        demand=text,
        transcript=transcript,
        transcript_meta=transcript_meta,
        recording_path=recording_path,
        recording_sha256=recording_sha256,
        call_id=call_id,
        classification=guess.as_record() if guess else None,
        status=Status.DRAFT.value,
        received_at=received,
        created_at=now,
        updated_at=now,
    )
    _place(domain, ticket)
    # Looked up before the INSERT, so the link rides in it: no second UPDATE of the new row.
    original = _duplicate_of(session=session, domain=domain, ticket=ticket)
    ticket.duplicate_of_id = original.id if original is not None else None
    session.add(ticket)
    note_filed(session, ticket, actor)
    # The first flush writes it with plain INSERTs, not the unit of work (_write_at_once):
    # a draft's now, an accepted ticket's with its acceptance and dispatch.
    session.info[_WRITE_AT_ONCE] = ticket
    if not accept_now:
        session.flush()
    note_created(session, ticket)
    record_event(
        session=session,
        ticket=ticket,
        actor=actor,
        action="create",
        to_status=Status.DRAFT.value,
        data={"channel": channel},
        at=now,
    )
    if original is not None:
        _count_duplicate(session=session, ticket=ticket, original=original, actor=actor,
                         now=now)
    # Before the acceptance, whose events follow the 督办 record's. A ticket joining an open
    # record stays unwritten until accept's flush; one that may open a record (its group
    # counted in the database) is written as a draft first, as without ``accept``.
    supervision.on_ticket(session=session, domain=domain, ticket=ticket, actor=actor)
    if accept_now:
        accept(session=session, domain=domain, ticket=ticket, actor=actor)
        supervision.link_joined(session, ticket)
    # The ticket's row is written (it has its id); its audit events go with the next flush,
    # at the commit at the latest: a caller that accepts it next writes them together with
    # the acceptance's (one INSERT on PostgreSQL, not two).
    return ticket


# Session.info key: a ticket create_ticket added, which the next flush writes by
# ``_write_at_once``.
_WRITE_AT_ONCE = "hotline_write_at_once"


def _column_defaults(mapper: Any) -> list[tuple[str, Any]]:
    """(attribute, default) of each column but the key: what the unit of work would INSERT
    for an attribute left unset (a column default, else NULL)."""
    found = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.primary_key:
            continue
        default = column.default
        if default is None and column.server_default is not None:
            # Only the database knows its value: not writable without reading it back.
            raise TypeError(f"{column} has a server default only")
        found.append((prop.key, default))
    return found


_TICKET_COLUMNS = _column_defaults(Ticket.__mapper__)
_EVENT_COLUMNS = _column_defaults(TicketEvent.__mapper__)
# A new ticket's columns that its INSERT leaves out while they are NULL: the database stores
# NULL for them just the same (no default of their own, no server default: _column_defaults;
# not JSON, where a None is stored as JSON's null). Most of a new ticket's 54 columns are
# NULL, and with them all the INSERT had 54 parameters: psycopg parses the text of a query
# with more than 50 again on every execution (its query cache takes at most 50), which was
# the single costliest step of the statement on PostgreSQL (cProfile, bench/intake_profile.py).
_TICKET_LEFT_OUT_WHEN_NULL = frozenset(
    key for key, default in _TICKET_COLUMNS
    if default is None and not isinstance(Ticket.__mapper__.columns[key].type, JSON))
_INSERT_TICKET = insert(Ticket.__table__).returning(Ticket.__table__.c.id)
# PostgreSQL returns the ids in the order of the rows (one INSERT, SQLAlchemy's sentinel).
_INSERT_EVENTS_ORDERED = insert(TicketEvent.__table__).returning(
    TicketEvent.__table__.c.id, sort_by_parameter_order=True)
# SQLite: one multi-row INSERT, whose RETURNING rows come in no promised order. Its rows are
# inserted in the order of VALUES, each with the next rowid (max + 1: we hold the write
# lock), so the ascending ids are the rows' in order.
_INSERT_EVENTS = insert(TicketEvent.__table__).returning(TicketEvent.__table__.c.id)


def _row(obj: Any, columns: list[tuple[str, Any]], **given: Any) -> dict[str, Any]:
    """The INSERT's values of a new object, ``given`` ones first; an unset attribute gets
    its default, set on the object too, so that nothing of the stored row is left to load."""
    values = obj.__dict__
    row = dict(given)
    for key, default in columns:
        if key in given:
            continue
        if key in values:
            row[key] = values[key]
            continue
        value = None
        if default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        setattr(obj, key, value)
        row[key] = value
    return row


@event.listens_for(Session, "before_flush")
def _write_at_once(session: Session, _context: Any, _objects: Any) -> None:
    """The first flush of a new ticket (a draft, or with ``accept_now`` accepted and
    dispatched): the ticket's row and its trail so far are INSERTed by two Core statements
    (one executemany of the events), and the objects become the session's persistent ones
    as a flush would leave them. The unit of work cost a quarter of POST /tickets' CPU for
    the same two INSERTs on PostgreSQL (on SQLite one INSERT per event). Anything else to
    write in the same flush: the unit of work does it all, as before."""
    ticket = session.info.pop(_WRITE_AT_ONCE, None)
    if ticket is None or ticket.id is not None or session.deleted:
        return
    new = list(session.new)
    events = [o for o in new if isinstance(o, TicketEvent) and o.__dict__.get("ticket") is ticket
              and "ticket_id" not in o.__dict__]
    if len(events) + 1 != len(new) or ticket not in session.new or session.dirty:
        return
    # In the order they were added, as the unit of work inserts them (the trail's order).
    events.sort(key=lambda e: instance_state(e).insert_order)
    conn = session.connection()
    # The first version, as the unit of work's INSERT would number it.
    version = Ticket.__mapper__.version_id_generator(None)  # type: ignore[misc]
    values = _row(ticket, _TICKET_COLUMNS, version=version)
    ticket_id = conn.execute(_INSERT_TICKET, {
        key: value for key, value in values.items()
        if value is not None or key not in _TICKET_LEFT_OUT_WHEN_NULL}).scalar_one()
    rows = [_row(e, _EVENT_COLUMNS, ticket_id=ticket_id) for e in events]
    if not rows:
        ids = []
    elif conn.dialect.name == "postgresql":
        ids = list(conn.execute(_INSERT_EVENTS_ORDERED, rows).scalars())
    else:
        ids = sorted(conn.execute(_INSERT_EVENTS, rows).scalars())
        if ids and ids[-1] - ids[0] != len(ids) - 1:
            raise RuntimeError(f"ticket events got ids {ids}: not one run, order unknown")
    for obj in (ticket, *events):
        session.expunge(obj)
    ticket.id, ticket.version = ticket_id, version
    for ev, ev_id in zip(events, ids, strict=True):
        ev.id, ev.ticket_id = ev_id, ticket_id
    for obj in (ticket, *events):
        # As if just loaded: the values set are the stored ones, nothing is pending.
        make_transient_to_detached(obj)
        session.add(obj)
    persistent_unflushed(session, ticket, *events)
    note_created(session, ticket, events)


def _respondent_of(domain: Domain, text: str) -> str | None:
    # A placeholder names nobody (as in _understand).
    return domain.respondent(text) if text and not is_placeholder(text) else None


def _place(domain: Domain, ticket: Ticket) -> None:
    """Street and community from the stated address, else from the demand (the earlier
    name wins, so the address's); the district too when only the place named it."""
    place = domain.locate(f"{ticket.address or ''}，{ticket.demand or ''}", ticket.district)
    ticket.district = ticket.district or place.district
    ticket.street, ticket.community = place.street, place.community


def _address_key(ticket: Ticket | Row[Any]) -> str:
    address = re.sub(r"\s", "", ticket.address or "")
    return address.removeprefix(ticket.district) if ticket.district else address


def _same_address(a: Ticket | Row[Any], b: Ticket) -> bool:
    """The same address, or one of the two has none (a caller need not repeat it)."""
    key_a, key_b = _address_key(a), _address_key(b)
    return not key_a or not key_b or key_a == key_b


# What linking needs of the original: a row of these, not a whole ticket (its JSON too).
_DUPLICATE_COLUMNS = (Ticket.id, Ticket.number, Ticket.received_at, Ticket.address,
                      Ticket.district)


def _plain_rows(session: Session, statement: Executable, params: dict[str, Any]
                ) -> CursorResult[Any]:
    """``statement``'s rows (columns, no entities) as ``session.execute`` reads them, the
    session's pending changes flushed first when it autoflushes, but on the session's
    connection: the ORM's execution added nothing to plain rows and cost about as much
    again as the statement (two thirds of the duplicate look-up's CPU; the on-duty
    handlers' read, docs/scaling.md, twenty-ninth round)."""
    if session.autoflush:
        session.flush()  # what the session's own execute would do first
    return session.connection().execute(statement, params)


def _duplicate_of(*, session: Session, domain: Domain, ticket: Ticket) -> Row[Any] | None:
    """重复诉求 / 多诉: the open ticket about the same problem that a new ticket is linked to
    (and counted on, ``_count_duplicate``), so the unit handles the problem once and every
    caller hears the outcome; None when there is none.

    The same problem is the same category at the same place within the window: from the
    same caller, the same district (and the same address when both tickets have one); from
    other callers, the same stated address (a whole district is too coarse to be one
    problem). The same caller about something else is a new complaint. A link never crosses
    the confidential flag: it would put a confidential caller's ticket beside a ticket that
    shows their number.
    """
    if is_placeholder(ticket.demand or ""):
        # Filed before its words were known: its category and place are the placeholder's,
        # no judgement of the problem (judge40: a caller's every such call was linked).
        return None
    caller = identified_caller(ticket)
    query = _duplicate_query(known_id=ticket.id is not None, by_caller=caller is not None,
                             district_known=ticket.district is not None,
                             by_address=bool(ticket.address))
    if query is None:
        return None
    since = ticket.received_at - timedelta(hours=domain.settings.duplicates.window_hours)
    rows = _plain_rows(session, query, {
        "id": ticket.id, "since": since, "category": ticket.category,
        "confidential": ticket.confidential, "caller": caller, "district": ticket.district,
        "address": ticket.address}).all()
    for row in sorted(rows, key=lambda r: (r.received_at, r.id)):
        # The same caller's tickets match on the district; their addresses are compared
        # here, where "朝阳区望京西园三区5号楼" and "望京西园三区5号楼" are one place.
        if not row.same_caller or _same_address(row, ticket):
            return row
    return None


@lru_cache(maxsize=16)
def _duplicate_query(*, known_id: bool, by_caller: bool, district_known: bool,
                     by_address: bool) -> Executable | None:
    """``_duplicate_of``'s statement for one shape of ticket, built once (building it cost
    more than running it); its values are bound parameters."""
    common = [
        *([Ticket.id != bindparam("id")] if known_id else []),
        Ticket.duplicate_of_id.is_(None),
        one_of(Ticket.status, values(OPEN_STATUSES - {Status.DRAFT})),
        Ticket.received_at >= bindparam("since"),
        Ticket.category == bindparam("category"),
        Ticket.confidential == bindparam("confidential"),
        # Nor is anything the same problem as a ticket whose words are still a placeholder.
        # (Each by !=: NOT IN's expanding parameter is rendered again at every execution.)
        *(Ticket.demand != text for text in sorted(_PLACEHOLDERS)),
    ]
    # Both ways of being the same problem in one statement (one round trip per ticket, not
    # two), each row saying which it is; the oldest row that qualifies wins. A UNION, not
    # an OR: each half keeps its own index (with an OR, SQLite read every ticket of the
    # category, inside the write lock).
    ways = []
    if by_caller:
        ways.append(select(*_DUPLICATE_COLUMNS, true().label("same_caller")).where(
            *common,
            same_identified_caller(bindparam("caller")),
            # Unknown district matches only unknown: two places we cannot tell apart are
            # not known to be one.
            Ticket.district == bindparam("district") if district_known
            else Ticket.district.is_(None),
        ))
    if by_address:
        # Other callers: only the same stated address (indexed equality; a neighbour who
        # words the address differently is left to the hot-spot report). Later callers'
        # tickets are linked, so few unlinked ones share an address.
        ways.append(select(*_DUPLICATE_COLUMNS, false().label("same_caller"))
                    .where(*common, Ticket.address == bindparam("address")))
    if not ways:
        return None
    return ways[0] if len(ways) == 1 else union_all(*ways)


def _count_duplicate(
    *, session: Session, ticket: Ticket, original: Row[Any], actor: Actor, now: datetime
) -> None:
    """Audit ``ticket``'s link to ``original`` and count it there."""
    record_event(
        session=session,
        ticket=ticket,
        actor=actor,
        action=LINK_EVENT,
        note=f"重复诉求，关联工单 {original.number}",
        data={"original": original.number},
        at=now,
    )
    # Counted with an UPDATE so concurrent duplicates don't lose increments, and without
    # bumping the original's optimistic-lock version (a handler may be signing it). Run
    # last: every caller about a much-reported problem bumps this one row, and its lock
    # is held from the UPDATE to the commit.
    run_at_commit(session, update(Ticket)
                  .where(Ticket.id == original.id)
                  .values(duplicate_count=Ticket.duplicate_count + 1)
                  .execution_options(synchronize_session=False),
                  row=(Ticket.__tablename__, original.id))


# --- lifecycle -----------------------------------------------------------------------


def accept(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor) -> Ticket:
    """受理, then dispatch straight away by the rule table when a rule and handler exist."""
    now = domain.now()
    _apply(session=session, ticket=ticket, actor=actor, action=Action.ACCEPT, now=now)
    ticket.accepted_at = now
    ticket.due_at = round_due(domain=domain, urgency=ticket.urgency, started=ticket.received_at)
    # The rule's unit and the least-loaded handler are looked up without flushing the
    # acceptance first (neither lookup reads this ticket's status), so acceptance and
    # dispatch reach the database as one UPDATE of the ticket.
    with session.no_autoflush:
        auto_dispatch(session=session, domain=domain, ticket=ticket, actor=actor)
    session.flush()
    return ticket


# The audit event of a ticket held for the operator (auto_dispatch).
HOLD_EVENT = "held_for_confirmation"


def auto_dispatch(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor) -> bool:
    """Dispatch by the rule table; with no matching rule or unit, leave the ticket in the
    manual queue (status accepted/returned) and say so in the audit trail. A ticket whose
    words say too little (``queries.is_held``) is held for the operator instead: a handler
    must not be sent a ticket nobody could act on; confirming it releases it."""
    if is_held(ticket):
        reason = held_reason(ticket)
        why = hearing.REASON_LABELS.get(reason or "", "诉求内容过少")
        record_event(session=session, ticket=ticket, actor=actor, action=HOLD_EVENT,
                     note=f"{why}，暂不派单：请话务员核实诉求后确认或更正分类",
                     data={"category": ticket.category, "district": ticket.district},
                     at=domain.now())
        return False
    rule = domain.rules.match(ticket.category, ticket.district)
    unit = _unit_by_code(session, rule.unit) if rule else None
    refused = receiver_refusal(unit, domain.settings.centre_units) if unit else None
    if rule is None or unit is None or refused:
        # Read by the operators on the console's trail: Mandarin, as every note (ux44: "no
        # dispatch rule matches" stood in the middle of a Mandarin line).
        why = ("没有匹配的派单规则" if rule is None
               else f"派单规则指定的单位{rule.unit}不存在" if unit is None
               else f"派单规则指定的单位{rule.unit}是热线中心本级，不承办工单")
        record_event(
            session=session,
            ticket=ticket,
            actor=actor,
            action="manual_queue",
            note=f"转人工派单：{why}",
            data={"category": ticket.category, "district": ticket.district},
            at=domain.now(),
        )
        return False
    dispatch(
        session=session,
        domain=domain,
        ticket=ticket,
        actor=actor,
        unit_id=unit.id,
        rule_id=rule.id,
    )
    return True


_UNIT_BY_CODE = select(Unit).where(Unit.code == bindparam("code"))

# Units are only ever inserted, never changed or deleted (ticketing.directory.add_unit is
# their one writer), so a unit stored once is that row for as long as the database lives:
# the dispatch rules' units are read once per engine, then put into each session as if
# loaded, without a SELECT per ticket. Only units a committed transaction read are kept (a
# unit added by a transaction that then rolls back never was). Absent units are not kept:
# one added later is found by the next ticket.
_UNITS: weakref.WeakKeyDictionary[Engine, dict[str, dict[str, Any]]] = (
    weakref.WeakKeyDictionary())
_UNITS_READ = "hotline_units_read"  # Session.info key: units this transaction read by code
_UNIT_COLUMNS = tuple(prop.key for prop in Unit.__mapper__.column_attrs)


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind  # type: ignore[return-value]


def _unit_by_code(session: Session, code: str) -> Unit | None:
    values = _UNITS.get(_engine_of(session), {}).get(code)
    if values is None:
        unit = session.scalars(_UNIT_BY_CODE, {"code": code}).first()
        if unit is not None:
            session.info.setdefault(_UNITS_READ, {})[code] = {
                key: getattr(unit, key) for key in _UNIT_COLUMNS}
        return unit
    known = session.identity_map.get(session.identity_key(Unit, values["id"]))
    if known is not None:
        return known  # type: ignore[no-any-return]
    unit = Unit(**values)
    make_transient_to_detached(unit)  # as just loaded: nothing to write
    session.add(unit)
    return unit


@event.listens_for(Session, "after_commit")
def _keep_units_read(session: Session) -> None:
    if read := session.info.pop(_UNITS_READ, None):
        _UNITS.setdefault(_engine_of(session), {}).update(read)


@event.listens_for(Session, "after_soft_rollback")
def _drop_units_read(session: Session, _rolled_back: Any) -> None:
    session.info.pop(_UNITS_READ, None)


def on_duty_handler(*, session: Session, unit_id: int) -> User | None:
    """The unit's on-duty handler carrying the fewest open tickets (the lowest id of
    those tied: ``_least_loaded``, the one rule for every path). One statement reads the
    unit's handlers as plain rows with their loads; only the one chosen becomes a ``User``
    in the session (as if loaded: ``_handler_of``). In a transaction that counts its own
    picks (``count_handler_picks``) the rows are read once a unit, and each pick counts
    one more ticket for its handler in memory: the same handler a read per ticket would
    pick, the transaction's own dispatches being the only change meanwhile."""
    picks: dict[int, tuple[dict[int, int], dict[int, Any]]] | None = (
        session.info.get(_HANDLER_PICKS))
    read = None if picks is None else picks.get(unit_id)
    if read is None:
        rows = {row.id: row for row in _plain_rows(session, _ON_DUTY_LOADS,
                                                    {"unit_id": unit_id})}
        read = {handler_id: row.open_tickets for handler_id, row in rows.items()}, rows
        if picks is not None:
            picks[unit_id] = read
    loads, rows = read
    if not loads:
        return None
    chosen = _least_loaded(loads)
    if picks is not None:
        loads[chosen] += 1  # the ticket it is picked for, dispatched to it (``dispatch``)
    return _handler_of(session, rows[chosen])


def _handler_of(session: Session, row: Any) -> User:
    """The ``User`` of ``row`` (its columns as read by ``_ON_DUTY_LOADS``, in this
    transaction): the session's own if it holds it, else put into the session as loaded
    (as ``_unit_by_code`` does), without a SELECT of its own (review66: a get cost the
    lone filing a statement; loading every handler as a ``User`` cost a unit of 40 more)."""
    known = session.identity_map.get(session.identity_key(User, row.id))
    if known is not None:
        return known  # type: ignore[no-any-return]
    user = User(**{key: getattr(row, key) for key in _HANDLER_COLUMNS})
    make_transient_to_detached(user)  # as just loaded: nothing to write
    session.add(user)
    return user


def _least_loaded(loads: dict[int, int]) -> int:
    """Of handlers' ids and the open tickets each holds, the id auto-dispatch picks: the
    fewest open tickets, ties to the lowest id. The one rule (review66: it was an ORDER BY
    for a lone pick and a Python ``min`` for a group's)."""
    return min(loads, key=lambda handler_id: (loads[handler_id], handler_id))


# Session.info key: per unit id, its on-duty handlers' ids with the open tickets each holds,
# counting this transaction's picks (``on_duty_handler``); absent: a read a pick.
_HANDLER_PICKS = "hotline_handler_picks"


def count_handler_picks(session: Session) -> None:
    """``session``'s transaction files tickets one after another (a filing group of more
    than one, ticketing.group_commit): ``on_duty_handler`` reads each unit's handlers once
    and counts its picks in memory. Anything else that changes who holds what in it
    (``dispatch`` to a handler named, 改派, a savepoint rolled back) makes it read
    them again."""
    session.info.setdefault(_HANDLER_PICKS, {})


def _recount_handler_picks(session: Session) -> None:
    if _HANDLER_PICKS in session.info:
        session.info[_HANDLER_PICKS] = {}


@event.listens_for(Session, "after_soft_rollback")
def _picks_rolled_back(session: Session, _rolled_back: Any) -> None:
    # A savepoint's rollback takes back the dispatches counted since it began.
    _recount_handler_picks(session)


# The number of open tickets a handler holds (``on_duty_handler``'s rule).
_OPEN_TICKETS = (
    select(func.count(Ticket.id))
    .where(Ticket.handler_id == User.id, one_of(Ticket.status, values(ASSIGNED_STATUSES)))
    .scalar_subquery()
)

# Built once, as the other statements of the intake path: building costs more than running.
# The unit's on-duty handlers' columns and open tickets: plain rows, no ORM object
# (review66: a unit of 30-50 handlers was that many Users loaded a pick).
_HANDLER_COLUMNS = tuple(prop.key for prop in User.__mapper__.column_attrs)
_ON_DUTY_LOADS = (
    select(*(getattr(User, key) for key in _HANDLER_COLUMNS),
           _OPEN_TICKETS.label("open_tickets"))
    .where(
        # Who may hold one (ticketing.holders), then auto-dispatch's own preference: a
        # handler (not a supervisor) on duty.
        holders(bindparam("unit_id")),
        User.role == Role.HANDLER.value,
        User.on_duty.is_(True),
    )
)


def dispatch(
    *,
    session: Session,
    domain: Domain,
    ticket: Ticket,
    actor: Actor,
    unit_id: int,
    handler_id: int | None = None,
    rule_id: str | None = None,
    action: Action = Action.DISPATCH,
    reason: str | None = None,
) -> Ticket:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise InvalidInput("unit_id", f"unit {unit_id} does not exist")
    if refused := receiver_refusal(unit, domain.settings.centre_units):
        raise InvalidInput("unit_id", refused)
    # A handler named, or one who held the ticket: not a pick on_duty_handler counts; the
    # loads are read again once the ticket has moved (before, the one who held it stayed
    # one ticket too high: review66).
    recount = bool(handler_id) or ticket.handler_id is not None
    handler = session.get(User, handler_id) if handler_id else on_duty_handler(
        session=session, unit_id=unit_id
    )
    if handler_id and (refused := holder_refusal(handler, unit)):
        # The one rule the console's list and on_duty_handler read too (ticketing.holders):
        # the API took any of the unit's accounts, a disabled one until judge27.
        raise InvalidInput("handler_id", refused)
    if action == Action.REASSIGN:
        _allowed(ticket=ticket, actor=actor, action=action, reason=reason)
        if not may_send_to(session, actor, unit):
            raise InvalidInput("unit_id", f"unit {unit.code} is outside your units: 退单 "
                               "within its window, or the centre moves the ticket")
    now = domain.now()
    # The sign window the unit already has, kept unless the centre decides otherwise
    # (sign_window_kept): read before the ticket moves.
    kept = sign_window_kept(session=session, ticket=ticket, unit=unit, actor=actor)
    # The centre's 改派 within the unit opens a new sign window; the one it missed stays
    # missed (as for 驳回重办). Another unit's window is that unit's own, unless that unit
    # had the ticket before and missed its window then: back by 改派 via another unit, or by
    # 退单 and the centre's dispatch, it brings the miss with it (service.left_late).
    missed = ((action == Action.REASSIGN and ticket.unit_id == unit.id
               and missed_sign(ticket, now))
              or (ticket.unit_id != unit.id and unit.code in left_late(session, ticket)))
    _apply(
        session=session,
        ticket=ticket,
        actor=actor,
        action=action,
        now=now,
        reason=reason,
        data={
            "unit": unit.code,
            "handler": handler.username if handler else None,
            "rule": rule_id,
            **({MISSED_SIGN: True} if missed else {}),
            **({SIGN_KEPT: kept.isoformat()} if kept is not None else {}),
            **leaving(ticket, now),
        },
    )
    ticket.unit_id = unit.id
    ticket.unit = unit
    ticket.handler_id = handler.id if handler else None
    ticket.handler = handler  # already loaded: the answer need not load it again
    ticket.dispatched_at = now
    if recount:
        _recount_handler_picks(session)
    if kept is None:
        open_sign_window(session=session, domain=domain, ticket=ticket, now=now)
    else:
        ticket.sign_due_at = kept  # the same wait goes on: ``escalated`` stands too
    ticket.signed_at = None
    from ticketing import merging  # builds on this module

    merging.follow_primary(session=session, primary=ticket, actor=actor, now=now)
    session.flush()
    return ticket


# The handler's SMS of a held sign window (outbound plans it for the window's opening).
SIGN_WINDOW_HELD_EVENT = "dispatch_sms_postponed"


def open_sign_window(*, session: Session, domain: Domain, ticket: Ticket,
                     now: datetime) -> None:
    """A new 签收 window for the handler. It opens when the dispatch SMS reaches them: now,
    or for a ticket held by staff quiet hours (quiet.staff_quiet_until, the rule that holds
    催办) at their end, so the reminder call (outbound, before the window ends) never asks
    for a sign of an SMS not yet sent, and a sign in the morning is on time. Audited."""
    window = timedelta(seconds=domain.settings.deadlines.sign_window_seconds)
    held = staff_quiet_until(domain, ticket, now)
    ticket.sign_due_at = (held or now) + window
    # Every new window (a dispatch, the centre's 改派, 驳回重办, a split to another unit:
    # sign_window_kept) starts its clock here: ``escalated`` says whether the wait now
    # running was escalated; an earlier wait's miss stays in the trail.
    ticket.escalated = False
    if held is None:
        return
    o = domain.settings.outbound
    at = held.astimezone(domain.tz).strftime("%m月%d日%H:%M")
    due = ticket.sign_due_at.astimezone(domain.tz).strftime("%m月%d日%H:%M")
    record_event(session=session, ticket=ticket, actor=Actor.system("quiet_hours"),
                 action=SIGN_WINDOW_HELD_EVENT,
                 note=(f"夜间免打扰（{o.staff_quiet_start}–{o.staff_quiet_end}）：派单短信"
                       f"顺延至{at}，签收时限随之顺延至{due}"),
                 data={"until": held.isoformat(), "sign_due_at": ticket.sign_due_at.isoformat()},
                 at=now)


def reassign(
    *,
    session: Session,
    domain: Domain,
    ticket: Ticket,
    actor: Actor,
    unit_id: int,
    handler_id: int | None = None,
    reason: str | None = None,
) -> Ticket:
    return dispatch(
        session=session,
        domain=domain,
        ticket=ticket,
        actor=actor,
        unit_id=unit_id,
        handler_id=handler_id,
        action=Action.REASSIGN,
        reason=reason,
    )


def sign(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, via: str = "api"
) -> Ticket:
    """签收. A handler who signs takes the ticket; ``via`` says how (api, keypad, web)."""
    now = domain.now()
    _apply(
        session=session, ticket=ticket, actor=actor, action=Action.SIGN, now=now,
        data={"via": via},
    )
    ticket.signed_at = now
    if actor.role == Role.HANDLER and actor.id is not None:
        ticket.handler_id = actor.id
    session.flush()
    return ticket


# The handler's structured answer: what came of the demand. Anything but "resolved" says why.
REPLY_OUTCOMES: dict[str, str] = {
    "resolved": "已解决",
    "partly": "部分解决",
    "unresolvable": "无法解决",
}


def reply(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, text: str,
    outcome: str, reason: str | None = None,
) -> Ticket:
    """反馈: the handler's answer with its structured outcome, then 核实 by the hotline —
    unless the ticket's category skips it (settings.verification), when the system closes
    it at once."""
    if not has_text(text):
        raise InvalidInput("text", "a reply needs text")
    if outcome not in REPLY_OUTCOMES:
        raise InvalidInput("outcome", f"outcome must be one of {', '.join(REPLY_OUTCOMES)}")
    reason = (reason or "").strip() or None
    if outcome != "resolved" and not has_text(reason):
        raise InvalidInput("reason", f"a {outcome} answer needs the reason why")
    # Files uploaded for this reply (ticketing.attachments) go with its event.
    pending = list(session.scalars(
        select(ReplyAttachment).where(ReplyAttachment.ticket_id == ticket.id,
                                      ReplyAttachment.event_id.is_(None))
        .order_by(ReplyAttachment.id)))
    if not pending and ticket.category in domain.settings.attachments.required_categories:
        # The evidence whose absence would cost the unit 资料不全 (ticketing.points).
        raise InvalidInput("attachment", f"a reply on a {ticket.category} ticket needs a "
                           "photo or document attached")
    now = domain.now()
    _apply(session=session, ticket=ticket, actor=actor, action=Action.REPLY, now=now,
           reason=text, data={"outcome": outcome, "why": reason,
                              **({"attachments": [a.id for a in pending]} if pending else {})})
    if pending:
        session.flush()
        event_id = session.scalar(
            select(func.max(TicketEvent.id)).where(TicketEvent.ticket_id == ticket.id,
                                                   TicketEvent.action == Action.REPLY.value))
        for att in pending:
            att.event_id = event_id
    ticket.reply_text = text.strip()
    ticket.reply_outcome = outcome
    ticket.reply_reason = reason if outcome != "resolved" else None
    ticket.replied_at = now
    if ticket.category in domain.settings.verification.skip_categories:
        close(session=session, domain=domain, ticket=ticket,
              actor=Actor.system("verification"), note="该类别免核实，反馈即办结")
    session.flush()
    return ticket


def close(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, note: str | None = None
) -> Ticket:
    """核实办结: an operator or supervisor found the handler's answer true and closes.
    核实 is someone else's check: whoever gave the answer (a supervisor may sign and reply
    for their units) may not verify it, as a handler never closes their own ticket. The
    caller's transaction is rolled back on a refusal all the same."""
    now = domain.now()
    # Refused before anything changes: the ticket and its trail stay as they were even if
    # the caller went on to commit. The table's refusals come first, as for any action.
    _allowed(ticket=ticket, actor=actor, action=Action.CLOSE, reason=note)
    if gave_the_answer(session=session, ticket=ticket, actor=actor):
        raise PermissionDenied(
            actor.role, Action.CLOSE,
            "whoever gave the answer may not verify it; another operator or supervisor closes it",
            "这条答复由您本人作出，不能由您核实办结；请由话务员或其他督办员核实。")
    _apply(session=session, ticket=ticket, actor=actor, action=Action.CLOSE, now=now, reason=note,
           data={"outcome": ticket.reply_outcome})
    ticket.closed_at = now
    # 并单: the tickets merged into this one are closed with its answer. Imported here:
    # merging builds on this module.
    from ticketing import merging

    merging.close_members(session=session, domain=domain, primary=ticket, actor=actor)
    session.flush()
    return ticket


def retitled(subject: str, was: str, now: str) -> str:
    """A generated title (classify._subject leads with the category's label) under the
    category ``now`` instead of ``was``, or else ``subject`` as it is: the list and the
    export would name the ticket by a category it does not have. One rule for a correction
    and for a category typed at filing over the rules' guess (trial55: a gas smell filed
    as 社会治安 was titled "燃气：…")."""
    old_label = f"{category_label(was)}："
    if now == was or not subject.startswith(old_label):
        return subject
    return f"{category_label(now)}：{subject.removeprefix(old_label)}"[:128]


def gave_the_answer(*, session: Session, ticket: Ticket, actor: Actor) -> bool:
    """Whether ``actor`` gave the ticket's latest answer (反馈), which they may then not
    verify (``close``); the console offers them no 核实办结 either."""
    replied_by = session.scalars(
        select(TicketEvent.actor_id).where(TicketEvent.ticket_id == ticket.id,
                                           TicketEvent.action == Action.REPLY.value)
        .order_by(TicketEvent.id.desc()).limit(1)).first()
    return actor.id is not None and replied_by == actor.id


def answer(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, text: str,
    data: dict[str, Any] | None = None,
) -> Ticket:
    """直接答复: the caller's question answered at intake (``data`` names the source, e.g. a
    knowledge entry and its version); closed without a unit, counted apart (直办率)."""
    now = domain.now()
    _apply(session=session, ticket=ticket, actor=actor, action=Action.ANSWER, now=now,
           data=data)
    ticket.reply_text = clean_text(text, field="text", multiline=True)
    ticket.accepted_at = ticket.replied_at = ticket.closed_at = now
    session.flush()
    return ticket


def send_back(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, reason: str
) -> Ticket:
    """核实退回: the answer does not hold (not done, not true, no evidence); the handler
    works on and replies again. The deadline stands."""
    _apply(session=session, ticket=ticket, actor=actor, action=Action.SEND_BACK,
           now=domain.now(), reason=reason)
    ticket.replied_at = None
    session.flush()
    return ticket


def return_ticket(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, reason: str
) -> Ticket:
    """退单 (not our jurisdiction): back to the dispatch queue, unit cleared. Only within
    :func:`return_deadline`; the caller's transaction is to be rolled back on the refusal."""
    now = domain.now()
    last = return_deadline(session=session, domain=domain, ticket=ticket)
    _apply(  # the table's refusals (state, role, reason) come before the window's
        session=session, ticket=ticket, actor=actor, action=Action.RETURN, now=now, reason=reason,
        data={"unit": ticket.unit.code if ticket.unit else None, **leaving(ticket, now)},
    )
    if last is not None and now > last:
        raise StateConflict("return_window", f"the 退单 window closed at {last.isoformat()}; "
                           "only the centre can move the ticket now (改派)")
    ticket.unit_id = None
    ticket.unit = None
    ticket.handler_id = None
    ticket.sign_due_at = None
    # The queue's clock starts again here (queries.queued_since): a flag left by an earlier
    # wait kept scheduled.escalate_waiting_utilities from this one (mend84).
    ticket.escalated = False
    from ticketing import merging  # builds on this module

    # Its merged tickets go back to the queue with it: the unit said none of it is theirs.
    merging.follow_primary(session=session, primary=ticket, actor=actor, now=now)
    session.flush()
    return ticket


def return_deadline(*, session: Session, domain: Domain, ticket: Ticket) -> datetime | None:
    """The last moment the ticket's unit may 退单 it: ``return_window_hours`` after it reached
    the unit, and never past its deadline. None when it is at no unit.

    "Reached" is read from the audit trail, not from ``dispatched_at``: a 改派 within the
    same unit (which may open a new sign window) must not open a new 退单 window. A ticket
    held by staff quiet hours reaches the unit when they end, as its dispatch SMS does. A
    merged ticket that followed its primary to another unit reaches it at the 拆单 (a new
    dispatch there: merging.unmerge names the unit on its event; older ones name none)."""
    unit: object = None
    reached: datetime | None = None
    moves = session.execute(
        select(TicketEvent.at, TicketEvent.action, TicketEvent.data)
        .where(TicketEvent.ticket_id == ticket.id,
               TicketEvent.action.in_((*_UNIT_MOVES, Action.UNMERGE.value)))
        .order_by(TicketEvent.id)
    ).all()
    for at, action, data in moves:
        data = data if isinstance(data, dict) else {}
        if action == Action.UNMERGE.value and "unit" not in data:
            continue
        to = None if action == Action.RETURN.value else data.get("unit")
        if to != unit:
            unit, reached = to, at
    if unit is None or reached is None:
        return None
    reached = staff_quiet_until(domain, ticket, reached) or reached
    last = reached + timedelta(hours=domain.settings.deadlines.return_window_hours)
    return min(last, ticket.due_at) if ticket.due_at is not None else last


# The steps that move a ticket to a unit or away from it (return_deadline).
_UNIT_MOVES = (Action.DISPATCH.value, Action.REASSIGN.value, Action.RETURN.value)


def exclude(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, reason: str
) -> Ticket:
    """剔除: an unreasonable demand; kept, audited, and left out of the rates."""
    from ticketing import merging  # builds on this module

    _allowed(ticket=ticket, actor=actor, action=Action.EXCLUDE, reason=reason)
    if not actor.decides_exclusions:  # a district's own units' ticket
        centre = ", ".join(domain.settings.centre_units)
        raise PermissionDenied(
            actor.role, Action.EXCLUDE,
            "only the centre decides a 剔除: an admin or a supervisor of a centre unit "
            f"(centre_units: {centre}); a unit's supervisor may deny a 申请剔除",
            "剔除由热线中心决定（管理员或中心督办员）；承办单位的督办员可以驳回剔除申请。")
    merging.refuse_exclusion(session=session, ticket=ticket)
    requested = (ticket.exclusion_reason, ticket.exclusion_text) if (
        ticket.status == Status.EXCLUSION_REQUESTED.value) else (None, None)
    _apply(
        session=session, ticket=ticket, actor=actor, action=Action.EXCLUDE, now=domain.now(),
        reason=reason,
    )
    # The decision's grounds on the ticket, not on its trail alone (trial55): read by the
    # API, the CSV and the citizen's 剔除 SMS alike (``excluded_for``).
    ticket.exclusion_reason, ticket.exclusion_text = excluded_for(
        said=reason, requested=requested,
        listed=domain.settings.verification.exclusion_reasons)
    session.flush()
    return ticket


def excluded_for(*, said: str, requested: tuple[str | None, str | None],
                 listed: list[str]) -> tuple[str | None, str | None]:
    """Why a 剔除 was made, as (listed reason, words): the centre's, where its words begin
    with one of ``listed`` ("非本市事项：事发地在河北省"); else the 申请剔除 it granted
    (``requested``, the handler's reason and words, "同意" adding nothing); else no listed
    reason and the centre's own words."""
    said = said.strip()
    for reason in listed:
        if said.startswith(reason):
            return reason, said.removeprefix(reason).lstrip("：:，, ").strip() or None
    if requested[0] in listed:
        return requested
    return None, said or None


def request_exclusion(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, reason: str, text: str
) -> Ticket:
    """申请剔除: the handler names a reason from settings.verification.exclusion_reasons and
    explains; the ticket waits for a supervisor (exclude, or deny_exclusion)."""
    allowed = domain.settings.verification.exclusion_reasons
    if reason not in allowed:
        raise InvalidInput("reason", f"reason must be one of {', '.join(allowed)}")
    text = (text or "").strip()
    if not has_text(text):
        raise InvalidInput("text", "say why the demand should be excluded")
    _apply(session=session, ticket=ticket, actor=actor, action=Action.REQUEST_EXCLUSION,
           now=domain.now(), reason=f"{reason}：{text}", data={"reason": reason})
    ticket.exclusion_reason = reason
    ticket.exclusion_text = text
    session.flush()
    return ticket


def deny_exclusion(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, reason: str
) -> Ticket:
    """The supervisor does not agree: the handler goes on handling it."""
    _apply(session=session, ticket=ticket, actor=actor, action=Action.DENY_EXCLUSION,
           now=domain.now(), reason=reason)
    session.flush()
    return ticket


# What a closure round missed, kept on its 驳回重办 event (and a missed sign window on a 改派
# within the unit): the redo gets new deadlines, and without these a unit (or its
# supervisor) could reopen a late ticket and close it again in time to turn it into an
# on-time one (ticketing.reports.loop_counts reads them).
MISSED_SIGN, MISSED_REPLY, MISSED_CLOSE = "late_sign", "late_reply", "late_close"


def _late(met: datetime | None, due: datetime | None, now: datetime) -> bool:
    """A deadline missed by ``now``: met after it, or not met and passed."""
    return due is not None and (met > due if met else passed(due, now))


def missed_sign(ticket: Ticket, now: datetime) -> bool:
    """Whether the ticket's current sign window was missed: signed (by its present unit:
    ``present_sign``) after it, or not signed and it has passed."""
    return _late(present_sign(ticket), ticket.sign_due_at, now)


# On a 派单/改派/退单 event, or a merged ticket's following its primary: the unit the
# ticket left with its sign window missed, and (mend89) the unit it left with its 反馈 or
# 办结 deadline missed. The figures charge each miss to the unit named
# (reports.loop_counts), not to the unit the ticket is at now.
LEFT_LATE_SIGN = "left_late_sign"
LEFT_LATE_REPLY, LEFT_LATE_CLOSE = "left_late_reply", "left_late_close"
# On the same events: the unit the ticket left before anyone there signed it, and the
# sign-by time it had there ({"unit": code, "due": ISO time}): kept if it comes back.
LEFT_SIGN = "left_sign"
# ... and the unit it left signed (its code): a window it had before is answered, so it
# gets a new one if the ticket comes back (sign_window_kept; mend89: it got the old one
# back, long gone, its handler asked to sign at once and its sign counted late).
LEFT_SIGNED = "left_signed"
# On a 改派 event: the sign-by time the ticket kept (no new window opened).
SIGN_KEPT = "sign_kept"


def leaving(ticket: Ticket, now: datetime) -> dict[str, Any]:
    """Event data on a ticket leaving its unit (``LEFT_LATE_SIGN``, ``LEFT_LATE_REPLY``,
    ``LEFT_LATE_CLOSE``, ``LEFT_SIGN`` or ``LEFT_SIGNED``)."""
    if ticket.unit is None:
        return {}
    data: dict[str, Any] = {}
    if missed_sign(ticket, now):
        data[LEFT_LATE_SIGN] = ticket.unit.code
    if _late(ticket.replied_at, ticket.due_at, now):
        data[LEFT_LATE_REPLY] = ticket.unit.code
    if _late(ticket.done_at, ticket.due_at, now):
        data[LEFT_LATE_CLOSE] = ticket.unit.code
    if signed_at_its_unit(ticket):
        data[LEFT_SIGNED] = ticket.unit.code
    elif ticket.sign_due_at is not None:
        data[LEFT_SIGN] = {"unit": ticket.unit.code, "due": ticket.sign_due_at.isoformat()}
    return data


def present_sign(ticket: Ticket) -> datetime | None:
    """When the ticket's present unit signed it (签收), None when it has not: the one rule
    every reading of a sign window goes by (``missed_sign``, ``signed_at_its_unit``,
    ``sign_window_kept``, and as SQL ``present_sign_sql`` for the response figure). A
    merged ticket that followed its primary to another unit keeps the sign of the unit it
    was merged at (``signed_at``, shown on the ticket; merging.follow_primary drops its
    handler, and 拆单 has it signed again where it is): the units it passes with its
    primary never signed it. Read as theirs, a follow from a unit that had it unsigned
    earlier in the round named it ``LEFT_SIGNED`` and 拆单 there opened that unit a new
    window, its miss gone (review92); and its time, read against the window it came back
    to, made a window passed unsigned "not missed" and "signed in time" (mend90). Closed
    with its primary, the same: in the group still (``merged_into_id``), its handler still
    dropped; read by the ``merged`` status alone, the group's closure gave the unit it had
    followed to the old sign, its passed window "signed in time" (review100)."""
    if ticket.merged_into_id is not None and ticket.handler_id is None:
        return None
    return ticket.signed_at


def present_sign_sql() -> Any:
    """``present_sign`` as an SQL expression on Ticket."""
    return case((and_(Ticket.merged_into_id.is_not(None), Ticket.handler_id.is_(None)),
                 null()), else_=Ticket.signed_at)


def signed_at_its_unit(ticket: Ticket) -> bool:
    """Whether the ticket's 签收 is its present unit's (``present_sign``)."""
    return present_sign(ticket) is not None


def leavings() -> tuple[str, ...]:
    """The events that can take a ticket away from a unit and carry ``leaving``'s data."""
    from ticketing import merging  # builds on this module

    return (*_UNIT_MOVES, merging.FOLLOW_EVENT)


def left_late(session: Session, ticket: Ticket) -> set[str]:
    """The units that had the ticket and let it go with their sign window missed: one that
    gets it back is not signed in time (service.dispatch)."""
    if ticket.dispatched_at is None:  # never at a unit (filing: nothing to read, or flush)
        return set()
    return {code for (data,) in session.execute(
        select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id,
                                       TicketEvent.action.in_(leavings())))
            if isinstance(data, dict) and isinstance(code := data.get(LEFT_LATE_SIGN), str)}


def sign_window_kept(*, session: Session, ticket: Ticket, unit: Unit | None,
                     actor: Actor | None) -> datetime | None:
    """The sign-by time ``unit`` keeps for ``ticket`` coming to it now (a 派单 or 改派 by
    ``actor``; a 拆单 or a merged ticket following its primary, ``actor`` None), or None
    when a new sign window opens (open_sign_window). The one rule of when a unit's 签收
    clock starts again (docs/metrics.md, "A unit's sign window"):

    - the centre's 派单 or 改派 (``Actor.of_the_centre``) opens a new window, its decision
      on the event (a window missed before stays missed: ``missed_sign``, ``left_late``);
    - otherwise a unit that has the ticket unsigned keeps the window it has (改派 within the
      unit by its district's supervisor, 拆单 back to it: the time merged is not given
      back), and one that had it unsigned earlier in the round (since the last 驳回重办)
      gets back the window it had then (``LEFT_SIGN``), passed or not: sending a ticket
      away and back, or merging and splitting it, never restarts a unit's clock;
    - a unit new to the ticket in the round, or one that signed it before (its last
      leaving ``LEFT_SIGNED``), gets a new window (a split to another unit is a new
      dispatch there)."""
    if unit is None or (actor is not None and actor.of_the_centre):
        return None
    if ticket.unit_id == unit.id:
        return ticket.sign_due_at if present_sign(ticket) is None else None
    if ticket.dispatched_at is None:  # never at a unit: nothing to read (the intake path)
        return None
    kept: object = None
    for action, data in session.execute(
            select(TicketEvent.action, TicketEvent.data)
            .where(TicketEvent.ticket_id == ticket.id,
                   TicketEvent.action.in_((Action.REJECT.value, *leavings())))
            .order_by(TicketEvent.id)):
        if action == Action.REJECT.value:
            kept = None  # a new round: the windows of the one before are over
            continue
        if not isinstance(data, dict):
            continue
        left = data.get(LEFT_SIGN)
        if isinstance(left, dict) and left.get("unit") == unit.code:
            kept = left.get("due")
        elif data.get(LEFT_SIGNED) == unit.code:
            kept = None  # its window then was answered: an earlier one is over
    return datetime.fromisoformat(kept) if isinstance(kept, str) else None


def missed_in_round(ticket: Ticket, now: datetime) -> dict[str, bool]:
    """The deadlines the ticket's current (closed) round missed, as REJECT event data."""
    missed = {
        MISSED_SIGN: missed_sign(ticket, now),
        MISSED_REPLY: ticket.due_at is not None
        and (ticket.replied_at is None or ticket.replied_at > ticket.due_at),
        MISSED_CLOSE: ticket.due_at is not None and ticket.done_at is not None
        and ticket.done_at > ticket.due_at,
    }
    return {k: True for k, v in missed.items() if v}


def reject_redo(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, reason: str
) -> Ticket:
    """驳回重办: the closed ticket goes back to its handler with a new deadline; its next
    closure gets a new satisfaction survey."""
    now = domain.now()
    missed: dict[str, Any] = dict(missed_in_round(ticket, now))
    if missed and ticket.unit is not None:
        # Whose round missed them: the figures charge that unit, wherever the redo goes.
        missed["unit"] = ticket.unit.code
    _apply(
        session=session, ticket=ticket, actor=actor, action=Action.REJECT, now=now, reason=reason,
        data=missed or None,
    )
    ticket.redo_count += 1
    ticket.dispatched_at = now
    open_sign_window(session=session, domain=domain, ticket=ticket, now=now)
    ticket.signed_at = None
    ticket.replied_at = None
    ticket.closed_at = None
    ticket.due_at = round_due(domain=domain, urgency=ticket.urgency, started=now, redo=True)
    from ticketing import merging  # builds on this module

    merging.reopen_members(session=session, domain=domain, primary=ticket)
    session.flush()
    return ticket


def archive(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, note: str | None = None
) -> Ticket:
    """归档: the loop is over for this ticket."""
    _apply(session=session, ticket=ticket, actor=actor, action=Action.ARCHIVE, now=domain.now(),
           reason=note)
    session.flush()
    return ticket


def survey_score(resolved: bool, satisfied: bool) -> float:
    """Both yes +1, one no −0.5, both no −1."""
    if resolved and satisfied:
        return 1.0
    if not resolved and not satisfied:
        return -1.0
    return -0.5


def answered_by(session: Session, ticket: Ticket) -> int | None:
    """The handler whose answer closed the ticket's current round (the verdict's, for
    ticketing.points): the author of its last 反馈, any handler of the unit, not whoever
    held or signed it; None for a supervisor's answer, or one closed with its primary
    (并单: the group's answer is the primary's). Migration 0029's ``_rounds`` reads the
    trail the same way."""
    last = session.execute(
        select(TicketEvent.action, TicketEvent.actor_id, TicketEvent.role)
        .where(TicketEvent.ticket_id == ticket.id,
               TicketEvent.action.in_((Action.REPLY.value, Action.CLOSE_MERGED.value)))
        .order_by(TicketEvent.id.desc()).limit(1)).first()
    if last is None or last.action != Action.REPLY.value or last.role != Role.HANDLER.value:
        return None
    return last.actor_id


def record_survey(
    *,
    session: Session,
    domain: Domain,
    ticket: Ticket,
    actor: Actor,
    resolved: bool,
    satisfied: bool,
    keys: str | None = None,
    call_ref: str | None = None,
) -> SurveyResult:
    """Store the citizen's answer for the current closure (only one per closure)."""
    existing = session.scalars(
        select(SurveyResult).where(
            SurveyResult.ticket_id == ticket.id,
            SurveyResult.closure_round == ticket.redo_count,
        )
    ).first()
    if existing is not None and existing.outcome == "answered":
        raise StateConflict("ticket", f"ticket {ticket.number} already surveyed for this closure")
    if actor.role != Role.SYSTEM:
        _allowed(ticket=ticket, actor=actor, action=Action.SURVEY, reason=None)
        from ticketing import merging  # builds on this module

        # The centre keys in what a citizen said on a callback: only where the survey call
        # and SMS would have asked someone (merging.survey_phone). A merged ticket's group
        # answers once, on its primary; a withheld number or "no callback" leaves nobody
        # to have answered, nor does a staff member's number (ticketing.staff_phones). The
        # system's own paths were routed by the same rule; an answer
        # already given on a call stands if the citizen asks for no callback meanwhile.
        if merging.survey_phone(session=session, ticket=ticket) is None:
            raise StateConflict("ticket", f"ticket {ticket.number} has nobody to survey "
                               "(merged into another ticket's group, a withheld number, "
                               "the caller asked for no callback, or filed from a staff "
                               "member's number)")
    score = survey_score(resolved, satisfied)
    now = domain.now()
    _apply(
        session=session, ticket=ticket, actor=actor, action=Action.SURVEY, now=now,
        data={"resolved": resolved, "satisfied": satisfied, "score": score, "keys": keys},
    )
    result = existing or SurveyResult(ticket_id=ticket.id, closure_round=ticket.redo_count)
    result.outcome = "answered"
    result.resolved = resolved
    result.satisfied = satisfied
    result.score = score
    result.keys = keys
    result.reply_outcome = ticket.reply_outcome
    result.unit_id = ticket.unit_id
    result.handler_id = answered_by(session, ticket)
    result.call_ref = call_ref
    result.at = now
    session.add(result)
    session.flush()
    return result


def record_unreachable(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, call_ref: str | None = None
) -> SurveyResult:
    """The citizen could not be reached: recorded, and not counted as dissatisfied."""
    now = domain.now()
    result = SurveyResult(
        ticket_id=ticket.id,
        closure_round=ticket.redo_count,
        outcome="unreachable",
        call_ref=call_ref,
        at=now,
    )
    session.add(result)
    record_event(
        session=session, ticket=ticket, actor=actor, action="survey_unreachable",
        note="回访未接通", at=now,
    )
    session.flush()
    return result


TRANSCRIPT_PENDING = "（录音待转写）"
# A caller who keyed 0 when no operator took the call, with no words understood: the
# centre's operators call back. Classified, this fixed sentence went to whatever unit the
# model made of it (the shipped model: the power company, 0.58, dispatched unflagged),
# and every such caller with it (judge31).
CALLBACK_REQUESTED = "市民来电要求人工服务，坐席未接通，请回电。"
_PLACEHOLDERS = frozenset({TRANSCRIPT_PENDING, CALLBACK_REQUESTED})


def is_placeholder(text: str) -> bool:
    """The service's own words in a demand's place, never the caller's: no rule, model or
    respondent list may read them."""
    return text.strip() in _PLACEHOLDERS


TRANSCRIBED_EVENT = "transcribed"


def _words_reclassify(ticket: Ticket) -> bool:
    """Whether late words (``attach_transcript``) still classify and dispatch ``ticket``:
    only while it waits for its first dispatch. Once a unit had it (dispatched, then
    returned or not), or it was set aside or merged, what was set stands."""
    return Status(ticket.status) in UNDISPATCHED_STATUSES and not ticket.unit_id


def words_pending(ticket: Ticket) -> bool:
    """Filed from a call before its words were known: its category, urgency and deadline
    are placeholders until ``attach_transcript``, so nobody is promised that deadline.
    Not once the words can move nothing (``_words_reclassify``): an operator who listened
    to the recording dispatched it (trial47; the status page read 录音转写后确定 on a closed
    ticket), and the unit's 退单 did not make it pending again (review134)."""
    return ticket.demand == TRANSCRIPT_PENDING and _words_reclassify(ticket)


def words_coming(*, session: Session, ticket: Ticket) -> bool:
    """Its words pending and the backlog not yet through with its recording (no
    ``attach_transcript``: one that found no words leaves them pending for good)."""
    return words_pending(ticket) and session.scalars(select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.action == TRANSCRIBED_EVENT)
        .limit(1)).first() is None


def attach_transcript(
    *,
    session: Session,
    domain: Domain,
    ticket: Ticket,
    actor: Actor,
    text: str,
    meta: dict[str, Any] | None = None,
) -> Ticket:
    """Give a ticket the transcript of its recording when it arrives late (ASR backlog).

    A ticket still waiting in the manual queue is classified again from the words and
    dispatched by the rules; a ticket already with a handler keeps its unit.
    """
    now = domain.now()
    # Passed over by the 重复诉求 look-up while a placeholder stood for its words.
    unjudged = is_placeholder(ticket.demand or "")
    ticket.transcript = text
    ticket.transcript_meta = meta
    if not ticket.demand or is_placeholder(ticket.demand):
        # Any placeholder gives way to the caller's words; with none found, a callback
        # request's note stays (the centre still owes the call back), review80.
        ticket.demand = text or ticket.demand or TRANSCRIPT_PENDING
    record_event(session=session, ticket=ticket, actor=actor, action=TRANSCRIBED_EVENT,
                 note=None, data={"chars": len(text)}, at=now)
    if text and _words_reclassify(ticket):
        guess = _heard(domain, domain.understand(text), text, meta)
        ticket.category, ticket.urgency = guess.category, guess.urgency
        ticket.sub_category = guess.sub_category
        ticket.kind, ticket.emergency = guess.kind, guess.emergency
        ticket.needs_confirmation = guess.needs_confirmation
        ticket.classification_confidence = _lowest(guess.confidence)
        ticket.classification = guess.as_record()
        ticket.district = ticket.district or guess.district
        ticket.address = ticket.address or guess.address
        ticket.subject = guess.subject[:128]
        # Only an empty one: an operator's respondent outranks the rules.
        ticket.respondent = ticket.respondent or _respondent_of(domain, text)
        _place(domain, ticket)
        if unjudged:
            _link_once_heard(session=session, domain=domain, ticket=ticket, actor=actor,
                             now=now)
        _reapply_classification(session=session, domain=domain, ticket=ticket, actor=actor)
        supervision.on_ticket(session=session, domain=domain, ticket=ticket, actor=actor)
    session.flush()
    return ticket


def _link_once_heard(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor,
                     now: datetime) -> None:
    """The 重复诉求 look-up ``create_ticket`` made for a ticket filed before its words were
    known, made now that they classified it (review99: a caller's second call about the
    same burst pipe was never linked once its words came). The same rule
    (``_duplicate_of``); run once, as the placeholder gives way, so a backlog retry links
    and counts nothing twice. Not for a ticket already in a link either way (a 重新录音
    gave its words back: ``ivr.intake``), which would make a chain."""
    if ticket.duplicate_of_id is not None or ticket.duplicate_count:
        return
    original = _duplicate_of(session=session, domain=domain, ticket=ticket)
    if original is not None:
        ticket.duplicate_of_id = original.id
        _count_duplicate(session=session, ticket=ticket, original=original, actor=actor,
                         now=now)


def _heard(domain: Domain, guess: Understanding, text: str,
           meta: dict[str, Any] | None) -> Understanding:
    """``guess`` of a recogniser's transcript, held for an operator when the transcript is
    not to be trusted (``ticketing.hearing``; an emergency or a rule's urgent cue still
    goes: review82, a gas leak heard at 0.4 was held, as too_little never holds one)."""
    reason = hearing.unheard(text, meta, trust_below=domain.settings.transcript_trust_below)
    cued = reason is not None and classify(text, domain.classification).urgency == "urgent"
    return hearing.held_if_unheard(guess, reason, urgent_cue=cued)


def _lowest(confidence: dict[str, float]) -> float | None:
    return min(confidence.values()) if confidence else None


def _reapply_classification(*, session: Session, domain: Domain, ticket: Ticket,
                            actor: Actor) -> None:
    """New deadline, and the dispatch rules again, for a ticket never dispatched yet: its
    deadline is not a unit's yet (one dispatched has ``reclassified_due``)."""
    if ticket.due_at is None or ticket.closed_at is not None:
        return  # a draft gets its deadline when accepted; a closed ticket keeps its record
    ticket.due_at = round_due(domain=domain, urgency=ticket.urgency,
                              started=ticket.received_at)
    if ticket.status == Status.ACCEPTED.value and not ticket.unit_id:
        auto_dispatch(session=session, domain=domain, ticket=ticket, actor=actor)


def round_due(*, domain: Domain, urgency: str, started: datetime, redo: bool = False) -> datetime:
    """The deadline of a round of work of ``urgency`` that started at ``started``: the call,
    or the 驳回重办 (``redo``: a general one gets ``redo_working_days``)."""
    d = domain.settings.deadlines
    return due_at(urgency, started, settings=d, calendar=domain.calendar,
                  working_days=d.redo_working_days if redo else None)


def _round_started(*, session: Session, ticket: Ticket) -> tuple[datetime, bool]:
    """When the ticket's current round began (the call, or its latest 驳回重办) and whether
    it is a redo, read from the audit trail as ``missed_in_round`` reads the rounds."""
    if ticket.redo_count:
        at = session.scalars(
            select(TicketEvent.at).where(TicketEvent.ticket_id == ticket.id,
                                         TicketEvent.action == Action.REJECT.value)
            .order_by(TicketEvent.id.desc()).limit(1)).first()
        if at is not None:
            return at, True
    return ticket.received_at, False


def reclassified_due(*, session: Session, domain: Domain, ticket: Ticket,
                     now: datetime) -> dict[str, Any]:
    """The one rule for a dispatched ticket whose urgency is corrected (the deadline was
    set at dispatch by its kind; docs/metrics.md). The deadline becomes the new kind's for
    the current round, except that

    - a longer one is never given to a ticket whose deadline has passed (a late ticket is
      not rescued, by anyone); only the centre lowers a dispatched ticket's urgency at all
      (``confirm_classification``), so a longer one is the centre's;
    - a shorter one never falls before ``now`` plus the new kind's time, so a unit is not
      made late by time that passed before it was told, nor later than it was.

    Returns what the audit event records: the deadline before and after and, when it was
    kept, why (``late``)."""
    before = ticket.due_at
    started, redo = _round_started(session=session, ticket=ticket)
    wanted = round_due(domain=domain, urgency=ticket.urgency, started=started, redo=redo)
    kept: str | None = None
    if before is None:
        after = wanted
    elif wanted > before:
        kept = "late" if before <= now else None
        after = before if kept else wanted
    else:
        from_now = round_due(domain=domain, urgency=ticket.urgency, started=now, redo=redo)
        after = min(before, max(wanted, from_now))
    ticket.due_at = after
    return {"due_before": before.isoformat() if before else None,
            "due_after": after.isoformat(), **({"due_kept": kept} if kept else {})}


def lowers_urgency(before: str, after: str | None) -> bool:
    """Whether ``after`` is less urgent than ``before`` (``URGENCY_LEVELS`` is ordered most
    urgent first): the correction that could lengthen a unit's deadline."""
    return after is not None and URGENCY_LEVELS.index(after) > URGENCY_LEVELS.index(before)


CLASSIFICATION_FIELDS = ("category", "urgency", "kind", "emergency", "sub_category")
# Who may confirm or correct a classification (API and console alike): the intake side.
CLASSIFIER_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
CONFIRM_EVENT = "classification_confirmed"
CORRECT_EVENT = "classification_corrected"


def confirm_classification(
    *,
    session: Session,
    domain: Domain,
    ticket: Ticket,
    actor: Actor,
    category: str | None = None,
    urgency: str | None = None,
    kind: str | None = None,
    emergency: str | None = None,
    sub_category: str | None = None,
    reason: str | None = None,
) -> Ticket:
    """An operator confirms the classification (no values) or corrects some fields.

    Either way the 待确认 flag is cleared and an audited event records the before and after
    values: these events are the training data of ``hotline classify train
    --from-corrections``. Before dispatch a corrected urgency sets the deadline anew; after
    it, a lowered urgency needs a ``reason`` (a raised one never waits for one) and either
    moves the deadline only as ``reclassified_due`` allows (never rescuing a late ticket,
    never longer but by the centre). A corrected category of a ticket still waiting for a
    unit is dispatched by the rules again. An emergency is always urgent, so naming a
    service raises the urgency. ``sub_category``: None leaves it, "" clears
    it, a code sets it and must be one of the (new) category's; a category change clears a
    sub-category the new category does not have.
    """
    wanted = {
        "category": check_category(category) if category else None,
        "urgency": check_label("urgency", urgency) if urgency else None,
        "kind": check_label("kind", kind) if kind else None,
        "emergency": check_label("emergency", emergency) if emergency else None,
    }
    if (wanted["emergency"] or ticket.emergency) != "none" and not urgency:
        wanted["urgency"] = "urgent"
    category_after = wanted["category"] or ticket.category
    # Checked before anything changes: a refused pair leaves the ticket as it was.
    sub_after = (ticket.sub_category if sub_category is None
                 else check_sub_category(category_after, sub_category) if sub_category
                 else None)
    if sub_after is not None and not sub_category_in(category_after, sub_after):
        sub_after = None
    # Its deadline has been a unit's since dispatch (still so when 退单 put it back, and
    # once closed: 驳回重办 gives the redo its urgency's time, and the figures read it).
    dispatched = ticket.dispatched_at is not None
    regraded = (wanted["urgency"] or ticket.urgency) != ticket.urgency
    why = clean_text(reason, field="reason").strip() if reason else ""
    lowered = dispatched and regraded and lowers_urgency(ticket.urgency, wanted["urgency"])
    # Checked before anything changes, as above: a refusal leaves the ticket as it was.
    # Only a lowering (the deadline could lengthen) is the centre's and waits for a reason:
    # a district's supervisor acts on their own units' tickets, whose 按期办结率 a longer
    # deadline raises, and a 驳回重办 after a lowering would give the redo the lower
    # kind's time. An operator raising it (naming an emergency service) is never held up.
    if lowered and not actor.of_the_centre:
        raise InvalidInput("lowered_urgency", "a dispatched ticket's urgency is lowered by "
                                              "the centre only (it lengthens the unit's "
                                              "deadline)")
    if lowered and not has_text(why):  # a zero-width reason is none (inputs.has_text)
        raise InvalidInput("reason", "a dispatched ticket's urgency is lowered with a "
                                     "reason (it may lengthen the unit's deadline)")
    before = {f: getattr(ticket, f) for f in CLASSIFICATION_FIELDS}
    held = is_held(ticket)
    for name, value in wanted.items():
        if value is not None:
            setattr(ticket, name, value)
    ticket.sub_category = sub_after
    after = {f: getattr(ticket, f) for f in CLASSIFICATION_FIELDS}
    changed = after != before
    ticket.subject = retitled(ticket.subject, before["category"], after["category"])
    ticket.needs_confirmation = False
    now = domain.now()
    due: dict[str, Any] = {}
    if dispatched and regraded:
        # The deadline is a unit's since dispatch: one rule says how far it may move.
        # Who may move it is checked above (a lowering is the centre's, with a reason).
        due = reclassified_due(session=session, domain=domain, ticket=ticket, now=now)
    record_event(session=session, ticket=ticket, actor=actor,
                 action=CORRECT_EVENT if changed else CONFIRM_EVENT, note=why or None,
                 data={"before": before, "after": after, **due}, at=now)
    if dispatched:
        pass  # its unit stays; its deadline moved above, only as reclassified_due allows
    elif after["urgency"] != before["urgency"] or after["category"] != before["category"]:
        _reapply_classification(session=session, domain=domain, ticket=ticket, actor=actor)
    elif held:
        # The operator has looked at the words: the hold is over, dispatch by the rules
        # (a changed category or urgency was dispatched just above, once).
        auto_dispatch(session=session, domain=domain, ticket=ticket, actor=actor)
    session.flush()
    return ticket


# Who may set or correct the 反映主体 (API and console alike): those who correct the
# classification, the intake side.
RESPONDENT_ROLES = CLASSIFIER_ROLES
RESPONDENT_EVENT = "respondent_set"


def check_respondent(value: str | None) -> str | None:
    """``value`` as a 反映主体 may be stored: a name (inputs.clean_optional_name), no longer
    than the column; blank or invisible is None (not known)."""
    value = clean_optional_name(value, field="respondent")
    if value is None:
        return None
    if len(value) > RESPONDENT_MAX:
        raise InvalidInput("respondent", f"respondent is longer than {RESPONDENT_MAX} "
                                         "characters")
    return value


def set_respondent(
    *, session: Session, domain: Domain, ticket: Ticket, actor: Actor, respondent: str | None
) -> Ticket:
    """An operator sets, corrects or clears (None or blank) the 反映主体; audited with the
    before and after values, like a classification correction."""
    after = check_respondent(respondent)
    before = ticket.respondent
    if after == before:
        return ticket  # nothing changed: no event for a form sent back unchanged
    ticket.respondent = after
    record_event(session=session, ticket=ticket, actor=actor, action=RESPONDENT_EVENT,
                 data={"before": before, "after": after}, at=domain.now())
    session.flush()
    return ticket


def reviewed_classifications(*, session: Session) -> list[tuple[str, dict[str, str]]]:
    """(text, labels) of every ticket an operator confirmed or corrected, latest word wins."""
    rows = session.execute(
        select(Ticket.id, Ticket.demand, TicketEvent.data)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(TicketEvent.action.in_((CONFIRM_EVENT, CORRECT_EVENT)))
        .order_by(TicketEvent.id)
    ).all()
    latest: dict[int, tuple[str, dict[str, str]]] = {}
    for ticket_id, demand, data in rows:
        if demand and not is_placeholder(demand) and data and data.get("after"):
            # No sub-category is no label (events before sub-categories have none either);
            # a placeholder is no text to learn from (the category is of the words to come).
            latest[ticket_id] = (demand, {k: v for k, v in data["after"].items()
                                          if v is not None})
    return list(latest.values())


def is_utility(ticket: Ticket) -> bool:
    return ticket.category in UTILITY_CATEGORIES
