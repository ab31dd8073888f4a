"""08:00: the night's citizens' SMS, put off to the end of quiet hours, fall due at once.
The staff's work due beside them (a handler's dispatch SMS, a reminder call) goes first,
and the claim transactions a pass takes to settle held rows stay bounded (review113)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from outbound import worker as worker_module
from outbound.models import Kind, OutboundAttempt, OutboundTask
from outbound.planner import plan
from outbound.worker import WAITS_FOR_LINE, ClaimBatch, OutboundWorker
from tests.outbound.support import (
    WATER_HANDLER_PHONE,
    Clock,
    RecordingSms,
    ScriptedDialer,
    attempts,
    claim_calls,
    close_ticket,
    new_ticket,
    tasks,
)
from tests.support.city import City
from ticketing.context import Domain

NIGHT = [f"{place}停水了" for place in (
    "朝阳区望京西园一区3号楼", "东城区和平里七区12号楼", "海淀区六郎庄路口", "丰台区方庄芳古园",
    "西城区牛街南口", "通州区梨园北街", "昌平区回龙观西大街", "大兴区旧宫东路",
    "石景山区古城南路", "顺义区仁和镇", "房山区良乡西路", "门头沟区新桥大街")]


class Ticker:
    """The worker's monotonic clock, one millisecond a read: a pass that only settled rows
    and claimed again forever would show as hundreds of claim transactions, not a hang."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        self.at += 0.001
        return self.at


def counted(monkeypatch: pytest.MonkeyPatch) -> list[ClaimBatch]:
    """Every claim transaction's batch, in order."""
    batches: list[ClaimBatch] = []
    real = worker_module.claim_batch

    def claim_batch(**kwargs: object) -> ClaimBatch:
        batch = real(**kwargs)  # type: ignore[arg-type]
        batches.append(batch)
        return batch

    monkeypatch.setattr(worker_module, "claim_batch", claim_batch)
    return batches


def night(sessions: sessionmaker[Session], domain: Domain, city: City, clock: Clock,
          worker: OutboundWorker) -> list[str]:
    """Twelve tickets filed at 23:00: their handlers texted, the citizens' 受理 SMS put off
    to 08:00."""
    clock.at = datetime(2026, 12, 7, 23, 0, tzinfo=domain.tz)
    numbers = [new_ticket(sessions, domain, city, phone=f"1381115{i:04d}", demand=demand)
               for i, demand in enumerate(NIGHT)]
    worker.plan_now()
    worker.tick()
    assert worker.wait_idle()
    morning = datetime(2026, 12, 8, 8, 0, tzinfo=domain.tz)
    for number in numbers:
        (held,) = tasks(sessions, number, Kind.CITIZEN_SMS)
        assert (held.status, held.result, held.due_at) == ("pending", "quiet_hours", morning)
    return numbers


def until_sent(worker: OutboundWorker, sessions: sessionmaker[Session], number: str,
               kind: str = Kind.SMS_DISPATCH) -> None:
    for _ in range(50):
        worker.tick()
        assert worker.wait_idle()
        if [t for t in tasks(sessions, number, kind) if t.status == "done"]:
            return
    raise AssertionError(f"{kind} of {number} not sent in 50 ticks")


def test_at_eight_a_handlers_dispatch_sms_goes_before_the_nights_citizen_receipts(
        settings: Settings, ob_sessions: sessionmaker[Session], ob_city: City) -> None:
    """A ticket dispatched at 08:00:05, its handler's SMS due five seconds after the
    night's twelve 受理 SMS: it is in the first claim of the morning, not behind the
    receipts (two SMS slots here; on a real gateway, hundreds of receipts are minutes).
    Before (review113) the SMS lane took due order alone: the handler's SMS was claimed
    thirteenth."""
    domain = Domain.load(settings)
    clock = Clock(domain)
    worker = OutboundWorker(sessions=ob_sessions, domain=domain, dialer=ScriptedDialer(),
                            sms=RecordingSms(), name="morning-worker", sms_parallel=2,
                            clock=lambda: 1e9)
    try:
        night(ob_sessions, domain, ob_city, clock, worker)
        clock.at = datetime(2026, 12, 8, 8, 0, 5, tzinfo=domain.tz)
        morning = new_ticket(ob_sessions, domain, ob_city, phone="13811159999",
                             demand="朝阳区酒仙桥北路甲10号院燃气泄漏味道很大")
        worker.plan_now()
        with ob_sessions() as s:
            night_ids = set(s.scalars(select(OutboundAttempt.id)))
        # Ticks as serve's scheduler runs them, the domain's clock still at 08:00:05.
        until_sent(worker, ob_sessions, morning)
    finally:
        worker.shutdown()
    with ob_sessions() as s:
        texts = [kind for kind, id_ in s.execute(
            select(OutboundAttempt.kind, OutboundAttempt.id)
            .where(OutboundAttempt.channel == "sms").order_by(OutboundAttempt.id))
            if id_ not in night_ids]
    # The staff's SMS due (the handler's, and the 催办 SMS the night held to 08:00) go
    # before the receipts; no receipt was due before 08:00:05 either way.
    assert Kind.CITIZEN_SMS in texts
    assert texts.index(Kind.SMS_DISPATCH) < texts.index(Kind.CITIZEN_SMS), texts
    (dispatch,) = attempts(ob_sessions, morning, Kind.SMS_DISPATCH)
    assert dispatch.outcome == "sent"


