"""REST API under /api/v1. Each request is one transaction, committed by the endpoint; on
SQLite the requests filing tickets at once share one (ticketing.group_commit)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, File, Header, HTTPException, Query, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session, sessionmaker
from starlette.datastructures import State

from config import Settings
from ticketing import (
    analytics,
    attachments,
    citizen,
    idempotency,
    merging,
    queries,
    service,
    supervision,
)
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import ticket_number_taken
from ticketing.deps import (
    DomainDep,
    RowIdPath,
    Token,
    authenticated,
    known_to_app,
    require,
    unit_of_work,
)
from ticketing.directory import (
    add_unit,
    add_user,
    disable_user,
    enable_user,
    rotate_token,
)
from ticketing.group_commit import GROUP_SIZE, GroupCommit
from ticketing.inputs import check_sub_category, local_aware, local_period
from ticketing.intake_model import Understanding
from ticketing.models import ReplyAttachment, SupervisionCase, Ticket, Unit, User
from ticketing.points import PENALTY_ROLES, flag_penalty, period_bounds, points
from ticketing.reports import FIGURE_ROLES, export_csv, figures, hot_spots
from ticketing.schemas import (
    AttachmentOut,
    ClassificationBody,
    DispatchBody,
    EventOut,
    ExclusionRequest,
    GroupMemberOut,
    GroupOut,
    MergeBody,
    OptionalNote,
    PenaltyBody,
    Reason,
    ReassignBody,
    ReplyBody,
    RespondentBody,
    TicketCreate,
    TicketOut,
    TicketPage,
    UnitCreate,
    UserCreate,
)
from ticketing.states import (
    AWAITING_ANSWER_STATUSES,
    AWAITING_DISPATCH_STATUSES,
    FILING_ROLES,
    Role,
    Status,
    values,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1")

PERIOD_PATTERN = r"^\d{4}(-\d{2}|-[Qq][1-4])?$"
PERIOD_HELP = "YYYY, YYYY-Qn or YYYY-MM; default this month"


SUB_CATEGORY_HELP = "细分类 code; only with category, and one of its sub-categories"


def _sub_category_filter(category: str | None, code: str | None) -> str | None:
    """A sub-category filter is a code of the category filter's (codes are per category)."""
    if not code:
        return None
    return check_sub_category(category or "", code, field="query.sub_category")


def _check_filters(session: Session, filters: queries.Filters) -> None:
    """422 for an unknown category, 404 for an unknown unit (as ``/stats`` answers it)."""
    try:
        queries.check_filters(session, filters)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


def ticket_shown(session: Session, ticket: Ticket, actor: Actor) -> TicketOut:
    """``ticket`` as ``GET /tickets/{ref}`` shows it to ``actor`` (every action's answer)."""
    return TicketOut.build(_shown(session, ticket, actor))


def _shown(session: Session, ticket: Ticket, actor: Actor) -> dict[str, Any]:
    """``TicketOut.read``'s values of ``ticket`` with its trail as ``actor`` may see it."""
    # Held while the values are read: both visibility checks read the linked original (if
    # they need it), and the session keeps a loaded row only while something refers to it
    # (else two SELECTs).
    _original = queries.original_for_link(actor, ticket)
    events = queries.visible_events(session=session, actor=actor, ticket=ticket)
    return TicketOut.read(ticket, actor, events=events)


# --- tickets ------------------------------------------------------------------------


# Tickets one process files at once on PostgreSQL; further requests wait for a turn in the
# order they came. Unbounded, they took all of the thread pool's 40 threads, each with up
# to two connections (the ticket's and the number's): the pool's 20 were not enough, so
# connections were closed and opened again (a server process each) per request, and the
# turns went by chance (the GIL). A few threads keep one process's core busy while others
# wait for the database. SQLite keeps the thread pool's: its writers already queue, in
# turn, for the one write lock (ticketing.db), and a connection there is a file handle.
INTAKE_CONCURRENCY = 8


def intake_limiter(request: Request) -> anyio.CapacityLimiter | None:
    """The app's turns for filing tickets (made on first use: it belongs to the event loop);
    None: the thread pool's own."""
    state = request.app.state
    if state.engine.dialect.name == "sqlite":
        return None
    limiter: anyio.CapacityLimiter | None = getattr(state, "intake_limiter", None)
    if limiter is None:
        limiter = state.intake_limiter = anyio.CapacityLimiter(INTAKE_CONCURRENCY)
    return limiter


IDEMPOTENCY_KEY_HELP = (
    "a string of your own (draft-ietf-httpapi-idempotency-key-header), one per complaint, "
    "sent again with every retry of it: a repeat by the same user within "
    f"{idempotency.KEY_TTL.total_seconds() / 3600:g} h answers 201 "
    "with the ticket the first request filed, as it is now, and files, dispatches, texts "
    "and audits nothing; the same key with another body is 422 (field "
    f"{idempotency.FIELD}). 1-{idempotency.MAX_KEY_LENGTH} printable ASCII characters; "
    "absent: every request files a ticket")


