"""Helpers for the outbound tests: tickets in a given state, a scripted in-process dialer
(ONLY for pure scheduling logic), an SMS recorder, and a driver that ticks a worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from outbound.conversation import Conversation
from outbound.dialers import CallResult
from outbound.models import OutboundAttempt, OutboundTask, Outcome
from outbound.planner import plan
from outbound.sms import SmsResult
from outbound.worker import Claim, OutboundWorker, claim_due
from tests.support.city import City
from ticketing import merging, service
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent, User
from ticketing.phones import dial_forms

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
WATER_HANDLER_PHONE = "13900000030"
CITY_SUPERVISOR_PHONE = "13900000002"


def fast(settings: Settings, **outbound: object) -> Settings:
    """Windows, retries and quiet hours in seconds, so tests run them for real."""
    values: dict[str, object] = {
        "reminder_retry_seconds": [1, 1], "survey_retry_seconds": [1, 1],
        "sms_retry_seconds": [1], "poll_seconds": 0.05, "plan_seconds": 0.05,
        "ring_seconds": 4.0, "key_timeout_seconds": 4.0, "lease_seconds": 60.0,
        "quiet_start": "00:00", "quiet_end": "00:00",
        "max_parallel": 4, "survey_daily_cap": 10,
        # With a one-second sign window the reminder call comes when it ends, as before.
        "sign_call_lead_seconds": 0.0,
    }
    values.update(outbound)
    # The escalation ladder is off here: these tests are about other work items, and the
    # ladder's own tests (test_escalation.py) run it as shipped.
    return settings.model_copy(update={
        "outbound": settings.outbound.model_copy(update=values),
        "escalation": settings.escalation.model_copy(update={"ladder": []}),
        "deadlines": settings.deadlines.model_copy(update={"sign_window_seconds": 1}),
    })


def new_ticket(sessions: sessionmaker[Session], domain: Domain, city: City, *,
               phone: str | None = "13811112222", demand: str = WATER, no_contact: bool = False,
               keyed: bool = False) -> str:
    """A water ticket from a citizen, accepted and auto-dispatched to bj-water."""
    operator = city.actor("operator")  # before our session: SQLite has one writer
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator,
                                  channel="api", caller_phone=phone, demand=demand,
                                  no_contact=no_contact, caller_phone_keyed=keyed)
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        assert t.status == "dispatched", t.status
        s.commit()
        return t.number


def close_ticket(sessions: sessionmaker[Session], domain: Domain, city: City,
                 number: str) -> None:
    handler, operator = city.actor("water-handler"), city.actor("operator")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        if t.status == "dispatched":
            service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=operator)  # 核实
        s.commit()


def redo_and_close(sessions: sessionmaker[Session], domain: Domain, city: City,
                   number: str, *, reason: str) -> None:
    """The centre's 驳回重办 of a closed ticket, then the redo answered and closed again."""
    supervisor = city.actor("supervisor")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=supervisor, ref=number)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=supervisor,
                            reason=reason)
        s.commit()
    close_ticket(sessions, domain, city, number)


def merge_into(sessions: sessionmaker[Session], domain: Domain, city: City, primary: str,
               other: str, *, reason: str = "同一小区停水") -> None:
    """The centre's supervisor's 并单 of ``other`` into ``primary``."""
    supervisor = city.actor("supervisor")
    with sessions() as s:
        merging.merge(session=s, domain=domain,
                      primary=service.get_ticket(session=s, actor=supervisor, ref=primary),
                      others=[service.get_ticket(session=s, actor=supervisor, ref=other)],
                      actor=supervisor, reason=reason)
        s.commit()


def ticket(sessions: sessionmaker[Session], number: str) -> Ticket:
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        s.expunge(t)
        return t


def events(sessions: sessionmaker[Session], number: str) -> list[TicketEvent]:
    with sessions() as s:
        tid = s.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        return list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tid)
                              .order_by(TicketEvent.id)))


def attempts(sessions: sessionmaker[Session], number: str, kind: str | None = None
             ) -> list[OutboundAttempt]:
    with sessions() as s:
        tid = s.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        stmt = select(OutboundAttempt).where(OutboundAttempt.ticket_id == tid)
        if kind:
            stmt = stmt.where(OutboundAttempt.kind == kind)
        return list(s.scalars(stmt.order_by(OutboundAttempt.id)))


