"""Migration 0029 gives the survey answers already given the handler's answer they judged
and the unit that gave it (``survey_results.reply_outcome`` and ``unit_id``, which 契合度
and the verdict's unit now read): the current round's from the ticket, an earlier round's
from that round's closure event and the 派单 before it, so a ticket redone before the
upgrade keeps the match of the round its citizen answered, at its unit (judge41). SQLite
and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hotline import dbadmin
from tests.support.city import City
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import SurveyResult, Ticket, utcnow
from ticketing.reports import figures


def _closed(s: Session, domain: Domain, op: Actor, handler: Actor, phone: str,
            outcome: str) -> Ticket:
    t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                              caller_phone=phone, category="water", urgency="livelihood",
                              demand="朝阳区望京西园三区5号楼停水了")
    service.accept(session=s, domain=domain, ticket=t, actor=op)
    service.sign(session=s, domain=domain, ticket=t, actor=handler)
    service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已处理",
                  outcome=outcome, reason=None if outcome == "resolved" else "产权自管")
    service.close(session=s, domain=domain, ticket=t, actor=op)
    return t


def test_the_migration_pairs_each_answer_with_its_rounds_reply(
        db_url: str, city: City, sessions: sessionmaker[Session], domain: Domain) -> None:
    clock = [utcnow() - timedelta(days=3)]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op, handler, bot = (city.actor("operator"), city.actor("water-handler"),
                        Actor.system("outbound"))
    power, power_handler = city.unit_id("bj-power"), city.actor("power-handler")
    water = city.unit_id("bj-water")
    with sessions() as s:
        # Redone after "not resolved"; the redo answered "unresolvable" and its survey
        # found nobody: round 0's verdict stands, against round 0's "resolved".
        redone = _closed(s, domain, op, handler, "13811112221", "resolved")
        service.record_survey(session=s, domain=domain, ticket=redone, actor=bot,
                              resolved=False, satisfied=True)
        service.reject_redo(session=s, domain=domain, ticket=redone, actor=bot,
                            reason="回访：未解决")
        # The redo goes to another unit, which answers it.
        service.reassign(session=s, domain=domain, ticket=redone, actor=op, unit_id=power,
                         reason="属供电问题")
        clock[0] += timedelta(hours=1)
        service.sign(session=s, domain=domain, ticket=redone, actor=power_handler)
        service.reply(session=s, domain=domain, ticket=redone, actor=power_handler,
                      text="无法解决", outcome="unresolvable", reason="产权自管")
        service.close(session=s, domain=domain, ticket=redone, actor=op)
        service.record_unreachable(session=s, domain=domain, ticket=redone, actor=bot)
        # Never redone: its answer is the ticket's.
        plain = _closed(s, domain, op, handler, "13811112222", "partly")
        service.record_survey(session=s, domain=domain, ticket=plain, actor=bot,
                              resolved=False, satisfied=False)
        ids = (redone.id, plain.id)
        s.commit()

    command.downgrade(dbadmin.alembic_config(db_url), "0028")
    command.upgrade(dbadmin.alembic_config(db_url), "head")

    with sessions() as s:
        stored = {row.ticket_id: (row.reply_outcome, row.unit_id) for row in s.execute(
            select(SurveyResult.ticket_id, SurveyResult.reply_outcome, SurveyResult.unit_id)
            .where(SurveyResult.outcome == "answered"))}
        assert stored == {ids[0]: ("resolved", water), ids[1]: ("partly", water)}
        f = figures(session=s, actor=op, now=domain.now(), utility_window=domain.utility_window)
        assert (f.compared, f.matched) == (2, 1)
        f = figures(session=s, actor=op, now=domain.now(), unit_code="bj-power",
                    utility_window=domain.utility_window)
        assert (f.surveyed, f.compared) == (0, 0)
