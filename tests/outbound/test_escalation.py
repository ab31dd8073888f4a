"""The escalation ladder as SHIPPED (config/hotline.toml + config/settings.py): 催办 reaches
the handler, the unit's supervisor and the superior unit, and 超期督办 repeats until the
ticket is closed; a utility left undispatched calls the duty dispatcher. On SQLite and
PostgreSQL, with the shipped windows on a controlled clock (the scripted dialer stands in
for the carriers, which test_sip.py and test_twilio.py drive for real)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from outbound.ladder import STEP_SPAN
from outbound.models import Kind
from outbound.planner import plan
from outbound.worker import Claim, OutboundWorker, claim_due
from tests.console.conftest import log_in
from tests.outbound.support import (
    Clock,
    RecordingSms,
    Script,
    ScriptedDialer,
    events,
    tasks,
    ticket,
)
from tests.support.city import City
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.phones import normalise
from ticketing.scheduled import escalate_waiting_utilities

CY_HANDLER, CY_SUPERVISOR, CITY_SUPERVISOR = "13900000010", "13900000003", "13900000002"
DUTY_OPERATOR = "13900000001"
WATER_ADDRESS = "朝阳区望京西园三区5号楼"


def _water_ticket(sessions: sessionmaker[Session], domain: Domain, operator: Actor) -> str:
    """A citizen's water outage, accepted (auto-dispatched to bj-water): its number."""
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone="13811112222", address=WATER_ADDRESS,
                                  demand=f"{WATER_ADDRESS}停水了，一直没来水")
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        return t.number


def run(worker: OutboundWorker, clock: Clock, at: datetime) -> None:
    """Move the clock, plan, and let the worker place everything due."""
    clock.at = at
    for _ in range(3):
        worker.plan_now()
        worker.tick()
        worker.wait_idle()


def test_shipped_ladder_reaches_handler_supervisor_superior_until_closed(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    assert Settings().escalation == settings.escalation  # the shipped ladder, untouched
    clock = Clock(domain)
    # A Monday 09:00 (no holiday that week): every rung falls in the day, outside the staff
    # quiet hours (their own test is test_staff_quiet.py).
    clock.at = datetime(2026, 3, 9, 9, tzinfo=domain.tz)
    operator, handler = city.actor("operator"), city.actor("cy-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone="13811112222", category="municipal",
                                  district="朝阳区", demand="朝阳区阜通东大街的路灯坏了好几天了")
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        assert t.unit is not None and t.unit.code == "cy"
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        s.commit()
        number, received, due = t.number, t.received_at, t.due_at
    assert due is not None
    sms = RecordingSms()
    dialer = ScriptedDialer({p: Script(["1"]) for p in (CY_HANDLER, CY_SUPERVISOR,
                                                        CITY_SUPERVISOR)})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer, sms=sms,
                            name="ladder")
    run(worker, clock, clock.at)
    # Nothing to staff yet (the caller's acceptance SMS is theirs, test_citizen_sms.py).
    assert dialer.calls == [] and all(m[0] == normalise("13811112222") for m in sms.sent)
    ladder = settings.escalation.ladder
    planned = tasks(sessions, number, Kind.URGE)
    assert [u.step for u in planned] == [i * STEP_SPAN for i in range(len(ladder))]

    # Walk every rung of the shipped ladder, in time order.
    for rung in ladder:
        if rung.at is not None:
            run(worker, clock, received + (due - received) * rung.at + timedelta(seconds=1))
    assert rung.every_hours is not None
    every = timedelta(hours=rung.every_hours)
    run(worker, clock, due + every + timedelta(seconds=1))
    run(worker, clock, due + 2 * every + timedelta(seconds=1))

    urges = [e for e in events(sessions, number) if e.action == "urge"]
    reached = [e.data["reached"] for e in urges]
    # The handler first (SMS, then a call), the unit's supervisor at the deadline, then the
    # superior unit, again and again while the ticket stays overdue (超期督办).
    assert reached == ["handler", "handler", "unit_supervisor", "superior_unit",
                       "superior_unit"]
    assert [e.data["how"] for e in urges] == ["sms", "call", "call", "call", "call"]
    assert "超期督办（第2次" in (urges[-1].note or "")
    to_staff = [m for m in sms.sent if m[0] != normalise("13811112222")]  # the caller hears back apart
    assert to_staff and to_staff[0][0] == normalise(CY_HANDLER) and number in to_staff[0][1]
    assert dialer.calls == [(CY_HANDLER, "1"), (CY_SUPERVISOR, "1"), (CITY_SUPERVISOR, "1"),
                            (CITY_SUPERVISOR, "1")]

    # Closed: the ladder stops; the next 超期督办 already planned is cancelled at claim.
    with sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="路灯已修复",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
    run(worker, clock, due + 5 * every)
    assert [c for c in dialer.calls if c[0] != "13811112222"] == dialer.calls[:4]  # 回访 only
    assert [u.status for u in tasks(sessions, number, Kind.URGE)][-1] == "cancelled"

    # Every rung is on the console's ticket page, for the supervisor who oversees it.
    page = log_in(create_app(settings), city, "supervisor").get(
        f"/console/tickets/{number}").text
    assert "超期督办（第2次" in page and "电话通知上级单位督办员" in page
    assert "短信通知承办人" in page and "到期催办：电话通知单位督办员" in page


