"""One phone, one call at a time: two reminders to the same handler due together were two
calls at once, the second busy on a real phone, retried and counted as a miss (the
twenty-first round's trial: tickets 4 and 5, both cy-handler's, then both to
cy-supervisor). The claim now holds a call whose phone is in another of our calls until
that call ends: no attempt, nothing counted, said on the ticket; a crash of the worker
holding the first call loses neither. On SQLite and PostgreSQL; the carrier is an
in-process dialer (the claim is the carrier's concern no more than a retry is: SIP and
Twilio attempts are claimed alike)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from outbound.conversation import Conversation
from outbound.dialers import CallResult
from outbound.models import Kind
from outbound.worker import WAITS_FOR_LINE, OutboundWorker
from tests.outbound.support import (
    WATER_HANDLER_PHONE,
    Clock,
    RecordingSms,
    Script,
    ScriptedDialer,
    attempts,
    drive,
    events,
    new_ticket,
    tasks,
    ticket,
)
from tests.outbound.test_scheduling import _claimed_by_a_dead_worker
from tests.support.city import City
from ticketing.context import Domain


class OneLineDialer(ScriptedDialer):
    """A scripted phone that is busy while it is in a call: counts the calls it is in at
    once, and holds the first one until ``release`` (so a second claim meets it)."""

    def __init__(self, scripts: dict[str, Script]) -> None:
        super().__init__(scripts)
        self.release = threading.Event()
        self.busy: Counter[str] = Counter()
        self.most = 0
        self.gate = threading.Lock()

    def call(self, *, to: str, conversation: Conversation) -> CallResult:
        with self.gate:
            self.busy[to] += 1
            self.most = max(self.most, self.busy[to])
        try:
            self.release.wait(20)
            return super().call(to=to, conversation=conversation)
        finally:
            with self.gate:
                self.busy[to] -= 1


def test_two_reminders_to_one_handler_are_one_call_after_the_other(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = Clock(ob_domain)
    first = new_ticket(ob_sessions, ob_domain, ob_city)
    second = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811113333",
                        demand="朝阳区望京西园四区2号楼停水了，一直没来水")
    dialer = OneLineDialer({WATER_HANDLER_PHONE: Script(["1"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=RecordingSms(), name="test-worker")
    # Both reminders fall due together; one is placed (and held in its call), the other
    # waits for the line.
    for _ in range(20):
        clock.at += timedelta(seconds=1)
        worker.plan_now()
        worker.tick()
        if any((t.result or "").startswith(WAITS_FOR_LINE) for n in (first, second)
               for t in tasks(ob_sessions, n, Kind.SIGN_CALL)):
            break
    else:
        raise AssertionError("no reminder waited for the line")
    dialer.release.set()
    drive(worker, lambda: all(ticket(ob_sessions, n).status == "signed" for n in (first, second)),
          clock=clock, step=timedelta(seconds=5))
    assert dialer.most == 1  # never two calls at once to the one phone
    assert dialer.calls == [(WATER_HANDLER_PHONE, "1")] * 2
    for number in (first, second):
        # One attempt each: the wait is no miss (nothing busy, nothing retried).
        (call,) = attempts(ob_sessions, number, Kind.SIGN_CALL)
        assert (call.outcome, call.keys) == ("answered", "1")
        (task,) = tasks(ob_sessions, number, Kind.SIGN_CALL)
        assert (task.status, task.result, task.attempts) == ("done", "signed_by_keypad", 1)
    # The waiting ticket says so once, naming the call it waited for; the other not at all.
    waits = {n: [e for e in events(ob_sessions, n) if e.action == "outbound_wait"]
             for n in (first, second)}
    (waited,) = [n for n in (first, second) if waits[n]]
    other = first if waited == second else second
    assert waits[other] == [] and len(waits[waited]) == 1
    note = waits[waited][0].note or ""
    assert "签收提醒电话" in note and f"工单{other}" in note and "不计为未接通" in note
    assert waits[waited][0].data["busy_with_ticket"] == other


def test_a_crash_in_the_first_call_loses_neither_reminder(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The worker placing the first call dies in it: the second reminder, held for the
    line, is still due; once the lease runs out the first is settled by the crash rule
    (unknown: retried) and both reach the handler."""
    clock = Clock(ob_domain)
    first = new_ticket(ob_sessions, ob_domain, ob_city)
    second = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811113333",
                        demand="朝阳区望京西园四区2号楼停水了，一直没来水")
    clock.at += timedelta(seconds=2)
    # One of the two claimed (the helper's own check), the other waits.
    _claimed_by_a_dead_worker(ob_sessions, ob_domain, clock, Kind.SIGN_CALL)
    held = [t for n in (first, second) for t in tasks(ob_sessions, n, Kind.SIGN_CALL)
            if (t.result or "").startswith(WAITS_FOR_LINE)]
    assert len(held) == 1 and held[0].status == "pending" and held[0].attempts == 0
    # While the dead worker's lease runs the line stays taken: nothing is placed.
    dialer = ScriptedDialer({WATER_HANDLER_PHONE: Script(["1"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer,
                            sms=RecordingSms(), name="next-worker")
    clock.at += timedelta(seconds=30)
    worker.tick()
    worker.wait_idle()
    assert dialer.calls == []
    clock.at += timedelta(seconds=ob_domain.settings.outbound.lease_seconds)
    drive(worker, lambda: all(ticket(ob_sessions, n).status == "signed" for n in (first, second)),
          clock=clock, step=timedelta(seconds=5))
    assert dialer.calls == [(WATER_HANDLER_PHONE, "1")] * 2
    outcomes = sorted(c.outcome for n in (first, second)
                      for c in attempts(ob_sessions, n, Kind.SIGN_CALL))
    assert outcomes == ["answered", "answered", "unknown"]  # the cut call retried
