"""A survey verdict counts at the handler who held the ticket when the answer it judged
closed (``SurveyResult.handler_id``, docs/metrics.md "Whose verdict"), as it counts at the
unit that gave it: a district supervisor's 改派 of a redo within the unit does not hand the
citizen's −1 to the next handler (review106: a handler's points followed the ticket).
Migration 0031 fills the answers already given from the trail as 0029 reads it. SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline import dbadmin
from tests.support.city import City
from tests.ticketing.test_figure_forgery import _clocked
from tests.ticketing.test_sign_window_loops import _at_housing
from tests.ticketing.test_whose_miss import _answer
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import SurveyResult, Ticket, User
from ticketing.points import points

HOUSING = "cy-housing"
FIRST, SECOND = "cy-housing-handler", "cy-housing-second"


def _second_handler(sessions: sessionmaker[Session], city: City) -> Actor:
    """A second on-duty handler of 住建委 (the demo city has one)."""
    with sessions() as s:
        s.add(User(username=SECOND, display_name="朝阳住建承办人王芳", role="handler",
                   unit_id=city.unit_id(HOUSING)))
        s.commit()
    return city.actor(SECOND)


def test_a_supervisor_cannot_move_a_handlers_verdict_to_another_handler_of_the_unit(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委's handler answers; the citizen says not resolved, not satisfied; the survey
    redoes the ticket and 朝阳区's supervisor 改派s the redo within 住建委 to its other
    handler. The −1 stays with the handler who answered, for the centre and the district
    supervisor alike; the other handler has no verdict (before: the −1 moved to them)."""
    start, clock = _clocked(domain)
    op, cy_sup, bot = city.actor("operator"), city.actor("cy-supervisor"), Actor.system("outbound")
    first, housing = city.actor(FIRST), city.unit_id(HOUSING)
    with sessions() as s:
        t = _at_housing(s, domain, (op, housing), 1)
        clock[0] = start + timedelta(minutes=1)
        _answer(s, domain, t, op, first)
        given = service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                                      resolved=False, satisfied=False)
        assert given.handler_id == first.id
        service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
        s.commit()
    second = _second_handler(sessions, city)
    with sessions() as s:
        t = s.get_one(Ticket, t.id)
        service.reassign(session=s, domain=domain, ticket=t, actor=cy_sup,
                         unit_id=housing, handler_id=second.id,
                         reason="换承办人重办")
        assert t.handler_id == second.id
        s.commit()
    with sessions() as s:
        for reader in (op, cy_sup):
            found = points(session=s, actor=reader, since=start - timedelta(days=1),
                           until=start + timedelta(days=30))
            assert {h.code: h.survey_points for h in found.handlers} == {FIRST: -1.0}
            assert {u.code: u.survey_points for u in found.units} == {HOUSING: -1.0}