def test_undispatched_utility_calls_the_duty_dispatcher_and_duplicates_keep_the_clock(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = Clock(domain)
    operator, water = city.actor("operator"), city.actor("water-handler")
    window = domain.utility_window
    with sessions() as s:
        numbers = []
        for phone in ("13811112222", "13811114444"):
            t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                      caller_phone=phone, address=WATER_ADDRESS,
                                      demand=f"{WATER_ADDRESS}停水了，一直没来水")
            service.accept(session=s, domain=domain, ticket=t, actor=operator)
            numbers.append(t.number)
            s.commit()
    late, dispatched_in_time = numbers
    returned_at = clock.at = clock.at + timedelta(seconds=30)
    with sessions() as s:
        for number in numbers:  # 退单: both back in the manual queue
            t = service.get_ticket(session=s, actor=water, ref=number)
            service.return_ticket(session=s, domain=domain, ticket=t, actor=water,
                                  reason="不属于本单位管辖")
        s.commit()
    dialer = ScriptedDialer({DUTY_OPERATOR: Script(["1"])})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                            sms=RecordingSms(), name="utility")
    worker.plan_now()  # both calls planned for the end of the window

    # A neighbour reports the same outage: linked to the waiting ticket (a write to it),
    # which must not restart its clock.
    clock.at = returned_at + window / 3
    with sessions() as s:
        dup = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                    caller_phone="13811115555", address=WATER_ADDRESS,
                                    demand=f"{WATER_ADDRESS}没有水")
        s.commit()
        linked_to = dup.duplicate_of_id
    assert linked_to == ticket(sessions, late).id
    clock.at = returned_at + window / 2
    with sessions() as s:
        assert {t.number for t in escalate_waiting_utilities(session=s, domain=domain)} == set(
            numbers)
        s.commit()

    # One is dispatched by hand inside the window; the other is not.
    clock.at = returned_at + window * 0.9
    bj_water = city.unit_id("bj-water")  # before our session: SQLite has one writer
    with sessions() as s:
        t = service.get_ticket(session=s, actor=operator, ref=dispatched_in_time)
        service.dispatch(session=s, domain=domain, ticket=t, actor=operator,
                         unit_id=bj_water)
        s.commit()
    run(worker, clock, returned_at + window - timedelta(seconds=1))
    assert [c for c in dialer.calls if c[0] == DUTY_OPERATOR] == []
    run(worker, clock, returned_at + window + timedelta(seconds=1))
    assert [c for c in dialer.calls if c[0] == DUTY_OPERATOR] == [(DUTY_OPERATOR, "1")]
    (call,) = tasks(sessions, late, Kind.UTILITY_CALL)
    assert call.status == "done" and call.result == "acknowledged"
    (moot,) = tasks(sessions, dispatched_in_time, Kind.UTILITY_CALL)
    assert moot.status == "cancelled"
    rung = [e for e in events(sessions, late) if e.action == "escalate" and e.data.get("how")]
    assert len(rung) == 1 and rung[0].data["reached"] == "duty_dispatcher"
    with sessions() as s:
        assert s.scalars(select(Ticket.escalated).where(Ticket.number == late)).one()


