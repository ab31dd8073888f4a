"""多诉督办: many complaints about one problem in one community become one 督办 record.

``settings.analytics.supervise_after`` tickets of one category from one community (社区/村)
within ``supervise_window_days`` open a record linked to all of them; each ticket gets an
audited ``supervise`` event, and the outbound worker sends the supervisor an SMS (it finds
records nobody has been told about: the core never imports outbound). While the record is
open, every later ticket of the group joins it; a supervisor closes it, and a new record
can only open after that. One open record per group is a unique key, not a check, so two
nodes filing the Nth ticket at once still open one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.classify import category_label
from ticketing.context import Domain
from ticketing.db import run_at_commit, set_unflushed
from ticketing.inputs import InvalidInput, StateConflict, clean_text, has_text
from ticketing.models import SupervisionCase, SupervisionLink, Ticket, TicketEvent
from ticketing.queries import scope_filter
from ticketing.states import Role, Status

SUPERVISE_EVENT = "supervise"
CLOSE_ROLES = (Role.SUPERVISOR, Role.ADMIN)
OPEN, CLOSED = "open", "closed"


def group_key(ticket: Ticket) -> str:
    return "|".join((ticket.category, ticket.district or "", ticket.street or "",
                     ticket.community or ""))


def place_text(case: SupervisionCase | Ticket) -> str:
    return "".join(p for p in (case.district, case.street, case.community) if p)


def same_group(ticket: Ticket) -> list[object]:
    """WHERE clauses: the tickets of ``ticket``'s group (category and place)."""
    def eq(column: object, value: str | None) -> object:
        return column.is_(None) if value is None else column == value  # type: ignore[attr-defined]

    return [Ticket.category == ticket.category, Ticket.community == ticket.community,
            eq(Ticket.district, ticket.district), eq(Ticket.street, ticket.street),
            Ticket.status != Status.EXCLUDED.value]


def _event(actor: Actor, case: SupervisionCase, note: str, at: datetime,
           **of: int | Ticket) -> TicketEvent:
    """The ``supervise`` event of a ticket: ``ticket_id=``, or ``ticket=`` one not written
    yet (its flush fills the id in, as service.record_event's)."""
    return TicketEvent(**of, actor_id=actor.id, actor_name=actor.name,
                       role=actor.role.value, action=SUPERVISE_EVENT, note=note,
                       data={"case": case.id, "tickets": case.tickets}, at=at)


def _link(session: Session, case: SupervisionCase, ticket_ids: list[int], actor: Actor,
          note: str, now: datetime) -> None:
    for tid in ticket_ids:
        session.add(SupervisionLink(case_id=case.id, ticket_id=tid, at=now))
        session.add(_event(actor, case, note, now, ticket_id=tid))


def open_case_of(session: Session, key: str) -> SupervisionCase | None:
    return session.scalars(select(SupervisionCase).where(SupervisionCase.open_key == key)
                           ).first()


def may_join(ticket: Ticket) -> bool:
    """Whether ``ticket`` can count towards a 督办 record at all (``on_ticket``)."""
    return bool(ticket.community) and ticket.status != Status.EXCLUDED.value


def on_ticket(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor
              ) -> SupervisionCase | None:
    """Join ``ticket`` to its group's open record, or open one when the group has reached
    the threshold within the window; returns the record, or None.

    A ticket not written yet (``ticket.id`` None: service.create_ticket accepting it as it
    is filed) that joins an open record stays unwritten: its ``supervise`` event goes into
    its trail before the acceptance's, and its link is added by ``link_joined`` once the
    ticket has its row, so the ticket is still INSERTed once, accepted and dispatched, with
    its whole trail (written as a draft first and then updated, a filing joining a record
    sent 16 statements on SQLite instead of 11: docs/scaling.md, twenty-sixth round). Any
    other ticket is written first: counting the group and opening a record need its row."""
    if not may_join(ticket):
        return None
    cfg = domain.settings.analytics
    now = domain.now()
    key = group_key(ticket)
    label = category_label(ticket.category)
    unwritten = ticket.id is None
    if unwritten:
        with session.no_autoflush:  # the look-up's autoflush would write it as a draft
            case = open_case_of(session, key)
        if case is not None:
            _join(session, case, ticket, actor, label, now)
            session.info.setdefault(_JOINED_UNWRITTEN, {})[ticket] = (case.id, now)
            return case
    session.flush()
    linked = select(SupervisionLink.ticket_id).where(SupervisionLink.ticket_id == ticket.id)
    case = None if unwritten else open_case_of(session, key)
    if case is not None:
        if session.scalar(linked.where(SupervisionLink.case_id == case.id)) is None:
            _count_joined(session, case, ticket)
            _link(session, case, [ticket.id], actor, _joined_note(case, ticket, label), now)
            session.flush()
        return case
    since = ticket.received_at - timedelta(days=cfg.supervise_window_days)
    ids = list(session.scalars(
        select(Ticket.id).where(*same_group(ticket), Ticket.received_at >= since,
                                Ticket.received_at <= ticket.received_at)
        .order_by(Ticket.received_at, Ticket.id)))
    if ticket.id not in ids:
        ids.append(ticket.id)
    if len(ids) < cfg.supervise_after:
        return None
    case = SupervisionCase(
        category=ticket.category, district=ticket.district, street=ticket.street,
        community=ticket.community or "", open_key=key, status=OPEN, tickets=len(ids),
        opened_at=now, last_ticket_at=ticket.received_at)
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        # Another node opened the record a moment ago: join it instead.
        if open_case_of(session, key) is None:
            raise
        return on_ticket(session=session, domain=domain, ticket=ticket, actor=actor)
    days = f"{cfg.supervise_window_days:g}"
    _link(session, case, ids, actor,
          f"多诉督办：{place_text(ticket)}{days}天内{len(ids)}件{label}诉求，已立督办件", now)
    session.flush()
    return case


