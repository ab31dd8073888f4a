"""Rule table matching, rule-file errors, and the utility escalation job."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from tests.support.city import City
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.dispatch_rules import DispatchRule, RuleFileError, RuleTable, load_rule_table
from ticketing.models import Ticket, utcnow
from ticketing.scheduled import archive_unsurveyable, escalate_waiting_utilities
from ticketing.states import Status


def test_most_specific_rule_wins() -> None:
    table = RuleTable((
        DispatchRule(id="d", unit="cy", district="朝阳"),
        DispatchRule(id="c", unit="housing", category="property"),
        DispatchRule(id="cd", unit="cy-housing", category="property", district="朝阳区"),
    ))
    assert table.match("property", "朝阳区").id == "cd"  # "朝阳区" == "朝阳"
    assert table.match("property", "海淀").id == "c"
    assert table.match("municipal", "朝阳").id == "d"
    assert table.match("municipal", None) is None


@pytest.mark.parametrize(
    "text",
    [
        '[[rule]]\nid = "x"\ncategory = "water"\n',  # no unit
        '[[rule]]\nunit = "u"\n',  # matches everything
        '[[rule]]\nunit = "u"\ncategory = "water"\ncolour = "red"\n',  # unknown key
        "[[rule\n",  # not TOML
    ],
)
def test_bad_rule_files_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RuleFileError):
        load_rule_table(path)


def test_shipped_rules_reference_demo_units() -> None:
    from config import CONFIG_DIR
    from hotline.demo import UNITS

    codes = {u[0] for u in UNITS}
    for rule in load_rule_table(CONFIG_DIR / "dispatch_rules.toml").rules:
        assert rule.unit in codes, rule


def test_waiting_utility_is_escalated_once(sessions: sessionmaker[Session], domain: Domain,
                                           city: City) -> None:
    op = city.actor("operator")
    with sessions() as s:
        # A water ticket whose unit has no handler rule: the rule points to a missing unit.
        domain.rules = RuleTable((DispatchRule(id="w", unit="nowhere", category="water"),))
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", demand="停水了", category="water")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        plain = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone="13811113333", demand="咨询", category="other")
        service.accept(session=s, domain=domain, ticket=plain, actor=op)
        s.commit()
        assert t.status == Status.ACCEPTED
        assert escalate_waiting_utilities(session=s, domain=domain) == []  # too early
        s.commit()
        later = utcnow() + timedelta(seconds=domain.settings.deadlines.utility_dispatch_seconds)
        domain.now = lambda: later  # type: ignore[method-assign]
        escalated = escalate_waiting_utilities(session=s, domain=domain)
        s.commit()
        assert [x.number for x in escalated] == [t.number]
        assert t.escalated and not plain.escalated
        assert escalate_waiting_utilities(session=s, domain=domain) == []
        s.commit()
        actions = [e.action for e in service.events_of(session=s, ticket=t)]
        assert actions.count("escalate") == 1


def test_utilities_dispatched_in_window_in_stats_and_metrics(
    settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The share of utilities whose first dispatch came within the shipped window, in
    /api/v1/stats and /metrics alike."""
    window = domain.utility_window
    start = utcnow() - 3 * window
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op = city.actor("operator")
    water = "朝阳区望京西园三区5号楼停水了"

    def new(phone: str, *, accept: bool) -> Ticket:
        with sessions() as s:
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=phone, demand=water, category="water")
            if accept:
                service.accept(session=s, domain=domain, ticket=t, actor=op)
            s.commit()
            return t

    assert new("13811110001", accept=True).status == Status.DISPATCHED  # at once: in time
    late = new("13811110002", accept=False)
    new("13811110003", accept=False)  # never dispatched, window long gone: late
    clock[0] = start + window * 1.5
    with sessions() as s:
        t = s.get_one(Ticket, late.id)
        service.accept(session=s, domain=domain, ticket=t, actor=op)  # dispatched late
        assert t.status == Status.DISPATCHED
        s.commit()
    clock[0] = utcnow()
    new("13811110004", accept=False)  # inside its window: counted neither way yet
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        stats = client.get("/api/v1/stats", headers={
            "Authorization": f"Bearer {city.tokens['operator']}"}).json()
        assert (stats["utilities"], stats["utilities_dispatched_in_window"]) == (3, 1)
        assert stats["utility_dispatch_rate"] == round(1 / 3, 4)
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(client.get("/metrics").text)
                   for s in f.samples}
    key = "hotline_utility_dispatch_tickets"
    assert samples[(key, (("in_window", "true"),))] == 1
    assert samples[(key, (("in_window", "false"),))] == 2
    assert samples[("hotline_utility_dispatch_in_window_ratio", ())] == 1 / 3


