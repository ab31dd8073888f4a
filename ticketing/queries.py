"""Which tickets a user may see, what they may see of the caller, how tickets are found
and what "overdue" means: defined once, here, for the API, the console, the CLI and
/metrics alike. Two copies of a privacy rule drift apart, and the laxer one leaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, false, func, or_, select, true, type_coerce
from sqlalchemy.orm import Session, object_session

from ticketing.actors import Actor, mask_phone
from ticketing.classify import UTILITY_CATEGORIES
from ticketing.deadlines import Urgency, passed
from ticketing.inputs import InvalidInput, check_category, echoed
from ticketing.models import Ticket, TicketEvent, Unit, UTCDateTime
from ticketing.phones import SERVICE_NUMBER_DIGITS, ascii_digits, callback_number, normalise
from ticketing.states import AWAITING_DISPATCH_STATUSES, OPEN_STATUSES, Action, Role, Status, values

# A phone search by trailing digits needs this many, so it matches what a masked list
# shows (138****5678) without turning every short number into a search of the whole table.
MIN_PHONE_SUFFIX = 4

# Most pressing first: tickets without a deadline (drafts, the manual queue) last.
LISTING_ORDER = (Ticket.due_at.is_(None), Ticket.due_at, Ticket.id)


# --- scope -------------------------------------------------------------------------------


def scope_filter(actor: Actor) -> Any:
    """A WHERE clause limiting tickets to what ``actor`` may see."""
    return in_scope(actor, Ticket.unit_id)


def unit_scope(actor: Actor) -> Any:
    """A WHERE clause on Unit: the units whose tickets ``scope_filter`` shows ``actor``."""
    return in_scope(actor, Unit.id)


def in_scope(actor: Actor, unit_id: Any) -> Any:
    """The scope rule, once, on a column holding a unit's id: ``Ticket.unit_id`` for the
    tickets ``actor`` sees, ``Unit.id`` for the units they may send them to, the unit a
    figure charges a ticket to (reports.loop_counts). Who sees everything sees unit-less
    tickets (drafts, the manual queue) too."""
    if actor.sees_everything:
        return true()
    if actor.role == Role.HANDLER:
        return unit_id == actor.unit_id
    if actor.role == Role.SUPERVISOR and actor.unit_path:
        return unit_id.in_(select(Unit.id).where(Unit.path.startswith(actor.unit_path)))
    return false()


def may_send_to(session: Session, actor: Actor, unit: Unit) -> bool:
    """Whether ``actor`` may move a ticket to ``unit`` (改派): a unit of their own scope. A
    district's supervisor handing a late or badly surveyed ticket to another district's
    unit would hand it that unit's figures (they follow the ticket's unit) past the 退单
    window; across scopes only the centre moves tickets."""
    return session.scalar(select(Unit.id).where(Unit.id == unit.id, unit_scope(actor))) is not None


def may_see_ticket(actor: Actor, ticket: Ticket) -> bool:
    """``scope_filter`` for one loaded ticket, asked of the database so the rule is written
    once (a primary-key lookup)."""
    if actor.sees_everything:
        return True
    session = object_session(ticket)
    if session is None or ticket.id is None:
        return False
    return session.scalar(
        select(Ticket.id).where(Ticket.id == ticket.id, scope_filter(actor))
    ) is not None


def may_act_on(actor: Actor, ticket: Ticket) -> bool:
    """Whether ``actor`` may take an action on ``ticket``: it is in their scope
    (``may_see_ticket``), or they are filing it in this transaction (``note_filed``). Its
    filer takes a new ticket through intake -- acceptance, the rules' dispatch, 直接答复 --
    wherever it goes: a draft has no unit, so it is in no unit's scope, and a supervisor
    filing a complaint for another unit met a 404 halfway through (the ticket rolled back,
    its number lost). Until the commit only: then the ticket is the scope's again."""
    return actor.role == Role.SYSTEM or filing(actor, ticket) or may_see_ticket(actor, ticket)


# Session.info key: id() of each ticket this transaction files -> (the ticket, its filer).
# By id(): a ticket still to be INSERTed has no key of its own; held here, it is not
# collected, so its id() names no other object until the transaction ends.
_FILED = "hotline_filed_tickets"