def test_a_returned_utility_escalates_again_for_its_new_wait_and_its_new_handlers_miss(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """mend84 (judge35's loose end): a utility's first handler misses the 签收 window
    (escalated), the unit 退单s it, the centre dispatches it to another handler who never
    signs either. The queue's half-window escalation of the new wait fires (the flag left
    set by the first miss kept ``escalate_waiting_utilities`` away from it), and each
    dispatch's miss is escalated once: the new handler's once, the old one's not again."""
    clock = Clock(domain)
    clock.at = datetime(2026, 3, 9, 9, tzinfo=domain.tz)  # a Monday, out of staff quiet hours
    operator, water = city.actor("operator"), city.actor("water-handler")
    number = _water_ticket(sessions, domain, operator)
    with sessions() as s:
        t = service.get_ticket(session=s, actor=operator, ref=number)
        assert t.status == "dispatched" and t.handler is not None
        assert t.handler.username == "water-handler"
    # Both handlers never answer; the supervisors acknowledge with 1.
    dialer = ScriptedDialer({CITY_SUPERVISOR: Script(["1"]), CY_SUPERVISOR: Script(["1"])})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                            sms=RecordingSms(), name="returned-utility")

    def sign_escalations() -> list[int]:
        return [e.data["round"] for e in events(sessions, number)
                if e.action == "escalate" and "round" in e.data]

    def walk(minutes: int) -> None:
        start = clock.at
        for m in range(1, minutes + 1):
            run(worker, clock, start + timedelta(minutes=m))

    walk(25)  # the shipped sign window and reminder retries, used up
    (first_round,) = sign_escalations()
    assert ticket(sessions, number).escalated

    returned_at = clock.at
    with sessions() as s:
        t = service.get_ticket(session=s, actor=water, ref=number)
        service.return_ticket(session=s, domain=domain, ticket=t, actor=water,
                              reason="不属于本单位管辖")
        s.commit()
    assert not ticket(sessions, number).escalated  # a new wait, not escalated yet
    clock.at = returned_at + domain.utility_window / 2 + timedelta(seconds=1)
    with sessions() as s:
        assert [x.number for x in escalate_waiting_utilities(session=s, domain=domain)] == [
            number]
        s.commit()
    assert ticket(sessions, number).escalated

    cy, cy_handler = city.unit_id("cy"), city.user_id("cy-handler")
    clock.at = returned_at + domain.utility_window * 0.6
    with sessions() as s:
        t = service.get_ticket(session=s, actor=operator, ref=number)
        service.dispatch(session=s, domain=domain, ticket=t, actor=operator, unit_id=cy,
                         handler_id=cy_handler)
        s.commit()
    assert not ticket(sessions, number).escalated  # the new handler has missed nothing yet
    walk(25)

    rounds = sign_escalations()
    assert len(rounds) == 2 and rounds[0] == first_round and rounds[1] > first_round
    assert ticket(sessions, number).escalated
    calls = tasks(sessions, number, Kind.ESCALATE_CALL)
    assert sorted((c.round, c.status) for c in calls) == [(r, "done") for r in rounds]
    assert [p for p, _ in dialer.calls if p in (CITY_SUPERVISOR, CY_SUPERVISOR)] == [
        CITY_SUPERVISOR, CY_SUPERVISOR]
    # Dispatched inside the window: the duty dispatcher is not called about the new wait.
    assert all(c.status == "cancelled" for c in tasks(sessions, number, Kind.UTILITY_CALL))


