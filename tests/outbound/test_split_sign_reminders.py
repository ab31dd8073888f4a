"""A ticket back at its unit with the sign window it kept (docs/metrics.md, "A unit's sign
window") is still reminded and escalated for it, through the real worker, the scripted
dialer and the domain's clock moved by hand; SQLite and PostgreSQL.

review89: split back to its unit after its window ended while merged, a ticket was left
unsigned with no reminder call and no "派单后未签收" escalation (the merge had cancelled the
round's call and the split planned nothing), and a district supervisor's 改派 keeping a
window gone sent an SMS asking for a sign "by" a time gone."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from outbound.models import Kind
from outbound.worker import OutboundWorker
from tests.outbound import support as ob
from tests.support.city import City
from ticketing import merging, service
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.phones import normalise

HOUSING_HANDLER_PHONE = "13900000012"  # cy-housing-handler (hotline/demo.py)


def _tick(worker: OutboundWorker) -> None:
    worker.plan_now()
    worker.tick()
    worker.wait_idle()


def _texts_of(sms: ob.RecordingSms, phone: str, number: str) -> list[str]:
    return [text for to, text in sms.sent if to == normalise(phone) and number in text]


def _merge_then_split(sessions: sessionmaker[Session], domain: Domain, city: City,
                      primary: str, other: str, clock: ob.Clock, worker: OutboundWorker,
                      merged_for: timedelta) -> None:
    """The centre's supervisor merges ``other`` into ``primary``, the worker plans (the
    merge stops the sign reminders), and splits it ``merged_for`` later."""
    # Looked up before the session: SQLite has one writer.
    sup = city.actor("supervisor")
    ids = [ob.ticket(sessions, n).id for n in (primary, other)]
    with sessions() as s:
        p, t = (s.get_one(Ticket, i) for i in ids)
        merging.merge(session=s, domain=domain, primary=p, others=[t], actor=sup,
                      reason="疑似同一诉求")
        s.commit()
    _tick(worker)
    clock.at += merged_for
    with sessions() as s:
        t = s.get_one(Ticket, ids[1])
        merging.unmerge(session=s, domain=domain, ticket=t, actor=sup, reason="不是同一诉求")
        s.commit()


def test_a_ticket_split_back_after_its_window_ended_is_called_then_escalated_once(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    clock = ob.Clock(ob_domain)
    primary = ob.new_ticket(ob_sessions, ob_domain, ob_city, phone="13811110001")
    number = ob.new_ticket(ob_sessions, ob_domain, ob_city, phone="13811110002",
                        demand="朝阳区望京西园三区6号楼停水了，一直没来水")
    sms = ob.RecordingSms()
    # The handler: no answer.
    dialer = ob.ScriptedDialer({ob.CITY_SUPERVISOR_PHONE: ob.Script(["1"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer, sms=sms,
                            name="split")
    _tick(worker)  # the dispatch SMS of both; the calls are due when the 1 s window ends
    (told,) = _texts_of(sms, ob.WATER_HANDLER_PHONE, number)
    assert "前签收" in told
    handler = ob_city.actor("water-handler")
    with ob_sessions() as s:  # the primary signed: its own reminders are not in the way
        service.sign(session=s, domain=ob_domain, actor=handler,
                     ticket=s.get_one(Ticket, ob.ticket(ob_sessions, primary).id))
        s.commit()

    # Merged for ten minutes: the window ends meanwhile; split back to 自来水集团.
    _merge_then_split(ob_sessions, ob_domain, ob_city, primary, number, clock, worker,
                      timedelta(minutes=10))
    t = ob.ticket(ob_sessions, number)
    assert t.status == "dispatched" and t.sign_due_at is not None
    assert t.sign_due_at < ob_domain.now()
    # The round's call, stopped by the merge, is due again at once: three tries (the
    # retries of the fast settings), then the supervisor is called.
    for _ in range(20):
        _tick(worker)
        clock.at += timedelta(seconds=1)
        if ob.tasks(ob_sessions, number, Kind.ESCALATE_CALL):
            break
    _tick(worker)
    assert [a.outcome for a in ob.attempts(ob_sessions, number, Kind.SIGN_CALL)] == [
        "no_answer"] * 3
    (boss,) = ob.attempts(ob_sessions, number, Kind.ESCALATE_CALL)
    assert boss.to_phone == normalise(ob.CITY_SUPERVISOR_PHONE) and boss.outcome == "answered"
    escalated = [e for e in ob.events(ob_sessions, number) if e.action == "escalate"]
    assert len(escalated) == 1 and "派单后未签收" in (escalated[0].note or "")
    assert ob.ticket(ob_sessions, number).escalated
    # No second SMS for the window: the handler was told of it at the dispatch.
    assert _texts_of(sms, ob.WATER_HANDLER_PHONE, number) == [told]

    # Merged and split again and again: the window's call and escalation were made once.
    for _ in range(3):
        _merge_then_split(ob_sessions, ob_domain, ob_city, primary, number, clock, worker,
                          timedelta(seconds=5))
        for _ in range(3):
            _tick(worker)
            clock.at += timedelta(seconds=1)
    assert len(ob.attempts(ob_sessions, number, Kind.SIGN_CALL)) == 3
    assert len(ob.attempts(ob_sessions, number, Kind.ESCALATE_CALL)) == 1
    assert [e.action for e in ob.events(ob_sessions, number)].count("escalate") == 1
    assert _texts_of(sms, ob.WATER_HANDLER_PHONE, number) == [told]
    assert ob.ticket(ob_sessions, number).status == "dispatched"


def test_a_district_reassignment_keeping_a_window_gone_asks_for_a_sign_at_once(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """朝阳区's supervisor 改派s a ticket within 住建委 after its window ended: 住建委 keeps the
    window (service.sign_window_kept), a new round tells the handler, and its SMS says the
    time is over and asks for the sign at once, never "请于<a time gone>前签收"."""
    clock = ob.Clock(ob_domain)
    op, cy_sup = ob_city.actor("operator"), ob_city.actor("cy-supervisor")
    housing = ob_city.unit_id("cy-housing")
    with ob_sessions() as s:
        t = service.create_ticket(session=s, domain=ob_domain, actor=op, channel="api",
                                  caller_phone="13811114401", category="housing",
                                  urgency="livelihood",
                                  demand="朝阳区望京西园三区1号楼电梯坏了好几天，老人上不了楼。")
        service.accept(session=s, domain=ob_domain, ticket=t, actor=op)
        service.reassign(session=s, domain=ob_domain, ticket=t, actor=op, unit_id=housing,
                         reason="属地办理")
        s.commit()
        number, sign_due = t.number, t.sign_due_at
    sms = ob.RecordingSms()
    dialer = ob.ScriptedDialer({HOUSING_HANDLER_PHONE: ob.Script(["1"])})
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=dialer, sms=sms,
                            name="kept")
    _tick(worker)
    (first,) = _texts_of(sms, HOUSING_HANDLER_PHONE, number)
    assert "请于" in first and "前签收" in first

    clock.at += timedelta(minutes=10)  # the window ends unsigned
    with ob_sessions() as s:
        t = s.get_one(Ticket, ob.ticket(ob_sessions, number).id)
        service.reassign(session=s, domain=ob_domain, ticket=t, actor=cy_sup,
                         unit_id=housing, reason="换承办人")
        s.commit()
        assert t.sign_due_at == sign_due  # kept, long gone
    for _ in range(5):
        _tick(worker)
        if ob.ticket(ob_sessions, number).status == "signed":
            break
        clock.at += timedelta(seconds=1)
    _first, second = _texts_of(sms, HOUSING_HANDLER_PHONE, number)
    assert "已超过签收时限，请立即签收" in second and "请于" not in second
    assert "前办结" in second  # the 办结 deadline, still ahead, is said as before
    # The new round's call came at once and key 1 signed (late: the window is kept).
    assert dialer.calls == [(HOUSING_HANDLER_PHONE, "1")]
    assert ob.ticket(ob_sessions, number).status == "signed"
