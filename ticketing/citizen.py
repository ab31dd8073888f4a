"""The citizen's side of a ticket: what they may be told about their own ticket, the key to
its public status page, and what they may change by SMS or keypad.

Who is "the citizen" here: whoever holds the ticket's caller number (caller ID, an SMS
sender) or its status token. A confidential (保密) ticket is kept from the *handler*, not
from the citizen who filed it, so its own status and answer do go to its own number --
never to any other number, and never read out to a caller ID (ivr.ticket_lookup), which
anyone can set.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, update
from sqlalchemy.orm import Session, aliased

from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import set_unflushed
from ticketing.inputs import StateConflict, clean_text, has_text
from ticketing.merging import survey_phone
from ticketing.models import SurveyResult, Ticket, TicketEvent
from ticketing.phones import normalise
from ticketing.service import REPLY_OUTCOMES, InvalidInput, excluded_for, record_event
from ticketing.states import (
    AWAITING_ANSWER_STATUSES,
    OPEN_STATUSES,
    SET_ASIDE_STATUSES,
    Action,
    Status,
    public_label,
    set_aside,
    values,
)

# 128 random bits: the page shows the answer, so the key must not be guessable; the
# ticket number is sequential and never opens the page.
TOKEN_BYTES = 16
# Closed tickets whose answer key 1 reads (and the inbound-SMS rules look back this far).
RECENT_CLOSED_DAYS = 30
# What the citizen sends us is kept as typed, up to this much.
FOLLOW_UP_MAX_CHARS = 500
_SENTENCE_END = "。！？；!?;"


def _filed_from(phone: str, tickets: Any = Ticket) -> ColumnElement[bool]:
    """Tickets filed from ``phone`` in any spelling (compared in E.164, ticketing.phones);
    none for what is no number -- never the NULL of withheld callers, which match no one.
    ``tickets``: an alias of Ticket, to ask it of another row of the same query."""
    e164 = normalise(phone)
    return tickets.caller_phone == e164 if e164 else false()


def status_token(*, session: Session, ticket: Ticket) -> str:
    """The ticket's status-page token, made on first use.

    Made by an UPDATE of its own that leaves the optimistic lock (``Ticket.version``) and
    ``updated_at`` alone: the token is no edit of the ticket. Through the versioned flush,
    the outbound claim pass making it (texting the citizen) failed with StaleDataError
    whenever another transaction had saved the ticket since the claim loaded it (a survey
    answer, a handler's sign), or made that transaction fail the same way. Two first uses
    at once: the first token stays, the other reads it."""
    if ticket.status_token:
        return ticket.status_token
    session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status_token.is_(None))
        .values(status_token=secrets.token_urlsafe(TOKEN_BYTES), updated_at=Ticket.updated_at)
        .execution_options(synchronize_session=False))
    token = session.scalars(select(Ticket.status_token).where(Ticket.id == ticket.id)).one()
    assert token is not None
    set_unflushed(session, ticket, status_token=token)
    return token


def by_status_token(*, session: Session, token: str) -> Ticket | None:
    # The length check keeps junk out of the query; the token itself is compared by the
    # database's unique index (guessing 128 bits through it is not a timing game).
    if not token or len(token) > 64 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    return session.scalars(select(Ticket).where(Ticket.status_token == token)).first()


def shorten(text: str | None, limit: int) -> str:
    """``text`` in at most ``limit`` characters, on one line: whole sentences when they fit,
    else cut with an ellipsis. The one rule for the short answer in SMS, on the survey call
    and at key 1."""
    flat = re.sub(r"\s+", " ", (text or "")).strip()
    if len(flat) <= limit:
        return flat
    if limit <= 1:
        return flat[:max(0, limit)]
    cut = flat[:limit]
    end = max(cut.rfind(c) for c in _SENTENCE_END)
    if end >= limit // 2:  # a whole sentence that keeps at least half the room
        return cut[:end + 1]
    return flat[:limit - 1] + "…"


def outcome_label(ticket: Ticket) -> str:
    """已解决 / 部分解决 / 无法解决 (the handler's structured answer); 已答复 when the ticket
    was answered at intake without one."""
    return REPLY_OUTCOMES.get(ticket.reply_outcome or "", "已答复")


def short_answer(ticket: Ticket, limit: int) -> str:
    """The answer as the citizen hears it: outcome, then the reply, within ``limit``."""
    head = outcome_label(ticket)
    reply = shorten(ticket.reply_text, max(0, limit - len(head) - 1))
    return f"{head}：{reply}" if reply else head


def exclusion_label(*, ticket: Ticket, event: TicketEvent | None,
                    listed: list[str]) -> str | None:
    """Why the ticket was 剔除, in words its citizen may be told: one of ``listed``
    (settings.verification.exclusion_reasons) that the centre's 剔除 reason begins with
    ("非本市事项：…"), else the one the handler's 申请剔除 named when the centre decided on
    that request. Never the free text: staff write it for the record (who keeps calling,
    what they think of it), not for the caller. None: no listed reason to tell."""
    if event is None:
        return None
    # A 剔除 made before its grounds were stored on the ticket left the request's there, or
    # none: read its event as service.exclude now reads the decision (one rule).
    requested = ((ticket.exclusion_reason, None)
                 if event.from_status == Status.EXCLUSION_REQUESTED.value else (None, None))
    return excluded_for(said=event.note or "", requested=requested, listed=listed)[0]


def public_step(ticket: Ticket) -> str:
    """The ticket's state as its citizen is told it (``states.public_label``)."""
    return public_label(Status(ticket.status), closed=ticket.closed_at is not None)


def is_set_aside(ticket: Ticket) -> bool:
    return set_aside(Status(ticket.status), closed=ticket.closed_at is not None)


def set_aside_where(tickets: Any = Ticket) -> ColumnElement[bool]:
    """``states.set_aside`` in SQL, of ``tickets`` (Ticket or an alias)."""
    return and_(tickets.status.in_(values(SET_ASIDE_STATUSES)), tickets.closed_at.is_(None))


def set_aside_reason(*, session: Session, ticket: Ticket, listed: list[str]) -> str | None:
    """Why a ticket set aside was, in the words its citizen may be told: its 剔除 SMS's
    rule (``exclusion_label``) on its 剔除 event. None: no listed reason to tell."""
    event = session.scalars(select(TicketEvent).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.action == Action.EXCLUDE.value)
        .order_by(TicketEvent.id.desc()).limit(1)).first()
    return exclusion_label(ticket=ticket, event=event, listed=listed)


def awaiting_survey(*, session: Session, phone: str, now: datetime) -> list[Ticket]:
    """Tickets whose survey goes to ``phone``, closed, whose citizen has not answered the
    survey of this closure yet (an "unreachable" record does not count as an answer); most
    recently closed first. A 并单 group's survey is on its primary, and may go to a merged
    caller (ticketing.merging.survey_phone picks whose number): that caller's answer is the
    primary's, and nobody else's in the group is."""
    answered = select(SurveyResult.id).where(
        SurveyResult.ticket_id == Ticket.id, SurveyResult.closure_round == Ticket.redo_count,
        SurveyResult.outcome == "answered").exists()
    member = aliased(Ticket)
    theirs_merged = select(member.id).where(member.merged_into_id == Ticket.id,
                                            _filed_from(phone, member)).exists()
    found = session.scalars(
        select(Ticket).where(
            or_(_filed_from(phone), theirs_merged),
            Ticket.status == Status.CLOSED.value,
            # A merged ticket is surveyed through its primary (ticketing.merging).
            Ticket.merged_into_id.is_(None),
            Ticket.closed_at >= now - timedelta(days=RECENT_CLOSED_DAYS), ~answered)
        .order_by(Ticket.closed_at.desc(), Ticket.id.desc()))
    e164 = normalise(phone)
    return [t for t in found if survey_phone(session=session, ticket=t) == e164]


def latest_open(*, session: Session, phone: str) -> Ticket | None:
    """Their most recent ticket still waiting for its answer: open, or merged (并单) into an
    open primary, whose answer it waits for (ticketing.merging.answering)."""
    return session.scalars(
        select(Ticket).where(_filed_from(phone),
                             Ticket.status.in_(values(AWAITING_ANSWER_STATUSES)))
        .order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(1)).first()


def known_sender(*, session: Session, phone: str) -> bool:
    return session.scalar(select(Ticket.id).where(
        _filed_from(phone)).limit(1)) is not None


def stop_callbacks(*, session: Session, phone: str, actor: Actor, via: str,
                   now: datetime) -> list[Ticket]:
    """The citizen asked for no callback (回复TD / 不要回访): every ticket of theirs still
    open, merged (并单: the group's survey may pass to a merged caller, judge27) or
    closed-and-awaiting-survey is marked, audited; already marked ones are left."""
    tickets = session.scalars(
        select(Ticket).where(
            _filed_from(phone), Ticket.no_contact.is_(False),
            Ticket.status.in_([*values(AWAITING_ANSWER_STATUSES), Status.CLOSED.value]))
        .order_by(Ticket.id)).all()
    for ticket in tickets:
        set_preferences(session=session, ticket=ticket, actor=actor, no_contact=True, via=via,
                        at=now)
    return list(tickets)


def set_preferences(*, session: Session, ticket: Ticket, actor: Actor,
                    confidential: bool | None = None, no_contact: bool | None = None,
                    via: str, at: datetime | None = None) -> bool:
    """The citizen's 保密 / 不要回访 choice, recorded on the ticket with an audit event.
    Only ever switched on here: a citizen's "keep me out of it" is not undone by a later
    message. True when something changed."""
    changed: dict[str, bool] = {}
    if confidential and not ticket.confidential:
        ticket.confidential = changed["confidential"] = True
    if no_contact and not ticket.no_contact:
        ticket.no_contact = changed["no_contact"] = True
    if not changed:
        return False
    words = [w for k, w in (("confidential", "身份保密"), ("no_contact", "不要回访"))
             if k in changed]
    record_event(session=session, ticket=ticket, actor=actor, action="citizen_preferences",
                 note="市民要求" + "、".join(words), data={**changed, "via": via}, at=at)
    session.flush()
    return True


def follow_up(*, session: Session, ticket: Ticket, actor: Actor, text: str, via: str,
              ref: str | None = None, at: datetime | None = None,
              merged_from: Ticket | None = None) -> TicketEvent:
    """The citizen's own words added to their ticket (补充信息), audited like every step;
    the audit event (flushed: its id names the follow-up). ``merged_from``: their ticket is
    merged (并单) into ``ticket``, whose handler answers it, so the words go there, saying
    whose they are."""
    words = clean_text(text, field="text", multiline=True).strip()
    if not has_text(words):  # zero-width characters add nothing (inputs.has_text)
        raise InvalidInput("text", "nothing to add")
    data: dict[str, str | None] = {"via": via, "ref": ref}
    if merged_from is not None:
        words = f"（并入本单的工单{merged_from.number}来电人）{words}"
        data["merged"] = merged_from.number
    event = record_event(session=session, ticket=ticket, actor=actor,
                         action="citizen_follow_up", note=words[:FOLLOW_UP_MAX_CHARS],
                         data=data, at=at)
    session.flush()
    return event


class InfoRequestOpen(Exception):
    """A different 补充信息 question while the citizen has not answered the last one (HTTP
    409): they are texted one question at a time, never two in a row."""

    def __init__(self, ticket: Ticket, pending: TicketEvent) -> None:
        # Read now: the answer is written after the request's session is gone.
        self.pending = pending.note or ""
        super().__init__(
            f"ticket {ticket.number} already asked the citizen for information "
            f"({self.pending!r}) and waits for their answer; it is texted once, ask again "
            "after their answer")


def open_info_request(*, session: Session, domain: Domain, ticket: Ticket,
                      now: datetime) -> TicketEvent | None:
    """The ticket's last 补充信息 still waiting for the citizen: no follow-up of theirs and no
    change of state since, and younger than ``outbound.citizen_sms_max_age_hours`` (past
    that its SMS has gone or never will: asking again is a new reminder)."""
    max_age = timedelta(hours=domain.settings.outbound.citizen_sms_max_age_hours)
    last = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                  TicketEvent.action == "request_info",
                                  TicketEvent.at >= now - max_age)
        .order_by(TicketEvent.id.desc()).limit(1)).first()
    if last is None:
        return None
    moved_on = select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.id > last.id,
        or_(TicketEvent.action == "citizen_follow_up", TicketEvent.to_status.is_not(None)))
    return None if session.scalar(moved_on.limit(1)) is not None else last