def tasks(sessions: sessionmaker[Session], number: str, kind: str | None = None
          ) -> list[OutboundTask]:
    with sessions() as s:
        tid = s.scalars(select(Ticket.id).where(Ticket.number == number)).one()
        stmt = select(OutboundTask).where(OutboundTask.ticket_id == tid)
        if kind:
            stmt = stmt.where(OutboundTask.kind == kind)
        return list(s.scalars(stmt.order_by(OutboundTask.id)))


def user_phone(sessions: sessionmaker[Session], username: str) -> str:
    with sessions() as s:
        return s.scalars(select(User.phone).where(User.username == username)).one()


class Clock:
    """The domain's clock, moved by the test: the planner, the worker and the service all
    read ``domain.now()``, so windows and retries pass without waiting for them."""

    def __init__(self, domain: Domain) -> None:
        self.at = domain.now()
        domain.now = lambda: self.at  # type: ignore[method-assign]


def claim_calls(sessions: sessionmaker[Session], domain: Domain, clock: Clock, limit: int,
                running: set[int]) -> list[str]:
    """Plan, then claim up to ``limit`` calls (no SMS) at the clock's time, as a worker
    carrying out ``running`` would (the claimed are added to it): "kind:phone" each."""
    with sessions() as s:
        plan(session=s, domain=domain, now=clock.at)
        claims = claim_due(session=s, domain=domain, worker="w", now=clock.at, limit=limit,
                           sms_limit=0, carrier="test", sms_carrier="test", running=running)
        s.commit()
    running |= {c.task_id for c in claims}
    return [f"{c.kind}:{c.target.phone}" for c in claims]


def drive(worker: OutboundWorker, until: Callable[[], bool], timeout: float = 20.0, *,
          clock: Clock | None = None, step: timedelta = timedelta(seconds=0.25)) -> None:
    """Tick the worker like the scheduler does until ``until()`` holds. With ``clock``, the
    domain's time moves on by ``step`` each round (once what was started has finished)
    instead of the test waiting for the wall clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker.tick()
        if until() and worker.wait_idle(0.5) and until():
            return
        if clock is None:
            time.sleep(0.05)
            continue
        worker.wait_idle()
        clock.at += step
        worker.plan_now()
    raise AssertionError("condition not reached in time")


# --- in-process stand-ins, for scheduling logic only ----------------------------------


@dataclass
class Script:
    """How a phone behaves on successive calls: an Outcome, or the keys pressed after
    answering (a string). The last entry repeats."""

    answers: list[Outcome | str]


@dataclass
class ScriptedDialer:
    scripts: dict[str, Script] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (phone, keys or outcome)
    name: str = "scripted"
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, *, to: str, conversation: Conversation) -> CallResult:
        # The line as the shipped sip_uri_template ("{phone}") dials it: 13811112222.
        to = Settings().outbound.sip_uri_template.format(**dial_forms(to))
        with self._lock:
            script = self.scripts.get(to, Script([Outcome.NO_ANSWER]))
            n = sum(1 for p, _ in self.calls if p == to)
            behaviour = script.answers[min(n, len(script.answers) - 1)]
            self.calls.append((to, str(behaviour)))
        if isinstance(behaviour, Outcome):
            return CallResult(behaviour)
        conversation.answered(f"fake-{len(self.calls)}")
        keys = ""
        step = conversation.step(keys)
        for key in behaviour:
            if step.final:
                break
            if key in step.keys:
                keys += key
                conversation.pressed(keys)
                step = conversation.step(keys)
        return CallResult(Outcome.ANSWERED, keys=keys, call_ref=f"fake-{len(self.calls)}")


@dataclass
class RecordingSms:
    sent: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False
    name: str = "recording"

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        if self.fail:
            return SmsResult(ok=False, detail="provider down")
        self.sent.append((to, text))
        return SmsResult(ok=True, ref=ref)


def claims_of_a_dead_worker(sessions: sessionmaker[Session], domain: Domain,
                            now: datetime) -> list[Claim]:
    """Everything due planned and claimed at ``now`` by a worker ("dead") that then dies."""
    with sessions() as s:
        plan(session=s, domain=domain, now=now)
        s.commit()
    with sessions() as s:
        claims = claim_due(session=s, domain=domain, worker="dead", now=now, limit=10,
                           carrier="sip", sms_carrier="log")
        s.commit()
    return claims