@router.post("/tickets", status_code=201, response_model=TicketOut)
async def create_ticket(
    body: TicketCreate, request: Request, token: Token, domain: DomainDep,
    idempotency_key: Annotated[str | None, Header(
        alias=idempotency.HEADER, pattern=idempotency.KEY_PATTERN,
        description=IDEMPOTENCY_KEY_HELP)] = None,
) -> TicketOut | JSONResponse:
    filing = Filing(body=body, token=token, domain=domain, key=idempotency_key)
    writer = filing_writer(request)
    if writer is None:
        return await anyio.to_thread.run_sync(_file_alone, request, filing,
                                              limiter=intake_limiter(request))
    state = request.app.state
    if not writer.prepares or len(body.demand) > WRITER_CLASSIFIES_UP_TO:
        # Classified in the request's thread: one process (nothing gained in the writer),
        # or a long demand, whose classifying (up to ~60 ms of CPU at 5000 characters)
        # would hold up every filing of its group.
        filing = await anyio.to_thread.run_sync(understood_filing, state, filing)
    elif not _known_at_once(state, filing.token):
        # An unknown token is a database read: in the request's thread, not queued in the
        # writer's where every filing of the group would wait for it (review57).
        await anyio.to_thread.run_sync(known_to_app, state, filing.token, *FILING_ROLES)
    # Else handed over unclassified, its token known: the writer's thread classifies the
    # group before its BEGIN, and the request takes no thread hop of its own.
    return await writer.submit(filing)


# The longest demand the filing writer's thread classifies (characters); a longer one is
# classified in the request's thread. Measured (docs/scaling.md, twenty-fifth round, mend57):
# ~3 ms of CPU for a usual demand (50 characters), ~9 ms at 500, ~60 ms at 5000.
WRITER_CLASSIFIES_UP_TO = 500


def _known_at_once(state: State, token: str) -> bool:
    """``token`` named a user of a role that may file a moment ago (``TokenGate``, memory
    only: no thread needed); a known user of another role is refused here (403). False:
    not known, to be checked against the database (``known_to_app``)."""
    actor = state.token_gate.recent_actor(token)
    if actor is None:
        return False
    require(actor, *FILING_ROLES)
    return True


@dataclass(frozen=True)
class Filing:
    """One request's ticket for ``write_filing``; ``understood`` once classified
    (``understood_filing``)."""

    body: TicketCreate
    token: str
    domain: Domain
    key: str | None
    understood: Understanding | None = None
    # Classified (``understood`` may be None then: nothing understood of the demand).
    classified: bool = False


def understood_filing(state: State, filing: Filing) -> Filing:
    """``filing`` classified, outside any transaction, for a known token of a role that may
    file (else its 401 or 403, and nothing classified); as it is if classified already (a
    long demand, classified in the request's thread before the writer got it). The token
    was checked in the request's thread before a filing is handed to the writer: there
    the check is a memory read (``TokenGate``), only the classifying is the writer's."""
    if filing.classified:
        return filing
    # Classified before the transaction: on SQLite the transaction holds the write lock
    # from its first statement, and every other creator would wait for the classifier.
    # Only for a known token of a role that may file: classifying is the costliest step
    # a stranger (or a handler, refused below anyway) could buy.
    known_to_app(state, filing.token, *FILING_ROLES)
    return replace(filing, classified=True, understood=service.understand_demand(
        domain=filing.domain, demand=filing.body.demand))


# app.state flag: the filing writer's thread classifies (hotline.app.api_worker_app). Measured
# (docs/scaling.md, twenty-fifth round): with two API processes on SQLite it saved ~0.5 ms
# of CPU a ticket, with one it did not pay (nothing classified while SQLite worked).
CLASSIFY_IN_WRITER = "classify_in_writer"


def filing_writer(request: Request) -> FilingWriter | None:
    """The app's writer of API filings on SQLite (ticketing.group_commit): the requests
    waiting to file at once share one transaction. SQLite's
    writers take turns anyway (one lock), so a group costs no concurrency and saves each
    filing its own BEGIN, COMMIT and turn (docs/scaling.md, twenty-fourth round). The
    writer's thread also classifies each filing (its token checked in the request's
    thread), before the BEGIN, in an API worker of several processes
    (``CLASSIFY_IN_WRITER``; twenty-fifth round; a long demand excepted, mend57).

    None on PostgreSQL: there the transactions of one process run side by side, and one
    writer (or two) a process filed fewer tickets a second than eight lone transactions
    (measured, same page); each request files alone (``_file_alone``)."""
    state = request.app.state
    if state.engine.dialect.name != "sqlite":
        return None
    writer: FilingWriter | None = getattr(state, "filing_writer", None)
    if writer is None:
        by_writer = getattr(state, CLASSIFY_IN_WRITER, False)
        writer = state.filing_writer = filing_group(
            state.sessions, prepare=partial(understood_filing, state) if by_writer else None)
    return writer


# A group writer of filings: each filing's answer values read in the transaction
# (``write_filing``), its answer built of them after the commit (``TicketOut.build``).
FilingWriter = GroupCommit[Filing, dict[str, Any], TicketOut | JSONResponse]


