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
from ticketing import merging, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import SurveyResult, Ticket, utcnow
from ticketing.reports import figures


def _filed(s: Session, domain: Domain, op: Actor, phone: str, category: str = "water",
           demand: str = "朝阳区望京西园三区5号楼停水了") -> Ticket:
    t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                              caller_phone=phone, category=category, urgency="livelihood",
                              demand=demand)
    service.accept(session=s, domain=domain, ticket=t, actor=op)
    return t


def _closed(s: Session, domain: Domain, op: Actor, handler: Actor, phone: str,
            outcome: str) -> Ticket:
    t = _filed(s, domain, op, phone)
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


def test_the_migration_finds_the_unit_a_split_ticket_answered_at(
        db_url: str, city: City, sessions: sessionmaker[Session], domain: Domain) -> None:
    """A ticket that followed its primary to another unit (并单) and was split back there
    (拆单) is answered by that unit: the round's unit is the one the last event moving the
    ticket named, a 随主单 move or a 拆单 as much as a 派单 (review106)."""
    clock = [utcnow() - timedelta(days=3)]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op, bot = city.actor("operator"), Actor.system("outbound")
    power, water = city.unit_id("bj-power"), city.unit_id("bj-water")
    water_handler = city.actor("water-handler")
    with sessions() as s:
        split = _filed(s, domain, op, "13811112223")
        primary = _filed(s, domain, op, "13811112224", "power", "海淀区学院路20号院停电了")
        # Merged at the primary's unit, then the primary's 改派 takes its group with it.
        service.reassign(session=s, domain=domain, ticket=split, actor=op, unit_id=power,
                         reason="并入主单")
        merging.merge(session=s, domain=domain, primary=primary, others=[split], actor=op)
        service.reassign(session=s, domain=domain, ticket=primary, actor=op, unit_id=water,
                         reason="属供水问题")
        assert split.unit_id == water
        merging.unmerge(session=s, domain=domain, ticket=split, actor=op, reason="误并")
        clock[0] += timedelta(hours=1)
        service.sign(session=s, domain=domain, ticket=split, actor=water_handler)
        service.reply(session=s, domain=domain, ticket=split, actor=water_handler,
                      text="已处理", outcome="resolved")
        service.close(session=s, domain=domain, ticket=split, actor=op)
        given = service.record_survey(session=s, domain=domain, ticket=split, actor=bot,
                                      resolved=False, satisfied=False)
        assert (given.reply_outcome, given.unit_id) == ("resolved", water)
        service.reject_redo(session=s, domain=domain, ticket=split, actor=bot,
                            reason="回访：未解决")
        split_id = split.id
        s.commit()

    command.downgrade(dbadmin.alembic_config(db_url), "0028")
    command.upgrade(dbadmin.alembic_config(db_url), "head")

    with sessions() as s:
        assert s.execute(select(SurveyResult.reply_outcome, SurveyResult.unit_id)
                         .where(SurveyResult.ticket_id == split_id)).one() == ("resolved", water)
