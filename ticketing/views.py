"""REST API under /api/v1. Each request is one transaction, committed by the endpoint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing import queries, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.deps import DomainDep, Token, require, unit_of_work
from ticketing.directory import (
    add_unit,
    add_user,
    disable_user,
    enable_user,
    rotate_token,
)
from ticketing.inputs import local_aware
from ticketing.models import Ticket, Unit, User
from ticketing.points import PENALTY_ROLES, flag_penalty, period_bounds, points
from ticketing.reports import export_csv, figures, hot_spots
from ticketing.schemas import (
    ClassificationBody,
    DispatchBody,
    EventOut,
    ExclusionRequest,
    OptionalNote,
    PenaltyBody,
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
from ticketing.states import AWAITING_DISPATCH_STATUSES, Role, Status, values

router = APIRouter(prefix="/api/v1")


def _show(session: Session, ticket: Ticket, actor: Actor) -> TicketOut:
    events = queries.visible_events(session=session, actor=actor, ticket=ticket)
    return TicketOut.of(ticket, actor, events=events)


# --- tickets ------------------------------------------------------------------------


@router.post("/tickets", status_code=201, response_model=TicketOut)
def create_ticket(body: TicketCreate, request: Request, token: Token, domain: DomainDep):
    # Classified before the transaction: on SQLite the transaction holds the write lock
    # from its first statement, and every other creator would wait for the classifier.
    understood = service.understand_demand(domain=domain, demand=body.demand)
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
        ticket = service.create_ticket(
            session=session, domain=domain, actor=actor, understood=understood,
            **body.model_dump(exclude={"accept"}),
        )
        if body.accept:
            service.accept(session=session, domain=domain, ticket=ticket, actor=actor)
        # The answer is read inside the transaction: read after the commit it would open
        # a second transaction (on SQLite, queue for the write lock once more).
        shown = _show(session, ticket, actor)
        session.commit()
        return shown


@router.get("/tickets", response_model=TicketPage)
def list_tickets(
    request: Request,
    token: Token,
    domain: DomainDep,
    status: Status | None = None,
    category: str | None = None,
    unit: str | None = None,
    q: Annotated[str | None, Query(max_length=64,
                                   description="number, phone or its last 4+ digits")] = None,
    overdue: bool = False,
    unconfirmed: Annotated[bool, Query(description="only tickets flagged 待确认")] = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
):
    with unit_of_work(request, token) as (session, actor):
        found = queries.ticket_page(
            session=session, actor=actor, now=domain.now(),
            filters=queries.Filters(status=status.value if status else None, category=category,
                                    unit_code=unit, q=q, overdue=overdue,
                                    unconfirmed=unconfirmed),
            page=page, page_size=page_size,
        )
        return TicketPage(
            items=[TicketOut.of(t, actor, masked=True) for t in found.rows],
            total=found.total, page=page, page_size=page_size,
        )


@router.get("/tickets/{ref}", response_model=TicketOut)
def show_ticket(ref: str, request: Request, token: Token):
    with unit_of_work(request, token) as (session, actor):
        return _show(session, service.get_ticket(session=session, actor=actor, ref=ref), actor)


@router.get("/tickets/{ref}/events", response_model=list[EventOut])
def ticket_events(ref: str, request: Request, token: Token):
    with unit_of_work(request, token) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        return [EventOut.of(e)
                for e in queries.visible_events(session=session, actor=actor, ticket=ticket)]


def _act(
    request: Request, token: Token, domain: Domain, ref: str, fn: Callable[..., object],
    *roles: Role, **kwargs: object,
) -> TicketOut:
    with unit_of_work(request, token) as (session, actor):
        if roles:
            require(actor, *roles)
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        fn(session=session, domain=domain, ticket=ticket, actor=actor, **kwargs)
        session.commit()
        return _show(session, ticket, actor)


@router.post("/tickets/{ref}/accept", response_model=TicketOut)
def accept(ref: str, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.accept)


@router.post("/tickets/{ref}/dispatch", response_model=TicketOut)
def dispatch(ref: str, body: DispatchBody, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.dispatch,
                unit_id=body.unit_id, handler_id=body.handler_id)


@router.post("/tickets/{ref}/sign", response_model=TicketOut)
def sign(ref: str, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.sign, via="api")


@router.post("/tickets/{ref}/reply", response_model=TicketOut)
def reply(ref: str, body: ReplyBody, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.reply, text=body.text,
                outcome=body.outcome, reason=body.reason)


@router.post("/tickets/{ref}/close", response_model=TicketOut)
def close(ref: str, request: Request, token: Token, domain: DomainDep,
          body: OptionalNote | None = None):
    return _act(request, token, domain, ref, service.close, note=body.note if body else None)


@router.post("/tickets/{ref}/send_back", response_model=TicketOut)
def send_back(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    """核实退回: the handler's answer does not hold; back to them with the reason."""
    return _act(request, token, domain, ref, service.send_back, reason=body.reason)