def filing_group(sessions: sessionmaker[Session],
                 prepare: Callable[[Filing], Filing] | None = None) -> FilingWriter:
    """A writer of filings in groups (``filing_writer``'s, without the app): each answer is
    built after the group's commit, outside the writers' turn (docs/scaling.md,
    twenty-seventh round)."""
    return GroupCommit(sessions, write_filing, prepare=prepare, finish=filed_response,
                       again=_file_again)


def _file_again(session: Session, exc: Exception) -> bool:
    """A filing refused a number taken already (``ticket_number_taken``) is written once
    more, numbered past it; taken again, a 503 (``database_unavailable``) for it alone."""
    if not ticket_number_taken(exc):
        return False
    # Never routine: a restore without the counter, an old node still running, a hand
    # edit. On the retry SQLite's counter row and PostgreSQL's sequence are moved past the
    # day's highest number (service.number_past_taken; docs/scaling.md, loose31).
    log.warning("ticket number already taken, filing once more: %s", exc.__class__.__name__)
    service.number_past_taken(session)
    return True


def filed_response(values: dict[str, Any]) -> TicketOut | JSONResponse:
    """The answer to a committed filing (``write_filing``'s values): ``TicketOut.build``'s.
    The ticket is filed whatever happens here, so an answer that fails to build is not an
    error to the client (a 500 it was, and a retry without the Idempotency-Key filed a
    second ticket: review66): 201 with the committed plain values that need nothing more
    (``_PLAIN_ANSWER``), the failure logged; a replay with the key answers the same way
    until the fault is mended. Should even those fail, a 500 of ``ErrorOut``'s shape that
    names the ticket filed."""
    try:
        return TicketOut.build(values)
    except Exception:
        log.exception("ticket %s filed, its answer not built: answered with its plain values",
                      values.get("number"))
    try:
        return JSONResponse(status_code=201, content=jsonable_encoder(
            {**{name: values.get(name) for name in _PLAIN_ANSWER}, "partial": True}))
    except Exception:
        log.exception("ticket %s filed, not even its plain values answered", values.get("number"))
        return JSONResponse(status_code=500, content={
            "error": "answer_failed",
            "detail": f"ticket {values.get('number')} was filed; its answer could not be "
                      f"built: GET /api/v1/tickets/{values.get('number')} shows it"})


# What a filing's answer holds when it could not be built (``filed_response``): the
# ticket's own columns as committed, no lookup, no validation that could fail.
_PLAIN_ANSWER = ("id", "number", "channel", "status", "category", "urgency", "unit", "handler",
                 "received_at", "dispatched_at", "sign_due_at", "due_at", "version")


def _file_alone(request: Request, filing: Filing) -> TicketOut | JSONResponse:
    """A filing in a transaction of its own, in the request's thread; its answer built
    after the commit, as a group's (``filing_group``)."""
    filing = understood_filing(request.app.state, filing)
    # A group of one: written, retried (``_file_again``) and answered as a group's filing,
    # one rule for both (review73: a taken number was retried here only).
    outcome = filing_group(request.app.state.sessions).write([filing])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


_GROUP_ACTORS = "hotline_group_actors"  # Session.info key: the group's tokens' users


def write_filing(session: Session, filing: Filing) -> dict[str, Any]:
    """One filing in ``session``'s transaction (a group's, inside the filing's savepoint, or
    its own): the token checked again, the ticket filed once per Idempotency-Key, what the
    answer shows read before the commit (``TicketOut.read``'s values: ``TicketOut.build``
    makes the answer of them after it, with no row to read)."""
    # A token is looked up once a transaction (the bench's 50 clients share one operator's):
    # a group is one transaction, as a lone request's look-up and filing were.
    actors: dict[str, Actor] = session.info.setdefault(_GROUP_ACTORS, {})
    actor = actors.get(filing.token) or actors.setdefault(
        filing.token, authenticated(session, filing.token))
    require(actor, *FILING_ROLES)
    # A group's filings pick their handlers from one read of each unit's loads (a SELECT a
    # ticket was ~0.4 ms of the writers' turn: docs/scaling.md, twenty-seventh round); a
    # group of one or a lone filing has nothing to count (review66).
    if session.info.get(GROUP_SIZE, 1) > 1:
        service.count_handler_picks(session)
        # And its numbers from one bump of the day's counter (SQLite; one UPDATE a ticket
        # less inside the writers' turn: docs/scaling.md, twenty-eighth round).
        service.count_numbers(session)
    body, domain = filing.body, filing.domain
    ticket = idempotency.create_once(
        session=session, actor=actor, key=filing.key, body=body, now=domain.now(),
        create=lambda: service.create_ticket(
            session=session, domain=domain, actor=actor, understood=filing.understood,
            accept_now=body.accept, **body.model_dump(exclude={"accept"}),
        ))
    # What the answer shows is read inside the transaction: read after the commit it would
    # open a second transaction (on SQLite, queue for the write lock once more). Only
    # the building (the number's display form, the models' validation: ~0.3 ms, twenty-
    # sixth round) waits for the commit, outside the writers' turn.
    return filed_values(session, ticket, actor)