def test_closed_tickets_nobody_can_survey_are_archived(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    days = timedelta(days=domain.settings.verification.archive_unsurveyable_days)
    start = utcnow()
    clock = [start]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op, handler = city.actor("operator"), city.actor("water-handler")
    system = Actor.system("test")
    numbers = []
    with sessions() as s:
        for i, no_contact in enumerate((True, False, False)):
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=f"1381111000{i}", no_contact=no_contact,
                                      demand=f"朝阳区望京西园{i + 1}区停水了", category="water")
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            service.sign(session=s, domain=domain, ticket=t, actor=handler)
            service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                          outcome="resolved")
            service.close(session=s, domain=domain, ticket=t, actor=op)
            numbers.append(t.number)
        s.commit()
    no_callback, unreachable, waiting = numbers
    clock[0] = start + timedelta(days=1)
    with sessions() as s:
        t = service.get_ticket(session=s, actor=system, ref=unreachable)
        service.record_unreachable(session=s, domain=domain, ticket=t, actor=system)
        s.commit()

    def archive_at(at: datetime) -> list[str]:
        clock[0] = at
        with sessions() as s:
            done = [t.number for t in archive_unsurveyable(session=s, domain=domain)]
            s.commit()
            return done

    assert archive_at(start + days - timedelta(seconds=1)) == []
    assert archive_at(start + days + timedelta(seconds=1)) == [no_callback]
    assert archive_at(start + days + timedelta(days=1, seconds=1)) == [unreachable]
    # A citizen whose survey is still being attempted is never archived unsurveyed.
    assert archive_at(start + 10 * days) == []
    with sessions() as s:
        statuses = {t.number: t.status for t in s.scalars(
            select(Ticket).where(Ticket.number.in_(numbers)))}
        last = service.events_of(session=s, ticket=s.scalars(
            select(Ticket).where(Ticket.number == no_callback)).one())[-1]
    assert statuses == {no_callback: "archived", unreachable: "archived", waiting: "closed"}
    assert (last.action, last.role, last.to_status) == ("archive", "system", "archived")


def test_who_may_hold_a_ticket_is_one_rule_for_the_api_and_auto_dispatch(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """review56: the API took any active account of the unit (an operator placed in a unit
    got its tickets, though nothing of theirs signs them), the console listed handlers only,
    auto-dispatch an on-duty handler. One rule (ticketing.holders): an active handler or
    supervisor of the unit; auto-dispatch's on-duty handler stays its preference on top."""
    from ticketing.directory import disable_user
    from ticketing.holders import holder_refusal, holders
    from ticketing.models import Unit, User

    op, admin = city.actor("operator"), city.actor("admin")
    cy, boss = city.unit_id("cy"), city.user_id("cy-supervisor")
    cy_handler = city.user_id("cy-handler")  # looked up first: a session holds SQLite's turn
    with sessions() as s:
        clerk = User(username="cy-clerk", display_name="朝阳区话务员", role="operator",
                     unit_id=cy, phone="13900000099")
        s.add(clerk)
        s.flush()
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811113333", demand="咨询", category="other")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        ticket_id = t.id
        with pytest.raises(service.InvalidInput) as refused:
            service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=cy,
                             handler_id=clerk.id)
        assert refused.value.field == "handler_id"
    with sessions() as s:  # the unit's supervisor may hold it (named)
        t = s.get_one(Ticket, ticket_id)
        service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=cy,
                         handler_id=boss)
        assert t.handler_id == boss
        s.commit()
        # Auto-dispatch never picks a supervisor: an on-duty handler, or nobody.
        assert service.on_duty_handler(session=s, unit_id=cy).username == "cy-handler"
    with sessions() as s:
        disable_user(session=s, user=s.get_one(User, cy_handler), actor=admin)
        s.commit()
    with sessions() as s:
        assert service.on_duty_handler(session=s, unit_id=cy) is None
        # The rule's two forms (Python for one account, SQL for lists) agree everywhere.
        users, units = s.scalars(select(User)).all(), s.scalars(select(Unit)).all()
        for unit in units:
            listed = set(s.scalars(select(User.id).where(holders(unit.id))))
            assert listed == {u.id for u in users if holder_refusal(u, unit) is None}, unit.code
        assert {u.username for u in users if holder_refusal(u, s.get_one(Unit, cy)) is None
                } == {"cy-supervisor"}


def test_a_ticket_is_never_sent_to_a_disabled_handler(
        sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """judge27: POST /tickets/{ref}/dispatch (and 改派) with the handler_id of a disabled
    account placed the ticket with someone who could not log in to sign it; the console
    lists active handlers only, the API took any of the unit's. Refused (422 handler_id),
    nothing changed; without a handler named, the unit's on-duty active one is taken."""
    op, admin = city.actor("operator"), city.actor("admin")
    water = city.unit_id("bj-water")
    with sessions() as s:
        from ticketing.directory import disable_user
        from ticketing.models import User
        disable_user(session=s, user=s.get_one(User, city.user_id("water-handler")),
                     actor=admin)
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811113333", demand="咨询", category="other")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        s.commit()
        assert t.status == Status.ACCEPTED
        with pytest.raises(service.InvalidInput) as refused:
            service.dispatch(session=s, domain=domain, ticket=t, actor=op, unit_id=water,
                             handler_id=city.user_id("water-handler"))
        assert refused.value.field == "handler_id"
        s.rollback()
        s.refresh(t)
        assert t.status == Status.ACCEPTED and t.handler_id is None