@router.post("/tickets/{ref}/return", response_model=TicketOut)
def return_ticket(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.return_ticket, reason=body.reason)


@router.post("/tickets/{ref}/exclude", response_model=TicketOut)
def exclude(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.exclude, reason=body.reason)


@router.post("/tickets/{ref}/request_exclusion", response_model=TicketOut)
def request_exclusion(ref: str, body: ExclusionRequest, request: Request, token: Token,
                      domain: DomainDep):
    """申请剔除 (handler): a reason from the configured list plus text; a supervisor decides
    with /exclude or /deny_exclusion."""
    return _act(request, token, domain, ref, service.request_exclusion, reason=body.reason,
                text=body.text)


@router.post("/tickets/{ref}/deny_exclusion", response_model=TicketOut)
def deny_exclusion(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.deny_exclusion, reason=body.reason)


@router.post("/tickets/{ref}/penalty", response_model=EventOut)
def penalty(ref: str, body: PenaltyBody, request: Request, token: Token, domain: DomainDep):
    """A supervisor's penalty (资料不全 −0.5, 重大负面舆情 −3) with the reason; audited."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *PENALTY_ROLES)
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        event = flag_penalty(session=session, domain=domain, ticket=ticket, actor=actor,
                             kind=body.kind, reason=body.reason)
        session.commit()
        return EventOut.of(event)


@router.get("/points")
def points_of_period(
    request: Request, token: Token, domain: DomainDep,
    period: Annotated[str | None, Query(pattern=r"^\d{4}(-\d{2})?$",
                                        description="YYYY or YYYY-MM; default this month")] = None,
) -> dict[str, object]:
    """Points per unit and handler for a month or a year (docs/metrics.md)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)
        period = period or domain.now().astimezone(domain.tz).strftime("%Y-%m")
        since, until = period_bounds(period, domain.tz)
        p = points(session=session, actor=actor, since=since, until=until)
        return {"period": period, "units": [s.as_dict() for s in p.units],
                "handlers": [s.as_dict() for s in p.handlers]}


@router.post("/tickets/{ref}/reject", response_model=TicketOut)
def reject(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.reject_redo, reason=body.reason)


@router.post("/tickets/{ref}/reassign", response_model=TicketOut)
def reassign(ref: str, body: ReassignBody, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.reassign,
                unit_id=body.unit_id, handler_id=body.handler_id, reason=body.reason)


@router.post("/tickets/{ref}/classification", response_model=TicketOut)
def confirm_classification(ref: str, body: ClassificationBody, request: Request, token: Token,
                           domain: DomainDep):
    """Confirm (empty body) or correct the classification; clears 待确认, audited."""
    return _act(request, token, domain, ref, service.confirm_classification,
                *service.CLASSIFIER_ROLES, **body.model_dump())


@router.post("/tickets/{ref}/survey", response_model=TicketOut)
def survey(ref: str, body: SurveyBody, request: Request, token: Token, domain: DomainDep):
    return _act(request, token, domain, ref, service.record_survey,
                Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN,
                resolved=body.resolved, satisfied=body.satisfied, keys=body.keys)


