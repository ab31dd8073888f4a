"""REST API under /api/v1. Each request is one transaction, committed by the endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.directory import add_unit, add_user, user_for_token
from ticketing.models import Ticket, Unit, User
from ticketing.reports import export_csv, figures, hot_spots
from ticketing.schemas import (
    DispatchBody,
    EventOut,
    OptionalNote,
    Reason,
    ReassignBody,
    ReplyBody,
    SurveyBody,
    TicketCreate,
    TicketOut,
    TicketPage,
    UnitCreate,
    UserCreate,
)
from ticketing.states import Role, Status

router = APIRouter(prefix="/api/v1")


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def get_domain(request: Request) -> Domain:
    return request.app.state.domain


SessionDep = Annotated[Session, Depends(get_session)]
DomainDep = Annotated[Domain, Depends(get_domain)]


def get_actor(request: Request, session: SessionDep) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    user = user_for_token(session=session, token=token.strip())
    if user is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    return Actor.of(user)


ActorDep = Annotated[Actor, Depends(get_actor)]


def require(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise HTTPException(403, f"role {actor.role.value} may not do this")


def _show(session: Session, ticket: Ticket, actor: Actor) -> TicketOut:
    return TicketOut.of(ticket, actor, events=service.events_of(session=session, ticket=ticket))


# --- tickets ------------------------------------------------------------------------


@router.post("/tickets", status_code=201, response_model=TicketOut)
def create_ticket(body: TicketCreate, session: SessionDep, domain: DomainDep, actor: ActorDep):
    require(actor, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
    ticket = service.create_ticket(
        session=session, domain=domain, actor=actor,
        **body.model_dump(exclude={"accept"}),
    )
    if body.accept:
        service.accept(session=session, domain=domain, ticket=ticket, actor=actor)
    session.commit()
    return _show(session, ticket, actor)


@router.get("/tickets", response_model=TicketPage)
def list_tickets(
    session: SessionDep,
    actor: ActorDep,
    status: Status | None = None,
    category: str | None = None,
    unit: str | None = None,
    q: Annotated[str | None, Query(max_length=64, description="number or phone")] = None,
    overdue: bool = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
):
    conds = [service.scope_filter(actor)]
    if status:
        conds.append(Ticket.status == status.value)
    if category:
        conds.append(Ticket.category == category)
    if unit:
        conds.append(Ticket.unit_id.in_(select(Unit.id).where(Unit.code == unit)))
    if q:
        conds.append(or_(Ticket.number == q, Ticket.caller_phone == q))
    if overdue:
        conds.append(Ticket.due_at < datetime.now().astimezone())
        conds.append(Ticket.closed_at.is_(None))
    total = session.scalar(select(func.count(Ticket.id)).where(*conds)) or 0
    rows = session.scalars(
        select(Ticket).where(*conds)
        .order_by(Ticket.due_at.is_(None), Ticket.due_at, Ticket.id)
        .offset((page - 1) * page_size).limit(page_size)
    ).all()
    return TicketPage(
        items=[TicketOut.of(t, actor, masked=True) for t in rows],
        total=total, page=page, page_size=page_size,
    )


@router.get("/tickets/{ref}", response_model=TicketOut)
def show_ticket(ref: str, session: SessionDep, actor: ActorDep):
    return _show(session, service.get_ticket(session=session, actor=actor, ref=ref), actor)


@router.get("/tickets/{ref}/events", response_model=list[EventOut])
def ticket_events(ref: str, session: SessionDep, actor: ActorDep):
    ticket = service.get_ticket(session=session, actor=actor, ref=ref)
    return [EventOut.of(e) for e in service.events_of(session=session, ticket=ticket)]


def _act(
    session: Session, domain: Domain, actor: Actor, ref: str, fn: Callable[..., object],
    **kwargs: object,
) -> TicketOut:
    ticket = service.get_ticket(session=session, actor=actor, ref=ref)
    fn(session=session, domain=domain, ticket=ticket, actor=actor, **kwargs)
    session.commit()
    return _show(session, ticket, actor)


@router.post("/tickets/{ref}/accept", response_model=TicketOut)
def accept(ref: str, session: SessionDep, domain: DomainDep, actor: ActorDep):
    return _act(session, domain, actor, ref, service.accept)


@router.post("/tickets/{ref}/dispatch", response_model=TicketOut)
def dispatch(ref: str, body: DispatchBody, session: SessionDep, domain: DomainDep,
             actor: ActorDep):
    return _act(session, domain, actor, ref, service.manual_dispatch,
                unit_id=body.unit_id, handler_id=body.handler_id)


@router.post("/tickets/{ref}/sign", response_model=TicketOut)
def sign(ref: str, session: SessionDep, domain: DomainDep, actor: ActorDep):
    return _act(session, domain, actor, ref, service.sign, via="api")


@router.post("/tickets/{ref}/reply", response_model=TicketOut)
def reply(ref: str, body: ReplyBody, session: SessionDep, domain: DomainDep, actor: ActorDep):
    return _act(session, domain, actor, ref, service.reply, text=body.text)


@router.post("/tickets/{ref}/close", response_model=TicketOut)
def close(ref: str, session: SessionDep, domain: DomainDep, actor: ActorDep,
          body: OptionalNote | None = None):
    return _act(session, domain, actor, ref, service.close, note=body.note if body else None)


@router.post("/tickets/{ref}/return", response_model=TicketOut)
def return_ticket(ref: str, body: Reason, session: SessionDep, domain: DomainDep,
                  actor: ActorDep):
    return _act(session, domain, actor, ref, service.return_ticket, reason=body.reason)


@router.post("/tickets/{ref}/exclude", response_model=TicketOut)
def exclude(ref: str, body: Reason, session: SessionDep, domain: DomainDep, actor: ActorDep):
    return _act(session, domain, actor, ref, service.exclude, reason=body.reason)


@router.post("/tickets/{ref}/reject", response_model=TicketOut)
def reject(ref: str, body: Reason, session: SessionDep, domain: DomainDep, actor: ActorDep):
    return _act(session, domain, actor, ref, service.reject_redo, reason=body.reason)


@router.post("/tickets/{ref}/reassign", response_model=TicketOut)
def reassign(ref: str, body: ReassignBody, session: SessionDep, domain: DomainDep,
             actor: ActorDep):
    return _act(session, domain, actor, ref, service.reassign,
                unit_id=body.unit_id, handler_id=body.handler_id, reason=body.reason)


@router.post("/tickets/{ref}/survey", response_model=TicketOut)
def survey(ref: str, body: SurveyBody, session: SessionDep, domain: DomainDep, actor: ActorDep):
    require(actor, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
    return _act(session, domain, actor, ref, service.record_survey,
                resolved=body.resolved, satisfied=body.satisfied, keys=body.keys)


@router.get("/queue/manual", response_model=list[TicketOut])
def manual_queue(session: SessionDep, actor: ActorDep):
    """Accepted or returned tickets no rule could dispatch, utilities first, oldest first."""
    require(actor, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.status.in_([Status.ACCEPTED.value, Status.RETURNED.value]))
        .order_by(Ticket.escalated.desc(), Ticket.received_at)
    ).all()
    return [TicketOut.of(t, actor, masked=True) for t in rows]


# --- figures, hot spots, export -------------------------------------------------------


@router.get("/stats")
def stats(
    session: SessionDep, domain: DomainDep, actor: ActorDep,
    since: datetime | None = None, until: datetime | None = None, unit: str | None = None,
) -> dict[str, float | int | None]:
    require(actor, Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)
    try:
        return figures(session=session, actor=actor, now=domain.now(), since=since,
                       until=until, unit_code=unit).as_dict()
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


@router.get("/hotspots")
def hotspots(session: SessionDep, actor: ActorDep, since: datetime | None = None,
             min_tickets: Annotated[int, Query(ge=2, le=1000)] = 2) -> list[dict[str, object]]:
    require(actor, Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)
    return [h.__dict__ for h in hot_spots(session=session, actor=actor, since=since,
                                          min_tickets=min_tickets)]


@router.get("/export.csv")
def export(session: SessionDep, domain: DomainDep, actor: ActorDep,
           status: Status | None = None) -> Response:
    body = export_csv(session=session, actor=actor, tz=domain.tz,
                      status=status.value if status else None)
    return Response(
        content=body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'},
    )


# --- units and users ------------------------------------------------------------------


@router.get("/units")
def list_units(session: SessionDep, actor: ActorDep) -> list[dict[str, object]]:
    return [
        {"id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
         "parent_id": u.parent_id}
        for u in session.scalars(select(Unit).order_by(Unit.path))
    ]


@router.post("/units", status_code=201)
def create_unit(body: UnitCreate, session: SessionDep, actor: ActorDep) -> dict[str, object]:
    require(actor, Role.ADMIN)
    try:
        unit = add_unit(session=session, **body.model_dump())
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    session.commit()
    return {"id": unit.id, "code": unit.code, "name": unit.name}


@router.get("/users")
def list_users(session: SessionDep, actor: ActorDep) -> list[dict[str, object]]:
    require(actor, Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)
    return [
        {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role,
         "unit": u.unit.code if u.unit else None, "on_duty": u.on_duty}
        for u in session.scalars(select(User).order_by(User.id))
    ]


@router.post("/users", status_code=201)
def create_user(body: UserCreate, session: SessionDep, actor: ActorDep) -> dict[str, object]:
    require(actor, Role.ADMIN)
    try:
        user, token = add_user(session=session, **{**body.model_dump(), "role": Role(body.role)})
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    session.commit()
    return {"id": user.id, "username": user.username, "token": token}