def note_filed(session: Session, ticket: Ticket, actor: Actor) -> None:
    """``actor`` files ``ticket`` in this session's transaction (``may_act_on``)."""
    session.info.setdefault(_FILED, {})[id(ticket)] = (ticket, actor)


def filing(actor: Actor, ticket: Ticket) -> bool:
    """Whether ``actor`` is filing ``ticket`` in the transaction it belongs to."""
    session = object_session(ticket)
    filed = session.info.get(_FILED, {}).get(id(ticket)) if session is not None else None
    return filed is not None and filed[0] is ticket and filed[1] == actor


# --- the caller --------------------------------------------------------------------------


def may_see_caller(actor: Actor, ticket: Ticket) -> bool:
    """Who called (number, name, voice, verbatim words): hidden from handlers when the
    caller asked for confidentiality (保密)."""
    return not ticket.confidential or actor.sees_caller_of_confidential


def caller_visible(actor: Actor) -> Any:
    """``may_see_caller`` as a WHERE clause: anything matched on the caller's identity
    (phone search) must not reveal a confidential caller to a handler."""
    return true() if actor.sees_caller_of_confidential else Ticket.confidential.is_(False)


def caller_phone_for(actor: Actor, ticket: Ticket, *, masked: bool) -> str | None:
    """The caller's number as ``actor`` may see it: None when hidden, masked in lists and
    for supervisors (who oversee, and do not call citizens back), full otherwise."""
    if not may_see_caller(actor, ticket):
        return None
    if masked or actor.role == Role.SUPERVISOR:
        return mask_phone(ticket.caller_phone)
    return ticket.caller_phone


def identified_caller(ticket: Ticket) -> str | None:
    """The number that says who called: the network's (or the one an operator took down),
    never one the caller keyed in on the IVR (anyone can key anyone's number). None for a
    withheld number. What links tickets of one caller (多诉) and answers key 1 (status)."""
    return None if ticket.caller_phone_keyed else ticket.caller_phone


def same_identified_caller(e164: str) -> Any:
    """``identified_caller`` as a WHERE clause: tickets whose identified caller is ``e164``."""
    return and_(Ticket.caller_phone == e164, Ticket.caller_phone_keyed.is_(False))


def contactable(tickets: Any = Ticket) -> Any:
    """Tickets whose citizen may be called or texted back (回访, SMS): a number, and no
    "do not call me back". A keyed-in number is good enough to call. Only a number
    ``phones.callback_number`` accepts, a mainland one that is no service's: a caller ID of
    110 or 12345 (spoofed in direct SIP mode, or a slip at the console) must not make the
    survey robot dial the police, nor a spoofed foreign one (a premium-rate line abroad)
    make the city pay per minute for a call it placed itself. ``tickets``: an alias of
    Ticket, to ask it of another row of the same query."""
    return and_(tickets.no_contact.is_(False), callback_numbered(tickets))


def callback_numbered(tickets: Any = Ticket) -> Any:
    """Tickets filed with a number ``phones.callback_number`` accepts, whatever the caller
    asked about callbacks (``contactable`` adds that)."""
    phone = tickets.caller_phone
    mainland = phone.like("+86%")
    service = func.length(phone) <= 3 + SERVICE_NUMBER_DIGITS
    return and_(phone.is_not(None), mainland, ~service)


def may_contact(ticket: Ticket) -> bool:
    """``contactable`` for one loaded ticket."""
    return not ticket.no_contact and callback_number(ticket.caller_phone) is not None


# --- duplicate links (重复诉求) ----------------------------------------------------------

LINK_EVENT = "link_duplicate"


def linked_original(ticket: Ticket) -> Ticket | None:
    if ticket.duplicate_of_id is None:
        return None
    session = object_session(ticket)
    return session.get(Ticket, ticket.duplicate_of_id) if session is not None else None


def original_for_link(actor: Actor, ticket: Ticket) -> Ticket | None:
    """The linked original, when whether ``actor`` may see the link depends on it: never
    for whom may see every caller (a whole ticket's SELECT per duplicate filed, for an answer
    that would not read it)."""
    return None if actor.sees_caller_of_confidential else linked_original(ticket)


def may_see_link(actor: Actor, ticket: Ticket) -> bool:
    """A duplicate link says "the same person called about both": shown only to whom may
    see the caller of both tickets, or it would tie a confidential ticket to a number."""
    if not may_see_caller(actor, ticket):
        return False
    original = original_for_link(actor, ticket)
    return original is None or may_see_caller(actor, original)