def filed_answer(session: Session, ticket: Ticket, actor: Actor) -> TicketOut:
    """The answer to whoever filed ``ticket``: the ticket as ``GET /tickets/{ref}`` shows
    it when it is in their scope, else its receipt (``TicketOut.receipt``); never a 404 for
    a ticket they filed (the same on a retry with their Idempotency-Key)."""
    return TicketOut.build(filed_values(session, ticket, actor))


def filed_values(session: Session, ticket: Ticket, actor: Actor) -> dict[str, Any]:
    """``filed_answer``'s values (``TicketOut.read``), read in the filing's transaction."""
    if queries.may_see_ticket(actor, ticket):
        return _shown(session, ticket, actor)
    return TicketOut.receipt_values(ticket, actor)


@router.get("/tickets", response_model=TicketPage)
def list_tickets(
    request: Request,
    token: Token,
    domain: DomainDep,
    status: Status | None = None,
    category: str | None = None,
    sub_category: Annotated[str | None, Query(max_length=32, description=SUB_CATEGORY_HELP)
                            ] = None,
    unit: str | None = None,
    q: Annotated[str | None, Query(max_length=64,
                                   description="number, phone or its last 4+ digits")] = None,
    overdue: bool = False,
    unconfirmed: Annotated[bool, Query(description="only tickets flagged 待确认")] = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
):
    filters = queries.Filters(status=status.value if status else None, category=category,
                              sub_category=_sub_category_filter(category, sub_category),
                              unit_code=unit, q=q, overdue=overdue, unconfirmed=unconfirmed)
    with unit_of_work(request, token, read_only=True) as (session, actor):
        _check_filters(session, filters)
        found = queries.ticket_page(session=session, actor=actor, now=domain.now(),
                                    filters=filters, page=page, page_size=page_size)
        return TicketPage(
            items=[TicketOut.of(t, actor, masked=True) for t in found.rows],
            total=found.total, page=page, page_size=page_size,
        )


@router.get("/tickets/{ref}", response_model=TicketOut)
def show_ticket(ref: str, request: Request, token: Token):
    with unit_of_work(request, token, read_only=True) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        return ticket_shown(session, ticket, actor)


@router.get("/tickets/{ref}/events", response_model=list[EventOut])
def ticket_events(ref: str, request: Request, token: Token):
    with unit_of_work(request, token, read_only=True) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        return [EventOut.of(e)
                for e in queries.visible_events(session=session, actor=actor, ticket=ticket)]


def act_on_ticket(
    request: Request, token: Token, domain: Domain, ref: str, fn: Callable[..., object],
    *roles: Role, **kwargs: object,
) -> TicketOut:
    """``fn`` on the ticket ``ref`` as the token's account (one of ``roles`` when given),
    committed, answered as the ticket now reads to that account."""
    with unit_of_work(request, token) as (session, actor):
        if roles:
            require(actor, *roles)
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        fn(session=session, domain=domain, ticket=ticket, actor=actor, **kwargs)
        session.commit()
        return ticket_shown(session, ticket, actor)


@router.post("/tickets/{ref}/accept", response_model=TicketOut)
def accept(ref: str, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.accept)


@router.post("/tickets/{ref}/dispatch", response_model=TicketOut)
def dispatch(ref: str, body: DispatchBody, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.dispatch,
                unit_id=body.unit_id, handler_id=body.handler_id)


@router.post("/tickets/{ref}/sign", response_model=TicketOut)
def sign(ref: str, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.sign, via="api")


@router.post("/tickets/{ref}/reply", response_model=TicketOut)
def reply(ref: str, body: ReplyBody, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.reply, text=body.text,
                outcome=body.outcome, reason=body.reason)


# --- reply attachments ------------------------------------------------------------------


def _attachment_out(settings: Settings, att: ReplyAttachment) -> AttachmentOut:
    return AttachmentOut(
        id=att.id, filename=att.filename, media_type=att.media_type, size=att.size,
        sha256=att.sha256, uploaded_by=att.uploaded_by, created_at=att.created_at,
        reply_event_id=att.event_id,
        problem=attachments.problem(settings, att),  # type: ignore[arg-type]  # a Literal
    )


@router.post("/tickets/{ref}/attachments", status_code=201, response_model=AttachmentOut)
def upload_attachment(ref: str, request: Request, token: Token, domain: DomainDep,
                      file: Annotated[UploadFile, File(description="JPEG, PNG or PDF")]):
    """A photo or document for the reply being written (the handler of a signed ticket);
    the next /reply takes every file uploaded since the last one. Audited."""
    with unit_of_work(request, token) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        # Read only for a user who may see the ticket: a made-up token costs no memory.
        data = attachments.read_upload(file.file, domain.settings.attachments.max_bytes)
        try:
            att = attachments.add(session=session, domain=domain, ticket=ticket, actor=actor,
                                  data=data, filename=file.filename)
        except attachments.AttachmentTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        session.commit()  # stores the file (ticketing.attachments)
        return _attachment_out(domain.settings, att)