def test_urgent_ticket_no_rule_places_calls_the_duty_dispatcher(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A fire reported with no place is urgent but matches no dispatch rule: it must not wait
    silently in the manual queue. Like a utility, the duty dispatcher is called when the
    dispatch window ends; a calm complaint that no rule places is left to the queue."""
    clock = Clock(domain)
    operator = city.actor("operator")
    with sessions() as s:
        fire = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                     caller_phone="13811116666",
                                     demand="楼道里着火了，烟很大，楼上还有人没下来")
        calm = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                     caller_phone="13811117777",
                                     demand="有个事想问问，不知道归哪里管")
        for t in (fire, calm):
            service.accept(session=s, domain=domain, ticket=t, actor=operator)
        s.commit()
        urgent_waiting = (fire.urgency, fire.status, fire.emergency)
        calm_waiting = (calm.urgency, calm.status)
        numbers = fire.number, calm.number
    assert urgent_waiting == ("urgent", "accepted", "119")
    assert calm_waiting[0] != "urgent" and calm_waiting[1] == "accepted"
    dialer = ScriptedDialer({DUTY_OPERATOR: Script(["1"])})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer,
                            sms=RecordingSms(), name="urgent")
    start = clock.at
    run(worker, clock, start + domain.utility_window - timedelta(seconds=5))
    assert [c for c in dialer.calls if c[0] == DUTY_OPERATOR] == []
    run(worker, clock, start + domain.utility_window + timedelta(seconds=5))
    assert [c for c in dialer.calls if c[0] == DUTY_OPERATOR] == [(DUTY_OPERATOR, "1")]
    (call,) = tasks(sessions, numbers[0], Kind.UTILITY_CALL)
    assert call.status == "done"
    rung = [e for e in events(sessions, numbers[0]) if e.action == "escalate"]
    assert rung and rung[0].data["reached"] == "duty_dispatcher"
    assert tasks(sessions, numbers[1], Kind.UTILITY_CALL) == []


def _signed_then_waiting(sessions: sessionmaker[Session], domain: Domain, city: City,
                         wait: Callable[[Session, Ticket, Actor], None],
                         ) -> tuple[Clock, str, datetime, datetime]:
    """A municipal ticket filed on a Monday 09:00, signed by its handler and then left
    waiting for the centre by ``wait``: (the clock, its number, received, due)."""
    clock = Clock(domain)
    clock.at = datetime(2026, 3, 9, 9, tzinfo=domain.tz)  # a Monday, as above
    operator, handler = city.actor("operator"), city.actor("cy-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=operator, channel="api",
                                  caller_phone="13811112222", category="municipal",
                                  district="朝阳区", demand="朝阳区阜通东大街的路灯坏了好几天了")
        service.accept(session=s, domain=domain, ticket=t, actor=operator)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        wait(s, t, handler)
        s.commit()
        assert t.due_at is not None
        return clock, t.number, t.received_at, t.due_at


def test_ladder_holds_while_the_ticket_waits_for_the_centre_and_resumes_on_send_back(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    operator = city.actor("operator")

    def reply(s: Session, t: Ticket, handler: Actor) -> None:
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="路灯已修复",
                      outcome="resolved")
        assert t.status == "replied"  # municipal is verified by the centre

    clock, number, received, due = _signed_then_waiting(sessions, domain, city, reply)
    sms = RecordingSms()
    dialer = ScriptedDialer({p: Script(["1"]) for p in (CY_HANDLER, CY_SUPERVISOR,
                                                        CITY_SUPERVISOR)})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer, sms=sms,
                            name="ladder")

    def to_staff() -> list[tuple[str, str]]:
        return [m for m in sms.sent if m[0] != normalise("13811112222")]

    # Replied on day 1 and left unverified past the deadline and two 超期督办 slots: the
    # unit hears nothing, every rung is held (not cancelled) and audited.
    every = timedelta(hours=4)
    for rung in settings.escalation.ladder:
        if rung.at is not None:
            run(worker, clock, received + (due - received) * rung.at + timedelta(seconds=1))
    run(worker, clock, due + every + timedelta(seconds=1))
    run(worker, clock, due + 2 * every + timedelta(seconds=1))
    assert dialer.calls == [] and to_staff() == []
    assert not [e for e in events(sessions, number) if e.action == "urge"]
    held = [e for e in events(sessions, number) if e.action == "urge_held"]
    assert [e.data["who"] for e in held] == ["handler", "handler", "unit_supervisor",
                                             "superior_unit", "superior_unit"]
    assert {u.status for u in tasks(sessions, number, Kind.URGE)} == {"held", "pending"}

    # 核实退回: the handler must act again; what is due fires once, the two held 超期督办
    # slots as one call.
    with sessions() as s:
        t = service.get_ticket(session=s, actor=operator, ref=number)
        service.send_back(session=s, domain=domain, ticket=t, actor=operator,
                          reason="现场核查路灯仍未修复")
        s.commit()
    run(worker, clock, clock.at + timedelta(minutes=1))
    run(worker, clock, clock.at + timedelta(minutes=1))
    # Claimed together and placed in parallel: the order among them is not the subject.
    urges = [e for e in events(sessions, number) if e.action == "urge"]
    assert sorted(e.data["reached"] for e in urges) == ["handler", "handler",
                                                        "superior_unit", "unit_supervisor"]
    assert sorted(dialer.calls) == sorted([(CY_HANDLER, "1"), (CY_SUPERVISOR, "1"),
                                           (CITY_SUPERVISOR, "1")])
    assert [m[0] for m in to_staff()] == [normalise(CY_HANDLER)]
    assert "held" not in {u.status for u in tasks(sessions, number, Kind.URGE)}


def test_ladder_holds_during_an_exclusion_request_and_resumes_when_refused(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    def ask_exclusion(s: Session, t: Ticket, handler: Actor) -> None:
        service.request_exclusion(session=s, domain=domain, ticket=t, actor=handler,
                                  reason="重复诉求", text="与另一工单为同一诉求")

    clock, number, received, due = _signed_then_waiting(sessions, domain, city,
                                                         ask_exclusion)
    sms = RecordingSms()
    dialer = ScriptedDialer({})
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=dialer, sms=sms,
                            name="ladder")
    first = settings.escalation.ladder[0]  # shipped: SMS to the handler at 50 %
    assert first.at is not None and first.who == "handler" and first.how == "sms"
    run(worker, clock, received + (due - received) * first.at + timedelta(seconds=1))
    handler_sms = [m for m in sms.sent if m[0] == normalise(CY_HANDLER)]
    assert handler_sms == []
    assert [e.data["who"] for e in events(sessions, number) if e.action == "urge_held"] == [
        "handler"]

    supervisor = city.actor("supervisor")
    with sessions() as s:  # 驳回剔除申请: the handler goes on handling it
        t = service.get_ticket(session=s, actor=supervisor, ref=number)
        service.deny_exclusion(session=s, domain=domain, ticket=t, actor=supervisor,
                               reason="不属重复")
        s.commit()
    run(worker, clock, clock.at + timedelta(minutes=1))
    run(worker, clock, clock.at + timedelta(minutes=1))
    assert len([m for m in sms.sent if m[0] == normalise(CY_HANDLER)]) == 1
    assert [e.data["reached"] for e in events(sessions, number) if e.action == "urge"] == [
        "handler"]


def test_a_supervisor_handling_a_ticket_is_not_escalated_to_about_it(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """judge27: a ticket the unit's own supervisor handles (dispatched to them; a supervisor
    signs and replies for their units): the unit-supervisor rung and the 签收 escalation
    called that same person, the one the reminders had not reached, so nothing climbed. The
    rung passes over the ticket's handler to the next one up (docs/outbound.md)."""
    from outbound.people import recipient

    op = ob_city.actor("operator")
    boss, cy = ob_city.user_id("cy-supervisor"), ob_city.unit_id("cy")
    with ob_sessions() as s:
        t = service.create_ticket(session=s, domain=ob_domain, actor=op, channel="api",
                                  caller_phone="13811112222", demand="咨询", category="other")
        service.accept(session=s, domain=ob_domain, ticket=t, actor=op)
        service.dispatch(session=s, domain=ob_domain, ticket=t, actor=op,
                         unit_id=cy, handler_id=boss)
        s.commit()
        assert t.handler_id == boss
        for who in ("handler", "unit_supervisor", "superior_unit"):
            found = recipient(session=s, who=who, ticket=t)
            assert found is not None
            level, person = found
            if who == "handler":
                assert person.id == boss
            else:
                assert person.id != boss, who
                assert person.username == "supervisor" and level == "superior_unit"