# Where an audit event notes a number it called or texted (outbound.worker: the caller's for
# the survey and the citizen SMS, masked, but 7 of 11 digits).
CONTACT_KEYS = frozenset({"to"})


def _without_contact(event: TicketEvent) -> TicketEvent:
    """A copy of ``event`` without the numbers it reached, never added to the session (the
    trail is insert-only: the stored row must not change)."""
    data = event.data
    if not isinstance(data, dict) or not CONTACT_KEYS & data.keys():
        return event
    return TicketEvent(
        id=event.id, ticket_id=event.ticket_id, at=event.at, actor_id=event.actor_id,
        actor_name=event.actor_name, role=event.role, action=event.action,
        from_status=event.from_status, to_status=event.to_status, note=event.note,
        data={k: v for k, v in data.items() if k not in CONTACT_KEYS})


# --- tickets this transaction created --------------------------------------------------

# Session.info key: id of a ticket this transaction inserted -> the events flushed for it.
# Such a ticket's whole trail passed through this session, so its answer needs no SELECT
# of it, and nothing can be merged into it but by this session (merging.merge forgets it).
_CREATED = "hotline_created_tickets"


def note_created(session: Session, ticket: Ticket,
                 written: Iterable[TicketEvent] = ()) -> None:
    """``ticket`` is inserted by this session's transaction (just flushed, with its id, or
    added and still to be flushed), and none of its events has been flushed yet but
    ``written``: those inserted with it outside a flush (service's ticket written at once)."""
    if ticket.id is None:
        session.info.setdefault(_PENDING, []).append(ticket)
        return
    if pending := session.info.get(_PENDING):
        pending[:] = [t for t in pending if t is not ticket]
    session.info.setdefault(_CREATED, {})[ticket.id] = list(written)


# Tickets ``note_created`` was told of before their INSERT: their id is known after it.
_PENDING = "hotline_created_pending"


def forget_created(session: Session, ticket: Ticket) -> None:
    """Answer for ``ticket`` from the database again (something joins it that the session
    does not track)."""
    session.info.get(_CREATED, {}).pop(ticket.id, None)
    if pending := session.info.get(_PENDING):
        pending[:] = [t for t in pending if t is not ticket]


def created_here(session: Session, ticket: Ticket) -> bool:
    """Whether this transaction inserted ``ticket`` (and tracks it: see ``note_created``)."""
    return ticket.id in session.info.get(_CREATED, {}) or any(
        t is ticket for t in session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_flush")
def _collect_created_events(session: Session, _context: Any) -> None:
    if pending := session.info.get(_PENDING):
        # Inserted by this flush (the events flushed with them are collected below).
        created = session.info.setdefault(_CREATED, {})
        for ticket in [t for t in pending if t.id is not None]:
            created[ticket.id] = []
        pending[:] = [t for t in pending if t.id is None]
    created = session.info.get(_CREATED)
    if not created:
        return
    for obj in session.new:
        if isinstance(obj, TicketEvent) and obj.ticket_id in created:
            created[obj.ticket_id].append(obj)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, _rolled_back: Any) -> None:
    # After any rollback (a savepoint's too) what was collected may name rows that are
    # gone: ask the database.
    session.info.pop(_CREATED, None)
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_committed(session: Session, transaction: Any) -> None:
    # After the commit other transactions may add to the ticket.
    if transaction.parent is None:
        session.info.pop(_CREATED, None)
        session.info.pop(_PENDING, None)
        # Kept through a savepoint's rollback (a 督办 record another node opened first):
        # the ticket being filed is still in the session, and so is its filer.
        session.info.pop(_FILED, None)


def _trail(session: Session, ticket: Ticket) -> list[TicketEvent]:
    created = session.info.get(_CREATED, {})
    if ticket.id in created:
        session.flush()  # what the SELECT's autoflush would write
        return sorted(created[ticket.id], key=lambda e: e.id)
    return list(session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
    ))


def visible_events(*, session: Session, actor: Actor, ticket: Ticket) -> list[TicketEvent]:
    """The audit trail as ``actor`` may read it: the duplicate-link event goes with the
    link it records, and where the caller is hidden (保密) no event shows the number a
    call or SMS went to."""
    events = _trail(session, ticket)
    if not may_see_link(actor, ticket):
        events = [e for e in events if e.action != LINK_EVENT]
    if not may_see_caller(actor, ticket):
        events = [_without_contact(e) for e in events]
    return events