@router.get("/tickets/{ref}/attachments", response_model=list[AttachmentOut])
def list_attachments(ref: str, request: Request, token: Token, domain: DomainDep):
    """The reply's photos and documents, for whoever may see the ticket."""
    with unit_of_work(request, token) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        return [_attachment_out(domain.settings, a)
                for a in attachments.of_ticket(session=session, ticket=ticket)]


@router.get("/tickets/{ref}/attachments/{attachment_id}", response_class=Response, responses={
    200: {"description": "the file, as uploaded (its SHA-256 checked)",
          "content": {t: {} for _, t, _ in attachments.SIGNATURES}}})
def download_attachment(ref: str, attachment_id: RowIdPath, request: Request, token: Token,
                        domain: DomainDep) -> Response:
    """One file, only if it still matches the SHA-256 taken at upload (409 otherwise)."""
    with unit_of_work(request, token) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        att = attachments.get(session=session, ticket=ticket, attachment_id=attachment_id)
        try:
            data = attachments.load_verified(domain.settings, att)
        except attachments.AttachmentProblem as exc:
            raise HTTPException(exc.status, exc.detail) from exc
        return Response(data, media_type=att.media_type,
                        headers=attachments.download_headers(att))


@router.post("/tickets/{ref}/close", response_model=TicketOut)
def close(ref: str, request: Request, token: Token, domain: DomainDep,
          body: OptionalNote | None = None):
    return act_on_ticket(request, token, domain, ref, service.close,
                         note=body.note if body else None)


def group_out(session: Session, ticket: Ticket, actor: Actor) -> GroupOut:
    """The 并单 group ``ticket`` is in (as its primary or a member); no members: none."""
    primary = merging.primary_of(session=session, ticket=ticket) or ticket
    return GroupOut(
        primary=primary.number, primary_status=primary.status,
        members=[GroupMemberOut(number=m.number, status=m.status, subject=m.subject,
                                received_at=m.received_at, merged_at=m.merged_at)
                 for m in merging.members(session=session, primary=primary, actor=actor)])


@router.post("/tickets/{ref}/merge", response_model=GroupOut)
def merge(ref: str, body: MergeBody, request: Request, token: Token, domain: DomainDep):
    """并单: merge open duplicates into this open ticket; one answer and one survey then
    cover the group, and every caller is texted the answer (docs/metrics.md)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *merging.MERGE_ROLES)
        primary = service.get_ticket(session=session, actor=actor, ref=ref)
        others = [service.get_ticket(session=session, actor=actor, ref=r) for r in body.others]
        merging.merge(session=session, domain=domain, primary=primary, others=others,
                      actor=actor, reason=body.reason)
        out = group_out(session, primary, actor)
        session.commit()
        return out


@router.post("/tickets/{ref}/unmerge", response_model=TicketOut)
def unmerge(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    """拆单: a ticket merged by mistake leaves its group, back to the state it had."""
    return act_on_ticket(request, token, domain, ref, merging.unmerge, *merging.MERGE_ROLES,
                reason=body.reason)


@router.get("/tickets/{ref}/group", response_model=GroupOut)
def group(ref: str, request: Request, token: Token):
    with unit_of_work(request, token) as (session, actor):
        return group_out(session, service.get_ticket(session=session, actor=actor, ref=ref),
                         actor)


@router.post("/tickets/{ref}/send_back", response_model=TicketOut)
def send_back(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    """核实退回: the handler's answer does not hold; back to them with the reason."""
    return act_on_ticket(request, token, domain, ref, service.send_back, reason=body.reason)


@router.post("/tickets/{ref}/return", response_model=TicketOut)
def return_ticket(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.return_ticket, reason=body.reason)


@router.post("/tickets/{ref}/request_info", response_model=EventOut)
def request_info(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    """补充信息: ask the citizen for what is missing (``reason`` is the question, texted to
    the caller's number unless they asked for no callback); the ticket stays where it is.
    The same question again while the citizen has not answered it answers that request (no
    second SMS); a different one is refused with 409 ``info_request_open``."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.OPERATOR, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN)
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        event = citizen.request_info(session=session, domain=domain, ticket=ticket,
                                     actor=actor, question=body.reason, at=domain.now())
        session.commit()
        return EventOut.of(event)


@router.post("/tickets/{ref}/exclude", response_model=TicketOut)
def exclude(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.exclude, reason=body.reason)


@router.post("/tickets/{ref}/request_exclusion", response_model=TicketOut)
def request_exclusion(ref: str, body: ExclusionRequest, request: Request, token: Token,
                      domain: DomainDep):
    """申请剔除 (handler): a reason from the configured list plus text; a supervisor decides
    with /exclude or /deny_exclusion."""
    return act_on_ticket(request, token, domain, ref, service.request_exclusion, reason=body.reason,
                text=body.text)


@router.post("/tickets/{ref}/deny_exclusion", response_model=TicketOut)
def deny_exclusion(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.deny_exclusion, reason=body.reason)


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
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                        description=PERIOD_HELP)] = None,
) -> dict[str, object]:
    """Points per unit and handler for a month or a year (docs/metrics.md)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *FIGURE_ROLES)
        period = period or domain.now().astimezone(domain.tz).strftime("%Y-%m")
        since, until = period_bounds(period, domain.tz)
        p = points(session=session, actor=actor, since=since, until=until)
        return {"period": period, "units": [s.as_dict() for s in p.units],
                "handlers": [s.as_dict() for s in p.handlers]}