# Session.info key: tickets on_ticket joined to an open record before they were written,
# with (the record's id, when), for ``link_joined``.
_JOINED_UNWRITTEN = "hotline_supervision_joined_unwritten"


def _count_joined(session: Session, case: SupervisionCase, ticket: Ticket) -> None:
    # Counted by an UPDATE at the commit (every caller about the problem bumps this one
    # row, and an UPDATE holds its lock until the commit); the ORM's own would write back
    # the count read here and lose a concurrent joiner's increment.
    run_at_commit(session, update(SupervisionCase)
                  .where(SupervisionCase.id == case.id)
                  .values(tickets=SupervisionCase.tickets + 1,
                          last_ticket_at=ticket.received_at)
                  .execution_options(synchronize_session=False),
                  row=(SupervisionCase.__tablename__, case.id))
    set_unflushed(session, case, tickets=case.tickets + 1, last_ticket_at=ticket.received_at)


def _joined_note(case: SupervisionCase, ticket: Ticket, label: str) -> str:
    return f"多诉督办：{place_text(ticket)}{label}问题，并入督办件（共{case.tickets}件）"


def _join(session: Session, case: SupervisionCase, ticket: Ticket, actor: Actor, label: str,
          now: datetime) -> None:
    """``ticket``, not written yet, joins ``case``: counted, and its event added to its
    trail (the flush that writes the ticket fills the event's ticket id in)."""
    _count_joined(session, case, ticket)
    session.add(_event(actor, case, _joined_note(case, ticket, label), now, ticket=ticket))


def link_joined(session: Session, ticket: Ticket) -> None:
    """The link of a ticket ``on_ticket`` joined to an open record before it was written,
    now that it has its row (nothing for any other ticket)."""
    joined = session.info.get(_JOINED_UNWRITTEN, {}).pop(ticket, None)
    if joined is None:
        return
    if ticket.id is None:
        raise RuntimeError("link_joined: the ticket is not written yet")
    case_id, at = joined
    session.add(SupervisionLink(case_id=case_id, ticket_id=ticket.id, at=at))


def close_case(*, session: Session, domain: Domain, case: SupervisionCase, actor: Actor,
               note: str) -> SupervisionCase:
    """A supervisor closes the record (the problem is settled); audited on every ticket."""
    if case.status != OPEN:
        raise StateConflict("case", "督办件已办结")
    note = clean_text(note or "", field="note", multiline=True).strip()
    if not has_text(note):
        raise InvalidInput("note", "办结督办件需说明处理情况")
    now = domain.now()
    case.status, case.open_key = CLOSED, None
    case.closed_at, case.closed_by, case.close_note = now, actor.name, note
    for tid in session.scalars(select(SupervisionLink.ticket_id)
                               .where(SupervisionLink.case_id == case.id)):
        session.add(_event(actor, case, f"督办件办结：{note}", now, ticket_id=tid))
    session.flush()
    return case


def cases(*, session: Session, actor: Actor, since: datetime | None = None,
          until: datetime | None = None, open_only: bool = False, limit: int = 100,
          case_id: int | None = None) -> list[SupervisionCase]:
    """Records with a ticket ``actor`` may see — with ``since``/``until``, one received in
    [since, until) (a month's records are those its complaints fed) — newest first."""
    seen = (select(SupervisionLink.id)
            .join(Ticket, Ticket.id == SupervisionLink.ticket_id)
            .where(SupervisionLink.case_id == SupervisionCase.id, scope_filter(actor)))
    if since is not None:
        seen = seen.where(Ticket.received_at >= since)
    if until is not None:
        seen = seen.where(Ticket.received_at < until)
    stmt = select(SupervisionCase).where(seen.exists())
    if case_id is not None:
        stmt = stmt.where(SupervisionCase.id == case_id)
    if open_only:
        stmt = stmt.where(SupervisionCase.status == OPEN)
    return list(session.scalars(stmt.order_by(SupervisionCase.opened_at.desc(),
                                              SupervisionCase.id.desc()).limit(limit)))


def case_tickets(*, session: Session, case_id: int, actor: Actor | None = None) -> list[str]:
    """Ticket numbers of a record, oldest first; with ``actor``, only those they may open
    (a record spans units: a supervisor sees it for one ticket of theirs, not the rest)."""
    stmt = (select(Ticket.number).join(SupervisionLink, SupervisionLink.ticket_id == Ticket.id)
            .where(SupervisionLink.case_id == case_id))
    if actor is not None:
        stmt = stmt.where(scope_filter(actor))
    return list(session.scalars(stmt.order_by(Ticket.received_at, Ticket.id)))


def linked_tickets(*, session: Session, case_id: int, actor: Actor) -> list[Ticket]:
    """The record's tickets ``actor`` may see, oldest first (its page's 并单 form)."""
    return list(session.scalars(
        select(Ticket).join(SupervisionLink, SupervisionLink.ticket_id == Ticket.id)
        .where(SupervisionLink.case_id == case_id, scope_filter(actor))
        .order_by(Ticket.received_at, Ticket.id)))


def cases_of_ticket(*, session: Session, ticket_id: int) -> list[SupervisionCase]:
    return list(session.scalars(
        select(SupervisionCase).join(SupervisionLink, SupervisionLink.case_id == SupervisionCase.id)
        .where(SupervisionLink.ticket_id == ticket_id).order_by(SupervisionCase.id)))