# --- search and overdue ------------------------------------------------------------------


def search(q: str, actor: Actor) -> Any:
    """Ticket number, full phone, or the last digits of a phone as printed masked; a phone
    never finds a caller ``actor`` may not see (a handler must not learn that a
    confidential caller's number has a ticket). Digits of any script (a Chinese input
    method's full-width ２２２２) are read as ASCII ones, as phones.normalise reads them."""
    q = ascii_digits(q.strip())
    phone = Ticket.caller_phone == (normalise(q) or q)
    if len(q) >= MIN_PHONE_SUFFIX and q.isascii() and q.isdigit():
        phone = or_(phone, Ticket.caller_phone.endswith(q, autoescape=True))
    return or_(Ticket.number == q, and_(phone, caller_visible(actor)))


def is_open(status: str) -> bool:
    return Status(status) in OPEN_STATUSES


def overdue(now: datetime) -> Any:
    """Open and past its deadline: what is waiting on someone and late."""
    return and_(Ticket.status.in_(values(OPEN_STATUSES)), passed(Ticket.due_at, now))


def is_overdue(ticket: Ticket, now: datetime) -> bool:
    """``overdue`` for one loaded ticket."""
    return is_open(ticket.status) and ticket.due_at is not None and passed(ticket.due_at, now)


# --- held for the operator: says too little (ticketing.substance), or its transcript is not
# to be trusted (ticketing.hearing) ---------------------------------------------------------


def held() -> Any:
    """Accepted, not dispatched, because the words say too little or the transcript they
    came from is unheard, and no operator has confirmed or corrected them yet
    (docs/classification.md, "Says too little"). The mark is the intake's record
    (``too_little``, ``unheard``); the operator's confirmation clears
    ``needs_confirmation`` and so releases the ticket."""
    return and_(Ticket.status == Status.ACCEPTED.value, Ticket.unit_id.is_(None),
                Ticket.needs_confirmation.is_(True),
                or_(Ticket.classification["too_little"].as_boolean().is_(True),
                    Ticket.classification["unheard"].as_string().is_not(None)))


def is_held(ticket: Ticket) -> bool:
    """``held`` for one loaded ticket."""
    return (ticket.status == Status.ACCEPTED.value and ticket.unit_id is None
            and ticket.needs_confirmation
            and held_reason(ticket) is not None)


def held_reason(ticket: Ticket) -> str | None:
    """Why the intake's record holds the ticket: "too_little" (ticketing.substance) or the
    transcript's ``unheard`` reason (ticketing.hearing); None when neither."""
    record = ticket.classification or {}
    if record.get("too_little") is True:
        return "too_little"
    unheard = record.get("unheard")
    return unheard if isinstance(unheard, str) and unheard else None


def held_overdue(now: datetime, window: timedelta) -> Any:
    """Held and not confirmed within ``window`` of the call (settings.deadlines
    .confirm_held_seconds): nobody is acting on it."""
    return and_(held(), Ticket.received_at < now - window)


def is_held_overdue(ticket: Ticket, now: datetime, window: timedelta) -> bool:
    return is_held(ticket) and ticket.received_at < now - window


# --- utilities (水电气暖) waiting for dispatch ---------------------------------------------


def queued_since() -> Any:
    """When a ticket last entered the manual dispatch queue: its call, or its latest 退单.
    Never ``updated_at``: linking a duplicate (or any other write) must not restart the
    10-minute clock of a utility nobody has dispatched."""
    last_return = (
        select(func.max(TicketEvent.at))
        .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.action == Action.RETURN.value)
        .scalar_subquery()
    )
    return type_coerce(func.coalesce(last_return, Ticket.received_at), UTCDateTime())


def waiting_utilities() -> Any:
    """Utilities in the manual dispatch queue. Not a held ticket: its category is the
    intake's guess at words that say too little, and what it needs is an operator's look
    (``held_overdue``), not the rules again nor a dispatcher called to send it."""
    return and_(Ticket.status.in_(values(AWAITING_DISPATCH_STATUSES)),
                Ticket.category.in_(sorted(UTILITY_CATEGORIES)), ~held())