@router.post("/tickets/{ref}/reject", response_model=TicketOut)
def reject(ref: str, body: Reason, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.reject_redo, reason=body.reason)


@router.post("/tickets/{ref}/reassign", response_model=TicketOut)
def reassign(ref: str, body: ReassignBody, request: Request, token: Token, domain: DomainDep):
    return act_on_ticket(request, token, domain, ref, service.reassign,
                unit_id=body.unit_id, handler_id=body.handler_id, reason=body.reason)


@router.post("/tickets/{ref}/classification", response_model=TicketOut)
def confirm_classification(ref: str, body: ClassificationBody, request: Request, token: Token,
                           domain: DomainDep):
    """Confirm (empty body) or correct the classification; clears 待确认, audited."""
    return act_on_ticket(request, token, domain, ref, service.confirm_classification,
                *service.CLASSIFIER_ROLES, **body.model_dump())


@router.post("/tickets/{ref}/respondent", response_model=TicketOut)
def set_respondent(ref: str, body: RespondentBody, request: Request, token: Token,
                   domain: DomainDep):
    """Set, correct or clear (null) the 反映主体; audited with before and after."""
    return act_on_ticket(request, token, domain, ref, service.set_respondent,
                *service.RESPONDENT_ROLES, respondent=body.respondent)


# The centre's keyed-in survey answer (POST /tickets/{ref}/survey) is served by
# outbound.views: it acts as the same answer on the survey call (outbound.survey.answer).


@router.get("/queue/manual", response_model=list[TicketOut])
def manual_queue(request: Request, token: Token):
    """Accepted or returned tickets no rule could dispatch, escalated first, oldest first;
    only those the reader may open (a supervisor's scope holds no unit-less ticket)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
        rows = session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(values(AWAITING_DISPATCH_STATUSES)),
                   queries.scope_filter(actor))
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
        require(actor, *FIGURE_ROLES)
        try:
            start, end = local_period(since, until, domain.tz)
            return figures(session=session, actor=actor, now=domain.now(),
                           since=start, until=end, unit_code=unit,
                           utility_window=domain.utility_window).as_dict()
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc


@router.get("/hotspots")
def hotspots(request: Request, token: Token, domain: DomainDep,
             since: Annotated[datetime | None, Query(description=MOMENT)] = None,
             min_tickets: Annotated[int, Query(ge=2, le=1000)] = 2) -> list[dict[str, object]]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, *FIGURE_ROLES)
        since = local_aware(since, domain.tz, field="query.since")
        return [h.__dict__ for h in hot_spots(session=session, actor=actor, since=since,
                                              min_tickets=min_tickets)]


@router.get("/hotspots/places")
def place_hotspots(request: Request, token: Token, domain: DomainDep,
                   level: Annotated[str, Query(pattern="^(district|street|community)$")
                                    ] = "community",
                   since: Annotated[datetime | None, Query(description=MOMENT)] = None,
                   until: Annotated[datetime | None, Query(description=MOMENT)] = None,
                   min_tickets: Annotated[int, Query(ge=1, le=1000)] = 2,
                   ) -> list[dict[str, object]]:
    """Hot spots grouped by district, street (街道/乡镇) or community (社区/村) and category."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *FIGURE_ROLES)
        start, end = local_period(since, until, domain.tz)
        rows = analytics.place_hot_spots(
            session=session, actor=actor, level=level, since=start, until=end,
            min_tickets=min_tickets)
        return [r.as_dict() for r in rows]


def _period(domain: Domain, period: str | None) -> str:
    return period or domain.now().astimezone(domain.tz).strftime("%Y-%m")


@router.get("/trends")
def trends(request: Request, token: Token, domain: DomainDep,
           period: Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                               description=PERIOD_HELP)] = None,
           ) -> dict[str, object]:
    """未诉先办: tickets per category and district against the previous period and the same
    period last year; the categories rising fastest first."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *FIGURE_ROLES)
        return analytics.trends(session=session, actor=actor, period=_period(domain, period),
                                tz=domain.tz).as_dict()


@router.get("/rankings")
def rankings(request: Request, token: Token, domain: DomainDep,
             period: Annotated[str | None, Query(pattern=PERIOD_PATTERN,
                                                 description=PERIOD_HELP)] = None,
             ) -> dict[str, object]:
    """红黑榜: units ranked by 三率两度 then points (order in docs/metrics.md)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *FIGURE_ROLES)
        return analytics.ranking(session=session, actor=actor, period=_period(domain, period),
                                 tz=domain.tz, now=domain.now()).as_dict()