def _returned_utility_claims(sessions: sessionmaker[Session], domain: Domain,
                             city: City) -> Callable[[int, int], list[Claim]]:
    """A water ticket returned (退单) and left past its utility window, planned: what a claim
    with ``calls`` call slots and ``texts`` SMS slots takes of its duty-dispatcher step."""
    clock = Clock(domain)
    operator, water = city.actor("operator"), city.actor("water-handler")
    number = _water_ticket(sessions, domain, operator)
    with sessions() as s:  # 退单: back in the manual queue, its window from now
        t = service.get_ticket(session=s, actor=water, ref=number)
        service.return_ticket(session=s, domain=domain, ticket=t, actor=water,
                              reason="不属于本单位管辖")
        s.commit()
    clock.at += domain.utility_window + timedelta(seconds=1)
    with sessions() as s:
        plan(session=s, domain=domain, now=clock.at)
        s.commit()

    def claimed(calls: int, texts: int) -> list[Claim]:
        with sessions() as s:
            claims = claim_due(session=s, domain=domain, worker="w", now=clock.at,
                               limit=calls, sms_limit=texts, carrier="c", sms_carrier="s")
            s.commit()
        return [c for c in claims if c.kind == Kind.UTILITY_CALL.value]

    return claimed


def test_a_utility_escalation_by_sms_is_claimed_in_the_sms_slots(
    settings: Settings, sessions: sessionmaker[Session], city: City
) -> None:
    """``utility_how = "sms"``: the duty dispatcher is texted, and the claim reads it as an
    SMS before preparing it (``outbound.lanes.sms_work``): taken with no call slot free,
    not taken with no SMS slot free. No test claimed this setting before (review108)."""
    domain = Domain.load(settings.model_copy(update={"escalation": settings.escalation
                                                     .model_copy(update={"utility_how": "sms"})}))
    claimed = _returned_utility_claims(sessions, domain, city)
    assert claimed(calls=8, texts=0) == []
    (claim,) = claimed(calls=0, texts=8)
    assert claim.target.channel == "sms" and claim.target.phone == normalise(DUTY_OPERATOR)
    assert claim.target.text and claim.target.text.startswith("【12345】")


def test_a_utility_escalation_on_the_shipped_settings_is_a_call_in_the_call_slots(
    settings: Settings, sessions: sessionmaker[Session], city: City
) -> None:
    """The shipped ``utility_how`` (a call) unchanged: the duty dispatcher is rung, in a call
    slot, whatever SMS slots are free — the twin of the SMS test above on the defaults."""
    assert settings.escalation.utility_how == Settings().escalation.utility_how == "call"
    claimed = _returned_utility_claims(sessions, Domain.load(settings), city)
    assert claimed(calls=0, texts=8) == []
    (claim,) = claimed(calls=8, texts=0)
    assert claim.target.channel == "call" and claim.target.phone == normalise(DUTY_OPERATOR)