def waiting_too_long_to_wait() -> Any:
    """Tickets in the manual dispatch queue that cannot wait for someone to look: utilities
    (水电气暖, dispatched within 10 minutes) and urgent ones (life or property safety, often
    a category no rule covers, e.g. a fire reported with no place). A person is called when
    the utility window ends."""
    return and_(Ticket.status.in_(values(AWAITING_DISPATCH_STATUSES)), ~held(),
                or_(Ticket.category.in_(sorted(UTILITY_CATEGORIES)),
                    Ticket.urgency == Urgency.URGENT.value))


@dataclass(frozen=True)
class Filters:
    """What a ticket list may be narrowed by (API query string, console form, CLI)."""

    status: str | None = None  # one Status value
    open_only: bool = False
    overdue: bool = False
    category: str | None = None
    # A code of ``category`` (inputs.check_sub_category): codes are only unique per category.
    sub_category: str | None = None
    unit_code: str | None = None  # exactly this unit
    q: str | None = None
    unconfirmed: bool = False  # 待确认: classification waiting for an operator
    received_from: datetime | None = None  # call time, inclusive
    received_until: datetime | None = None  # call time, exclusive


def unit_named(session: Session, code: str) -> Unit:
    """The unit a filter names by its code; ``LookupError`` when no unit has it."""
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        raise LookupError(f"unit {echoed(code)} not found")
    return unit


def check_filters(session: Session, f: Filters, *, field: str = "query.category") -> None:
    """A category or unit a filter names must name something (``InvalidInput`` naming
    ``field``, ``LookupError``): read as given, a mistyped code matched nothing, and the
    list, the CSV export and ``hotline export`` answered empty, as if it had no tickets
    (judge29). The API, the console and the CLI all read this rule (review65: the console
    dropped an unknown category and exported the whole queue as if filtered)."""
    if f.category:
        filter_category(session, f.category, field=field)
    if f.unit_code:
        unit_named(session, f.unit_code)


def filter_category(session: Session, code: str, *, field: str) -> str:
    """``code`` if it is a category of config/categories.toml or one some ticket holds: a
    category retired from the file stays on the tickets filed under it (docs/security.md,
    stored codes are kept as they are), and they must stay findable (review65). One
    indexed look-up (ix_tickets_address leads with the category), only for a code the file
    does not hold."""
    try:
        return check_category(code, field=field)
    except InvalidInput:
        if session.scalar(select(Ticket.id).where(Ticket.category == code).limit(1)) is None:
            raise
    return code


def conditions(actor: Actor, f: Filters, now: datetime) -> list[Any]:
    conds = [scope_filter(actor)]
    if f.status:
        conds.append(Ticket.status == f.status)
    if f.open_only:
        conds.append(Ticket.status.in_(values(OPEN_STATUSES)))
    if f.overdue:
        conds.append(overdue(now))
    if f.category:
        conds.append(Ticket.category == f.category)
    if f.category and f.sub_category:
        conds.append(Ticket.sub_category == f.sub_category)
    if f.unit_code:
        conds.append(Ticket.unit_id.in_(select(Unit.id).where(Unit.code == f.unit_code)))
    if f.q and f.q.strip():
        conds.append(search(f.q, actor))
    if f.unconfirmed:
        conds.append(Ticket.needs_confirmation.is_(True))
    if f.received_from is not None:
        conds.append(Ticket.received_at >= f.received_from)
    if f.received_until is not None:
        conds.append(Ticket.received_at < f.received_until)
    return conds


@dataclass(frozen=True)
class Page:
    rows: list[Ticket]
    total: int


def ticket_page(*, session: Session, actor: Actor, filters: Filters, now: datetime,
                page: int = 1, page_size: int = 50, newest_first: bool = False) -> Page:
    """One page of the tickets ``actor`` may see, most pressing deadline first (or the
    newest first)."""
    conds = conditions(actor, filters, now)
    total = session.scalar(select(func.count(Ticket.id)).where(*conds)) or 0
    order = (Ticket.id.desc(),) if newest_first else LISTING_ORDER
    rows = session.scalars(
        select(Ticket).where(*conds).order_by(*order)
        .offset((page - 1) * page_size).limit(page_size)
    ).all()
    return Page(rows=list(rows), total=total)