def test_the_migration_finds_the_handler_each_verdict_judged(
    db_url: str, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Round 0: dispatched to one handler, signed and answered by the other (the one a sign
    names holds it); the citizen's verdict, a redo 改派'd within the unit back to the first,
    who answers round 1, and its survey answered too. Down to 0030 and up again, each
    verdict keeps its round's handler: round 0's from the trail, round 1's from the
    ticket."""
    start, clock = _clocked(domain)
    op, cy_sup, bot = city.actor("operator"), city.actor("cy-supervisor"), Actor.system("outbound")
    first, second = city.actor(FIRST), _second_handler(sessions, city)
    housing = city.unit_id(HOUSING)
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811114471", category="housing",
                                  urgency="livelihood", demand="朝阳区望京西园三区7号楼电梯坏了")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=housing,
                         handler_id=first.id, reason="属地办理")
        clock[0] = start + timedelta(minutes=1)
        _answer(s, domain, t, op, second)
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                              resolved=False, satisfied=False)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
        service.reassign(session=s, domain=domain, ticket=t, actor=cy_sup, unit_id=housing,
                         handler_id=first.id, reason="换承办人重办")
        clock[0] = start + timedelta(hours=1)
        _answer(s, domain, t, op, first)
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                              resolved=True, satisfied=True)
        tid = t.id
        s.commit()

    def stored() -> dict[int, int | None]:
        with sessions() as s:
            return dict(s.execute(select(SurveyResult.closure_round, SurveyResult.handler_id)
                                  .where(SurveyResult.ticket_id == tid)).all())

    assert stored() == {0: second.id, 1: first.id}
    config = dbadmin.alembic_config(db_url)
    command.downgrade(config, "0030")
    command.upgrade(config, "head")
    assert stored() == {0: second.id, 1: first.id}
    with sessions() as s:
        found = points(session=s, actor=op, since=start - timedelta(days=1),
                       until=start + timedelta(days=30))
        # Only a ticket's latest answered round scores (round 1's +1, its handler's).
        assert {h.code: h.survey_points for h in found.handlers} == {FIRST: 1.0}


def test_an_excluded_tickets_verdict_earns_no_points(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委's handler answers, the citizen says not resolved, not satisfied, the redo is
    剔除'd by the centre (恶意诉求). The figures leave an excluded ticket's verdict out
    (reports.loop_counts, _verdict_scores); the points left it in: −1 to the unit and the
    handler for a demand the centre set aside (review110)."""
    start, clock = _clocked(domain)
    op, bot = city.actor("operator"), Actor.system("outbound")
    first, centre = city.actor(FIRST), city.actor("supervisor")
    with sessions() as s:
        t = _at_housing(s, domain, (op, city.unit_id(HOUSING)), 1)
        clock[0] = start + timedelta(minutes=1)
        _answer(s, domain, t, op, first)
        service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                              resolved=False, satisfied=False)
        service.reject_redo(session=s, domain=domain, ticket=t, actor=bot, reason="回访：未解决")
        service.exclude(session=s, domain=domain, ticket=t, actor=centre,
                        reason="同一诉求反复恶意来电")
        s.commit()
    with sessions() as s:
        found = points(session=s, actor=op, since=start - timedelta(days=1),
                       until=start + timedelta(days=30))
        assert {h.code: h.survey_points for h in found.handlers} == {}
        assert {u.code: u.survey_points for u in found.units} == {}


def test_the_verdict_counts_at_the_handler_who_answered(
    db_url: str, sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """住建委's handler signs; the unit's other handler gives the answer (any handler of the
    unit may); the citizen's −1 is the answer's author's, not the signer's. A district
    supervisor who signs and answers for the unit charges no handler: before, the −1 went to
    whoever held the ticket, who gave neither answer (review110)."""
    start, clock = _clocked(domain)
    op, bot = city.actor("operator"), Actor.system("outbound")
    first, housing = city.actor(FIRST), city.unit_id(HOUSING)
    cy_sup, second = city.actor("cy-supervisor"), _second_handler(sessions, city)
    with sessions() as s:
        by_other = _at_housing(s, domain, (op, housing), 1)
        by_sup = _at_housing(s, domain, (op, housing), 2)
        clock[0] = start + timedelta(minutes=1)
        service.sign(session=s, domain=domain, ticket=by_other, actor=first)
        service.reply(session=s, domain=domain, ticket=by_other, actor=second,
                      text="电梯已修复", outcome="resolved")
        _answer(s, domain, by_sup, op, cy_sup)
        service.close(session=s, domain=domain, ticket=by_other, actor=op)
        given = [service.record_survey(session=s, domain=domain, ticket=t, actor=bot,
                                       resolved=False, satisfied=False)
                 for t in (by_other, by_sup)]
        assert [v.handler_id for v in given] == [second.id, None]
        ids = [v.id for v in given]
        s.commit()
    # Migration 0031 reads the trail the same way (the ticket's handler is the signer's).
    config = dbadmin.alembic_config(db_url)
    command.downgrade(config, "0030")
    command.upgrade(config, "head")
    with sessions() as s:
        assert [s.get_one(SurveyResult, i).handler_id for i in ids] == [second.id, None]
    with sessions() as s:
        found = points(session=s, actor=op, since=start - timedelta(days=1),
                       until=start + timedelta(days=30))
        assert {h.code: h.survey_points for h in found.handlers} == {SECOND: -1.0}