def test_a_pass_over_held_rows_takes_bounded_claim_transactions_and_the_next_one(
        settings: Settings, ob_sessions: sessionmaker[Session], ob_city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Settled rows do not make the worker spin (the staff's work is set aside here). Twelve citizens' SMS put off to 08:00
    and five rows a transaction: one pass settles them in three transactions and stops at
    the fourth (nothing settled); the next pass, nothing due, is one transaction. At
    21:00:00 exactly a receipt due is put off to the next 08:00, once; at 08:00:00
    exactly, the receipts go, none put off again (the quiet window is [21:00, 08:00))."""
    monkeypatch.setattr(worker_module, "SETTLE_PER_BATCH", 5)
    domain = Domain.load(settings)
    clock = Clock(domain)
    worker = OutboundWorker(sessions=ob_sessions, domain=domain, dialer=ScriptedDialer(),
                            sms=RecordingSms(), name="held-worker", sms_parallel=1,
                            clock=Ticker())
    try:
        clock.at = datetime(2026, 12, 7, 21, 0, tzinfo=domain.tz)
        numbers = [new_ticket(ob_sessions, domain, ob_city, phone=f"1381116{i:04d}",
                              demand=demand) for i, demand in enumerate(NIGHT)]
        worker.plan_now()
        with ob_sessions() as s:  # the handlers' SMS are not what this counts
            s.execute(update(OutboundTask).where(OutboundTask.kind != Kind.CITIZEN_SMS)
                      .values(status="cancelled"))
            s.commit()
        batches = counted(monkeypatch)
        worker.tick()
        assert [(len(b.claims), b.settled) for b in batches] == [
            (0, 5), (0, 5), (0, 2), (0, 0)]
        batches.clear()
        clock.at += timedelta(seconds=1)
        worker.tick()
        assert [(len(b.claims), b.settled) for b in batches] == [(0, 0)]
        for number in numbers:
            (held,) = tasks(ob_sessions, number, Kind.CITIZEN_SMS)
            assert held.due_at == datetime(2026, 12, 8, 8, 0, tzinfo=domain.tz)
        batches.clear()
        clock.at = datetime(2026, 12, 8, 8, 0, tzinfo=domain.tz)
        for number in numbers:  # one SMS slot: a pass ends when it is taken
            until_sent(worker, ob_sessions, number, Kind.CITIZEN_SMS)
    finally:
        worker.shutdown()
    assert sum(len(b.claims) for b in batches) == len(numbers)
    assert sum(b.settled for b in batches) == 0
    for number in numbers:
        (sent,) = tasks(ob_sessions, number, Kind.CITIZEN_SMS)
        assert (sent.status, sent.result, sent.attempts) == ("done", "sent", 1)


def test_sign_reminders_go_before_a_survey_due_earlier_and_one_phone_takes_one_call(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """A citizen's survey call falls due, then the sign reminders of two tickets
    dispatched to the water handler. One call slot: the first reminder is claimed, not the
    survey due before it. Two more slots, the first call still in flight: the second
    reminder waits for the handler's line (no attempt), the survey takes the slot; no
    phone is claimed twice. (A staff member's number is never surveyed, so a survey and a
    reminder never meet on one phone: ``ticketing.merging.surveyable``.) Before
    (review113), due order alone: the survey took the one slot."""
    clock = Clock(ob_domain)
    surveyed = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811117777",
                          demand="丰台区方庄芳城园一区停水两天了")
    close_ticket(ob_sessions, ob_domain, ob_city, surveyed)
    with ob_sessions() as s:
        plan(session=s, domain=ob_domain, now=clock.at)
        s.commit()
    clock.at += timedelta(seconds=1)
    reminded = [new_ticket(ob_sessions, ob_domain, ob_city, phone=f"1381118888{i}",
                           demand=demand)
                for i, demand in enumerate(["海淀区学院路甲5号院昨晚停水了",
                                            "西城区牛街南口停水半天了"])]
    clock.at += timedelta(seconds=5)  # the sign windows (a second) have ended
    with ob_sessions() as s:
        plan(session=s, domain=ob_domain, now=clock.at)
        s.commit()

    (survey,) = tasks(ob_sessions, surveyed, Kind.SURVEY_CALL)
    (sign,) = tasks(ob_sessions, reminded[0], Kind.SIGN_CALL)
    assert survey.due_at < sign.due_at  # due order alone would take the survey
    running: set[int] = set()
    assert claim_calls(ob_sessions, ob_domain, clock, 1, running) == [f"{Kind.SIGN_CALL}:+86{WATER_HANDLER_PHONE}"]
    assert claim_calls(ob_sessions, ob_domain, clock, 2, running) == [f"{Kind.SURVEY_CALL}:+8613811117777"]
    waiting = [t for n in reminded for t in tasks(ob_sessions, n, Kind.SIGN_CALL)
               if t.status == "pending"]
    assert [(t.attempts, t.result) for t in waiting] == [
        (0, f"{WAITS_FOR_LINE}+86{WATER_HANDLER_PHONE}")]
