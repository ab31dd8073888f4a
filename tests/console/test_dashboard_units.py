"""The dashboard's per-unit table from the grouped query the 红黑榜 uses
(reports.loop_counts): the same numbers figures() gives each unit alone, the computation it
replaced (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings
from hotline.console.dashboard import unit_rows
from tests.console.seed import actor, busy_day, make_ticket
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.queries import in_scope
from ticketing.reports import figures
from ticketing.states import Role

Users = Callable[[str], TestClient]
COMPARED = ("tickets", "dispatched", "signed_in_time", "response_rate", "due",
            "closed_on_time", "on_time_closure_rate", "replied_on_time", "feedback_rate",
            "surveyed", "resolved", "satisfied", "resolution_rate", "satisfaction_rate",
            "compared", "matched", "match_rate")


def _more_states(sessions, domain: Domain) -> None:
    """Beside busy_day's: a late signature, an exclusion, a redo surveyed twice."""
    late = make_ticket(sessions, domain, demand="朝阳区望京西园一区停水了", phone="13700000021")
    gone = make_ticket(sessions, domain, demand="朝阳区望京西园二区停水了", phone="13700000022")
    redo = make_ticket(sessions, domain, demand="朝阳区安贞里停电了", phone="13700000023")
    with sessions() as s:
        one = {n: s.scalars(select(Ticket).where(Ticket.number == n)).one()
               for n in (late, gone, redo)}
        one[late].sign_due_at = one[late].dispatched_at - timedelta(minutes=1)
        service.sign(session=s, domain=domain, ticket=one[late], actor=actor(s, "water-handler"))
        service.exclude(session=s, domain=domain, ticket=one[gone], actor=actor(s, "supervisor"),
                        reason="重复恶意来电")
        h, op, bot = actor(s, "power-handler"), actor(s, "operator"), Actor.system("outbound")
        t = one[redo]
        service.sign(session=s, domain=domain, ticket=t, actor=h)
        service.reply(session=s, domain=domain, ticket=t, actor=h, text="已处理",
                      outcome="partly", reason="线路老化")
        service.close(session=s, domain=domain, ticket=t, actor=op)
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot, resolved=False,
                              satisfied=False)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=actor(s, "supervisor"),
                            reason="未修好")
        service.sign(session=s, domain=domain, ticket=t, actor=h)
        service.reply(session=s, domain=domain, ticket=t, actor=h, text="已更换线路",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=op)
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot, resolved=True,
                              satisfied=False)
        s.commit()


def test_unit_rows_equal_figures_of_each_unit(as_user: Users, sessions, domain: Domain,
                                              settings: Settings) -> None:
    busy_day(sessions, domain, settings.recordings_dir)
    _more_states(sessions, domain)
    now = domain.now() + timedelta(days=3)  # some deadlines have passed by then
    since = now - timedelta(days=30)
    with sessions() as s:
        sup = actor(s, "supervisor")
        rows = unit_rows(session=s, now=now, conds=[Ticket.received_at >= since],
                         within=lambda unit_id: in_scope(sup, unit_id))
        assert len(rows) >= 3
        for r in rows:
            exact = Actor(id=None, name=r.unit.code, role=Role.HANDLER, unit_id=r.unit.id)
            f = figures(session=s, actor=exact, now=now, since=since,
                        utility_window=domain.utility_window)
            assert {k: getattr(r.f, k) for k in COMPARED} == {k: getattr(f, k)
                                                             for k in COMPARED}, r.unit.code
            # 响应率's counts by hand from the rows (figures() reads the same grouped query).
            mine = [t for t in s.scalars(select(Ticket).where(
                Ticket.unit_id == r.unit.id, Ticket.received_at >= since))
                if t.status != "excluded" and t.dispatched_at is not None]
            assert r.f.dispatched == len(mine)
            assert r.f.signed_in_time == sum(1 for t in mine if t.signed_at and t.sign_due_at
                                             and t.signed_at <= t.sign_due_at)
        water = next(r.f for r in rows if r.unit.code == "bj-water")
        power = next(r.f for r in rows if r.unit.code == "bj-power")
        # What the states above make: the late signature, the excluded ticket left out,
        # the redo's second answer the one that stands.
        assert water.signed_in_time < water.dispatched
        assert (power.surveyed, power.resolved, power.satisfied) == (1, 1, 0)
    # The page shows those rows, in that order, with those counts.
    html = as_user("supervisor").get("/console/dashboard?period=30d").text
    table = html[html.index("各承办单位三率"):html.index('id="points"')]
    shown = re.findall(r"<tr>\s*<td>([^<]+)</td><td class=\"num\">(\d+)</td>", table)
    first = domain.now().astimezone(domain.tz).date() - timedelta(days=29)
    with sessions() as s:
        sup = actor(s, "supervisor")
        expected = unit_rows(session=s, now=domain.now(), conds=[
            Ticket.received_at >= datetime.combine(first, time.min, tzinfo=domain.tz)],
            within=lambda unit_id: in_scope(sup, unit_id))
        assert shown == [(r.unit.name, str(r.f.tickets)) for r in expected]
    assert len(shown) >= 3