def request_info(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor,
                 question: str, at: datetime | None = None) -> TicketEvent:
    """补充信息: the hotline or the handler needs more from the citizen. The ticket stays
    where it is; the outbound planner texts the question to the caller (unless they asked
    for no callback; one SMS per request event, outbound.citizen_sms) and their reply
    comes back as a follow-up. The audit event of the request.

    One question at a time: the same question again while it waits for the citizen (a
    double click, a client's retry) is that request, not a second one -- nothing new is
    recorded or texted; a different one raises InfoRequestOpen (docs/outbound.md)."""
    words = clean_text(question, field="question").strip()
    if not has_text(words):  # a question of zero-width characters asks nothing
        raise InvalidInput("question", "say what is missing")
    # Two requests at once (PostgreSQL): the row lock makes the second wait for the first
    # and then see its event. SQLite's writers take turns already (BEGIN IMMEDIATE).
    session.scalars(select(Ticket).where(Ticket.id == ticket.id).with_for_update()
                    .execution_options(populate_existing=True)).one()
    if Status(ticket.status) not in OPEN_STATUSES:
        raise StateConflict("ticket", f"ticket {ticket.number} is not open")
    note = words[:200]
    now = at or domain.now()
    pending = open_info_request(session=session, domain=domain, ticket=ticket, now=now)
    if pending is not None:
        if pending.note == note:
            return pending
        raise InfoRequestOpen(ticket, pending)
    event = record_event(session=session, ticket=ticket, actor=actor, action="request_info",
                         note=note, at=now)
    session.flush()
    return event