@router.get("/queue/manual", response_model=list[TicketOut])
def manual_queue(request: Request, token: Token):
    """Accepted or returned tickets no rule could dispatch, escalated first, oldest first."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
        rows = session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(values(AWAITING_DISPATCH_STATUSES)))
            .order_by(Ticket.escalated.desc(), Ticket.received_at)
        ).all()
        return [TicketOut.of(t, actor, masked=True) for t in rows]


# --- figures, hot spots, export -------------------------------------------------------


MOMENT = "ISO 8601; without a time zone it is the hotline's local time (settings.timezone)"


@router.get("/stats")
def stats(
    request: Request, token: Token, domain: DomainDep,
    since: Annotated[datetime | None, Query(description=MOMENT)] = None,
    until: Annotated[datetime | None, Query(description=MOMENT)] = None,
    unit: str | None = None,
) -> dict[str, float | int | None]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)
        try:
            return figures(session=session, actor=actor, now=domain.now(),
                           since=local_aware(since, domain.tz, field="query.since"),
                           until=local_aware(until, domain.tz, field="query.until"),
                           unit_code=unit, utility_window=domain.utility_window).as_dict()
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc


@router.get("/hotspots")
def hotspots(request: Request, token: Token, domain: DomainDep,
             since: Annotated[datetime | None, Query(description=MOMENT)] = None,
             min_tickets: Annotated[int, Query(ge=2, le=1000)] = 2) -> list[dict[str, object]]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.SUPERVISOR, Role.ADMIN, Role.OPERATOR)
        since = local_aware(since, domain.tz, field="query.since")
        return [h.__dict__ for h in hot_spots(session=session, actor=actor, since=since,
                                              min_tickets=min_tickets)]


# response_class=Response has no media type of its own, so the errors stay documented as
# JSON while the file is documented as CSV.
@router.get("/export.csv", response_class=Response, responses={
    200: {"description": "UTF-8 CSV with a BOM (for Excel)",
          "content": {"text/csv": {"schema": {"type": "string"}}}}})
def export(request: Request, token: Token, domain: DomainDep,
           status: Status | None = None) -> Response:
    with unit_of_work(request, token) as (session, actor):
        body = export_csv(session=session, actor=actor, tz=domain.tz,
                          status=status.value if status else None)
    return Response(
        content=body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tickets.csv"'},
    )


# --- units and users ------------------------------------------------------------------


@router.get("/units")
def list_units(request: Request, token: Token) -> list[dict[str, object]]:
    with unit_of_work(request, token) as (session, _):
        return [
            {"id": u.id, "code": u.code, "name": u.name, "kind": u.kind,
             "parent_id": u.parent_id}
            for u in session.scalars(select(Unit).order_by(Unit.path))
        ]


@router.post("/units", status_code=201)
def create_unit(body: UnitCreate, request: Request, token: Token) -> dict[str, object]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        try:
            unit = add_unit(session=session, **body.model_dump())
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        session.commit()
        return {"id": unit.id, "code": unit.code, "name": unit.name}


@router.get("/users")
def list_users(request: Request, token: Token) -> list[dict[str, object]]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)
        return [
            {"id": u.id, "username": u.username, "display_name": u.display_name,
             "role": u.role, "unit": u.unit.code if u.unit else None, "on_duty": u.on_duty,
             "active": u.active}
            for u in session.scalars(select(User).order_by(User.id))
        ]


@router.post("/users", status_code=201)
def create_user(body: UserCreate, request: Request, token: Token) -> dict[str, object]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        try:
            user, new_token = add_user(session=session,
                                       **{**body.model_dump(), "role": Role(body.role)})
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        session.commit()
        return {"id": user.id, "username": user.username, "token": new_token}


def _account(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"user {user_id} does not exist")
    return user


@router.post("/users/{user_id}/disable")
def disable(user_id: int, request: Request, token: Token) -> dict[str, object]:
    """Lock a user out at once: their token and console sessions stop working (admins)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user = _account(session, user_id)
        if user.id == actor.id:
            # The API must not lock out the last way in; the CLI can still do it.
            raise HTTPException(409, "an admin cannot disable their own account")
        disable_user(session=session, user=user, actor=actor)
        session.commit()
        return {"id": user.id, "username": user.username, "active": user.active}


@router.post("/users/{user_id}/enable")
def enable(user_id: int, request: Request, token: Token) -> dict[str, object]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user = _account(session, user_id)
        enable_user(session=session, user=user, actor=actor)
        session.commit()
        return {"id": user.id, "username": user.username, "active": user.active}


@router.post("/users/{user_id}/rotate-token")
def rotate(user_id: int, request: Request, response: Response,
           token: Token) -> dict[str, object]:
    """A new token for the user, shown in this answer only; the old one stops working."""
    response.headers["Cache-Control"] = "no-store"  # a credential: kept by no cache
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user = _account(session, user_id)
        new_token = rotate_token(session=session, user=user, actor=actor)
        session.commit()
        return {"id": user.id, "username": user.username, "token": new_token}
