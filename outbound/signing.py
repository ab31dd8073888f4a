"""One 签收 reminder call for all of a handler's tickets waiting for their sign.

A handler with several unsigned tickets got one reminder call after another (one phone,
one call at a time, docs/outbound.md). Now the call placed for one of them covers the
others whose reminder is due too (or waits for this very line): the count first
("您有3张工单待签收"), then each ticket in turn, most urgent first after the one the call
was placed for: 1 signs it, 2 passes it over, 9 signs it and every one after it.

Nothing is claimed for the others: each key's effect commits at once (the sign, and a line
on that ticket's trail, ``outbound_covered``), and their own reminder tasks stay as they
were. When the call ends they fall due as any call waiting for the line does: a ticket
signed in the call has its reminder cancelled at its claim, one passed over or not reached
(the handler hung up, the worker died) gets its own call. A crash mid-call loses nothing.
The tickets a call covers are fixed on its attempt (``data.covers``) the first time the
conversation is built, so a carrier that rebuilds it for every key (Twilio's webhooks)
asks about the same tickets in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, or_, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from outbound.conversation import Conversation, Step
from outbound.models import Kind, OutboundAttempt, OutboundTask, TaskStatus
from outbound.policies import SYSTEM
from outbound.rounds import dispatch_round
from ticketing import service
from ticketing.actors import Actor
from ticketing.classify import URGENCY_LEVELS, category_label
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket, User
from ticketing.states import Status

# OutboundAttempt.data: the ids of the tickets the call covers, the one it was placed for
# first; and the ids it signed (``SignCall.after`` reads its own ticket's there).
COVERS = "covers"
SIGNED = "signed"
# At most this many tickets in one call: a handler with dozens is told the first ones and
# the rest follow in calls of their own (the call must end for the line to serve others).
MAX_COVERED = 9


@dataclass(frozen=True)
class Covered:
    ticket_id: int
    number: str
    category: str
    round: int  # the dispatch round its reminder is for


def spoken_number(number: str) -> str:
    """Digits one by one, so TTS reads 2611240007 as a ticket number, not a quantity."""
    return " ".join(number)


def covered_tickets(*, sessions: sessionmaker[Session], task_id: int, task_round: int,
                    ticket_id: int, attempt_id: int, now: datetime) -> list[Covered]:
    """The tickets the call of the attempt asks about: its own first, then the handler's
    other tickets waiting for their sign whose reminder is due or waits for the line
    (urgency, then deadline, then the order they were planned). Fixed on the attempt the
    first time (``data.covers``)."""
    with transaction(sessions) as session:
        return covered_in(session, task_id=task_id, task_round=task_round,
                          ticket_id=ticket_id, attempt_id=attempt_id, now=now)


def covered_in(session: Session, *, task_id: int, task_round: int, ticket_id: int,
               attempt_id: int, now: datetime) -> list[Covered]:
    """``covered_tickets`` in a transaction of the caller's (one that may hold the attempt
    row already: a key pressed before any question was asked)."""
    row = session.get_one(OutboundAttempt, attempt_id)
    fixed = (row.data or {}).get(COVERS)
    if fixed is None:
        fixed = [ticket_id, *_others(session, task_id=task_id, ticket_id=ticket_id,
                                     handler_id=row.to_user_id, now=now)]
        row.data = {**(row.data or {}), COVERS: fixed}
    tickets = {t.id: t for t in session.scalars(select(Ticket).where(Ticket.id.in_(fixed)))}
    rounds = {t.id: task_round if t.id == ticket_id else
              dispatch_round(session=session, ticket_id=t.id) for t in tickets.values()}
    return [Covered(i, tickets[i].number, category_label(tickets[i].category), rounds[i])
            for i in fixed if i in tickets]


def _others(session: Session, *, task_id: int, ticket_id: int, handler_id: int | None,
            now: datetime) -> list[int]:
    if handler_id is None:
        return []
    rows = session.execute(
        select(OutboundTask, Ticket).join(Ticket, Ticket.id == OutboundTask.ticket_id)
        .where(OutboundTask.kind == Kind.SIGN_CALL.value,
               OutboundTask.status == TaskStatus.PENDING.value,
               OutboundTask.id != task_id, OutboundTask.ticket_id != ticket_id,
               Ticket.handler_id == handler_id,
               Ticket.status == Status.DISPATCHED.value,
               # Due, or held for this line (worker.WAITS_FOR_LINE / CLAIMED_LINE).
               or_(OutboundTask.due_at <= now,
                   and_(OutboundTask.result.is_not(None),
                        OutboundTask.result.startswith("line"))))
        .order_by(case({u: i for i, u in enumerate(URGENCY_LEVELS)}, value=Ticket.urgency,
                       else_=len(URGENCY_LEVELS)),
                  Ticket.due_at.is_(None), Ticket.due_at, OutboundTask.id)).all()
    chosen: list[int] = []
    for other, t in rows:
        # Its reminder is for the ticket's current dispatch round (a 改派 starts another).
        if t.id in chosen or dispatch_round(session=session, ticket_id=t.id) != other.round:
            continue
        chosen.append(t.id)
        if len(chosen) >= MAX_COVERED - 1:
            break
    return chosen


def signed_on(attempt: OutboundAttempt, ticket_id: int) -> bool:
    """Whether a key on this call signed ``ticket_id`` (``sign_by_keypad`` keeps the list)."""
    return ticket_id in ((attempt.data or {}).get(SIGNED) or [])


def sign_by_keypad(session: Session, domain: Domain, attempt: OutboundAttempt,
                   ticket: Ticket, task_round: int) -> bool:
    """Sign ``ticket`` as the called handler (via keypad), if it still waits for the sign
    of that dispatch round; whether it was signed here. Kept on the attempt (``signed``)."""
    handler = session.get(User, attempt.to_user_id) if attempt.to_user_id else None
    if (handler is None or ticket.status != Status.DISPATCHED.value
            or dispatch_round(session=session, ticket_id=ticket.id) != task_round):
        return False
    service.sign(session=session, domain=domain, ticket=ticket, actor=Actor.of(handler),
                 via="keypad")
    signed = list((attempt.data or {}).get(SIGNED) or [])
    attempt.data = {**(attempt.data or {}), SIGNED: [*signed, ticket.id]}
    return True


class SeveralSignConversation(Conversation):
    """The count, then each ticket in turn: 1 signs it, 2 passes it over, 9 signs it and
    all after it. ``keys``: one key per ticket asked so far, in order."""

    def __init__(self, *, tickets: list[Covered], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.tickets = tickets

    def step(self, keys: str) -> Step:
        asked = len(keys)
        if keys.endswith("9") or asked >= len(self.tickets):
            signed = keys.count("1") + (len(self.tickets) - asked + 1 if keys.endswith("9")
                                        else 0)
            passed = keys.count("2")
            later = f"跳过的{passed}张稍后另行提醒。" if passed else ""
            return Step("sign_several_done",
                        f"本次处理{signed}张工单签收。{later}请尽快办理。再见。")
        t = self.tickets[asked]
        return Step("sign_several",
                    f"第{asked + 1}张，工单号{spoken_number(t.number)}，类别{t.category}。"
                    "签收请按1，跳过请按2，全部签收请按9。", keys="129",
                    report=f"您有{len(self.tickets)}张工单待签收。" if not keys else "")

    def effect(self, session: Session, attempt: OutboundAttempt, keys: str) -> None:
        at, key = len(keys) - 1, keys[-1:]
        if at < 0 or at >= len(self.tickets):
            return
        answered = self.tickets[at:] if key == "9" else [self.tickets[at]]
        primary = self.tickets[0]
        for place, covered in enumerate(answered, start=at):
            ticket = session.get_one(Ticket, covered.ticket_id, populate_existing=True)
            done = key in "19" and sign_by_keypad(session, self.domain, attempt, ticket,
                                                  covered.round)
            if place == 0:
                continue  # its own line is the call's (worker._audit)
            what = ("已签收" if done else "该工单已签收或已改派，无需操作" if key in "19"
                    else "跳过，稍后另行提醒")
            service.record_event(
                session=session, ticket=ticket, actor=SYSTEM, action="outbound_covered",
                note=(f"签收提醒电话（与工单{primary.number}的提醒合并为一通，第{place + 1}张）："
                      f"按键{key}，{what}"),
                data={"attempt": attempt.id, "with_ticket": primary.number, "key": key,
                      "place": place + 1, "signed": done},
                at=self.domain.now())


class SignReminder(Conversation):
    """The 签收 reminder: ``single`` (the one ticket's own dialogue) unless the handler has
    others due, then ``SeveralSignConversation``. Chosen at the first question, in a
    transaction of its own: the conversation is built inside the worker's read of the
    attempt, which on SQLite holds the one write lock (``worker.conversation_for``)."""

    def __init__(self, *, single: Conversation,
                 cover: Callable[[Session | None], list[Covered]], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._single = single
        self._cover = cover
        self._chosen: Conversation | None = None

    def _dialogue(self, session: Session | None = None) -> Conversation:
        if self._chosen is None:
            tickets = self._cover(session)
            self._chosen = self._single if len(tickets) <= 1 else SeveralSignConversation(
                sessions=self.sessions, domain=self.domain, attempt_id=self.attempt_id,
                tickets=tickets)
        return self._chosen

    def step(self, keys: str) -> Step:
        return self._dialogue().step(keys)

    def effect(self, session: Session, attempt: OutboundAttempt, keys: str) -> None:
        # In the key's own transaction: it holds the attempt row (Conversation.pressed).
        self._dialogue(session).effect(session, attempt, keys)

    def recall(self, attempt: OutboundAttempt, keys: str) -> None:
        # A key posted again (Conversation.pressed) reaches the dialogue that heard it first.
        self._dialogue(object_session(attempt)).recall(attempt, keys)
