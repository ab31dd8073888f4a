"""多诉督办 reaches the supervisor through the outbound SMS outbox, on SQLite and
PostgreSQL with the shipped settings: the core opens the record, the planner queues one SMS
per record, the worker sends it to the nearest supervisor with a phone, audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from outbound.models import Kind, OutboundTask
from outbound.planner import plan
from outbound.worker import OutboundWorker
from tests.outbound.support import (
    CITY_SUPERVISOR_PHONE,
    RecordingSms,
    ScriptedDialer,
    drive,
    events,
    new_ticket,
)
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import SupervisionCase
from ticketing.phones import normalise

BOSS = normalise(CITY_SUPERVISOR_PHONE)


def test_supervisor_gets_one_sms_per_record(sessions: sessionmaker[Session], domain: Domain,
                                            city: City) -> None:
    numbers = [new_ticket(sessions, domain, city, phone=f"1381111000{i}",
                          demand=f"朝阳区望京西园三区{i}号楼停水了") for i in range(3)]
    sms = RecordingSms()
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=ScriptedDialer({}),
                            sms=sms, name="test-worker")
    try:
        drive(worker, lambda: any(to == BOSS for to, _ in sms.sent))
        # A fourth ticket joins the open record: no second SMS, however often we plan.
        numbers.append(new_ticket(sessions, domain, city, phone="13811110009",
                                  demand="望京西园三区9号楼也停水了"))
        for _ in range(3):
            with sessions() as s:
                plan(session=s, domain=domain, now=domain.now())
                s.commit()
        worker.tick()
        worker.wait_idle()
    finally:
        worker.shutdown(wait=True)
    to_boss = [text for to, text in sms.sent if to == BOSS]
    # bj-water (a utility company) has no supervisor of its own: the city's is told.
    assert to_boss == [f"【12345】多诉督办：朝阳区望京街道望京西园三区社区供水问题已有3件工单"
                       f"（{'、'.join(numbers[:3])}），请督办。"]
    with sessions() as s:
        case = s.scalars(select(SupervisionCase)).one()
        assert case.tickets == 4
        (task,) = s.scalars(select(OutboundTask).where(
            OutboundTask.kind == Kind.SUPERVISE_SMS.value)).all()
        assert (task.round, task.status, task.result) == (case.id, "done", "sent")
    sent = [e for e in events(sessions, numbers[0]) if e.action == "outbound_sms"
            and (e.data or {}).get("kind") == Kind.SUPERVISE_SMS.value]
    assert len(sent) == 1