def _case_out(session: Session, case: SupervisionCase, actor: Actor) -> dict[str, object]:
    return {"id": case.id, "category": case.category, "district": case.district,
            "street": case.street, "community": case.community, "status": case.status,
            "tickets": supervision.case_tickets(session=session, case_id=case.id, actor=actor),
            "opened_at": case.opened_at, "last_ticket_at": case.last_ticket_at,
            "closed_at": case.closed_at, "closed_by": case.closed_by,
            "close_note": case.close_note}


@router.get("/supervision")
def supervision_cases(request: Request, token: Token, domain: DomainDep,
                      open_only: bool = False,
                      since: Annotated[datetime | None, Query(description=MOMENT)] = None,
                      ) -> list[dict[str, object]]:
    """多诉督办 records with a ticket the reader may see, newest first."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *FIGURE_ROLES)
        found = supervision.cases(session=session, actor=actor, open_only=open_only,
                                  since=local_aware(since, domain.tz, field="query.since"))
        return [_case_out(session, c, actor) for c in found]


@router.post("/supervision/{case_id}/close")
def close_supervision(case_id: RowIdPath, body: Reason, request: Request, token: Token,
                      domain: DomainDep) -> dict[str, object]:
    """A supervisor closes a 督办 record, saying how the problem was settled; audited."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, *supervision.CLOSE_ROLES)
        found = supervision.cases(session=session, actor=actor, limit=1,
                                  case_id=case_id)
        if not found:
            raise HTTPException(404, f"supervision record {case_id} not found")
        case = supervision.close_case(session=session, domain=domain, case=found[0],
                                      actor=actor, note=body.reason)
        out = _case_out(session, case, actor)
        session.commit()
        return out


@router.get("/tickets/{ref}/related")
def related(ref: str, request: Request, token: Token, domain: DomainDep
            ) -> list[dict[str, object]]:
    """一诉多办: recent tickets of the same category in the same community or street."""
    with unit_of_work(request, token) as (session, actor):
        ticket = service.get_ticket(session=session, actor=actor, ref=ref)
        days = domain.settings.analytics.related_window_days
        return [r.as_dict() for r in analytics.related_tickets(
            session=session, actor=actor, ticket=ticket, now=domain.now(), days=days)]


# The response class has no media type of its own, so the errors stay documented as
# JSON while the file is documented as CSV.
@router.get("/export.csv", response_class=StreamingResponse, responses={
    200: {"description": "UTF-8 CSV with a BOM (for Excel), streamed as it is read",
          "content": {"text/csv": {"schema": {"type": "string"}}}}})
def export(
    request: Request, token: Token, domain: DomainDep,
    status: Status | None = None,
    category: str | None = None,
    sub_category: Annotated[str | None, Query(max_length=32, description=SUB_CATEGORY_HELP)
                            ] = None,
    unit: Annotated[str | None, Query(description="exactly this unit's code")] = None,
    since: Annotated[datetime | None, Query(description="call time from (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="call time until (exclusive)")] = None,
) -> StreamingResponse:
    start, end = local_period(since, until, domain.tz)
    filters = queries.Filters(
        status=status.value if status else None, category=category,
        sub_category=_sub_category_filter(category, sub_category), unit_code=unit,
        received_from=start, received_until=end,
    )
    with unit_of_work(request, token) as (session, actor):
        # Authenticated here; the rows are read batch by batch as the body is sent.
        _check_filters(session, filters)
    chunks = export_csv(sessions=request.app.state.sessions, actor=actor, tz=domain.tz,
                        filters=filters, now=domain.now())
    return StreamingResponse(
        (chunk.encode("utf-8") for chunk in chunks),
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
        # 422 naming the field for what the body got wrong, 409 for a code taken
        # (InvalidInput and StateConflict, answered by hotline.app's handlers).
        unit = add_unit(session=session, **body.model_dump())
        session.commit()
        return {"id": unit.id, "code": unit.code, "name": unit.name}


@router.get("/users")
def list_users(request: Request, token: Token) -> list[dict[str, object]]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN, Role.SUPERVISOR, Role.OPERATOR)
        # The accounts of the units whose tickets the reader sees (the scope's one rule): a
        # district's 督办员 has no need of the city's staff list (priv44).
        return [
            {"id": u.id, "username": u.username, "display_name": u.display_name,
             "role": u.role, "unit": u.unit.code if u.unit else None, "on_duty": u.on_duty,
             "active": u.active}
            for u in session.scalars(
                select(User).where(queries.in_scope(actor, User.unit_id)).order_by(User.id))
        ]


@router.post("/users", status_code=201)
def create_user(body: UserCreate, request: Request, token: Token) -> dict[str, object]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user, new_token = add_user(session=session,
                                   **{**body.model_dump(), "role": Role(body.role)})
        session.commit()
        return {"id": user.id, "username": user.username, "token": new_token}


def _account(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, f"user {user_id} does not exist")
    return user


@router.post("/users/{user_id}/disable")
def disable(user_id: RowIdPath, request: Request, token: Token) -> dict[str, object]:
    """Lock a user out at once: their token and console sessions stop working (admins)."""
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user = _account(session, user_id)
        if user.id == actor.id:
            # The API must not lock out the last way in; the CLI can still do it.
            raise HTTPException(409, "an admin cannot disable their own account")
        disable_user(session=session, user=user, actor=actor, staff_number_days=(
            request.app.state.settings.verification.staff_number_days))
        session.commit()
        return {"id": user.id, "username": user.username, "active": user.active}


@router.post("/users/{user_id}/enable")
def enable(user_id: RowIdPath, request: Request, token: Token) -> dict[str, object]:
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user = _account(session, user_id)
        try:
            enable_user(session=session, user=user, actor=actor)
        except ValueError as exc:  # an account of the service's own role (mend89)
            raise HTTPException(409, str(exc)) from exc
        session.commit()
        return {"id": user.id, "username": user.username, "active": user.active}


@router.post("/users/{user_id}/rotate-token")
def rotate(user_id: RowIdPath, request: Request, response: Response,
           token: Token) -> dict[str, object]:
    """A new token for the user, shown in this answer only; the old one stops working."""
    response.headers["Cache-Control"] = "no-store"  # a credential: kept by no cache
    with unit_of_work(request, token) as (session, actor):
        require(actor, Role.ADMIN)
        user = _account(session, user_id)
        try:
            new_token = rotate_token(session=session, user=user, actor=actor)
        except ValueError as exc:  # an account of the service's own role (mend89)
            raise HTTPException(409, str(exc)) from exc
        session.commit()
        return {"id": user.id, "username": user.username, "token": new_token}


# --- the citizen's status page ---------------------------------------------------------

public_router = APIRouter(tags=["citizen"])

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>12345 工单办理情况</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:1em auto;padding:0 1em">
<h1>12345 工单办理情况</h1>
{body}
<p>查询也可拨打12345按1。</p>
</body></html>"""


def _page(body: str, status: int = 200) -> Response:
    # The link is the key: not cached, not sent on as a referrer, not indexed.
    return Response(_PAGE.format(body=body), status, media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                             "X-Robots-Tag": "noindex"})


@public_router.get("/s/{token}", response_class=Response, include_in_schema=False)
def status_page(token: str, request: Request, domain: DomainDep) -> Response:
    """One ticket's step and answer, for whoever holds the link texted to its caller. Only
    what the citizen told us and the answer they are owed: never the caller's number or
    name, the unit, nor a handler."""
    with request.app.state.sessions() as session:
        ticket = citizen.by_status_token(session=session, token=token)
        if ticket is None:
            return _page("<p>没有找到这个工单，请核对短信中的链接。</p>", 404)
        return _page(status_page_body(ticket, domain))


TO_COME_WITH_THE_WORDS = "录音转写后确定"


def status_page_body(ticket: Ticket, domain: Domain) -> str:
    from html import escape

    from ticketing.classify import category_label

    def local(at: datetime | None) -> str:
        return at.astimezone(domain.tz).strftime("%Y-%m-%d %H:%M") if at else "—"

    try:
        category = category_label(ticket.category)
    except KeyError:  # a category since removed from config/categories.toml
        category = ticket.category
    # A call's words still waiting for the backlog: its category and deadline are
    # placeholders the words will move, promised here no more than on the call or in the
    # SMS that links here (``service.words_pending``).
    pending = service.words_pending(ticket)
    if pending:
        category = TO_COME_WITH_THE_WORDS
    rows = [("工单编号", ticket.number),
            ("诉求类别", category),
            ("受理时间", local(ticket.received_at)),
            ("办理状态", citizen.public_step(ticket))]
    # A deadline while the ticket is waited on, a closure's rows for a closure: an excluded
    # (剔除) ticket read "办理时限 <tomorrow>", and archived after it "办理结果 已答复" where
    # nobody had answered (judge27).
    if Status(ticket.status) in AWAITING_ANSWER_STATUSES:
        # A merged (并单) ticket is answered with its primary, by the primary's deadline:
        # its own due_at is the one it had when it was merged (review56).
        session = object_session(ticket)
        answer = (merging.answering(session=session, ticket=ticket) if session is not None
                  else ticket)
        rows.append(("办理时限", TO_COME_WITH_THE_WORDS if service.words_pending(answer)
                     else local(answer.due_at)))
    elif ticket.closed_at is not None:
        rows += [("办结时间", local(ticket.closed_at)),
                 ("办理结果", citizen.outcome_label(ticket)),
                 ("答复内容", ticket.reply_text or "—")]
    elif citizen.is_set_aside(ticket):
        # Why, as its 剔除 SMS said: a listed reason or none, never what staff wrote.
        session = object_session(ticket)
        reason = None if session is None else citizen.set_aside_reason(
            session=session, ticket=ticket,
            listed=domain.settings.verification.exclusion_reasons)
        rows.append(("不予办理原因", reason or "—"))
    cells = "".join(f"<tr><th align=left>{escape(k)}</th><td>{escape(v)}</td></tr>"
                    for k, v in rows)
    return f"<table>{cells}</table>"
