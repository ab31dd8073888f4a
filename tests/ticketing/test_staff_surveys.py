"""A satisfaction answer given on a staff member's number counts in no figure
(ticketing.staff_phones, docs/metrics.md): a unit filing easy tickets from its own staff's
phones and answering "resolved, satisfied" does not raise its 满意率 or 解决率. On SQLite
and PostgreSQL with the demo city (water-handler: 13900000030, of 北京市自来水集团)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from ticketing import merging, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.directory import add_unit, add_user
from ticketing.models import SurveyResult, Ticket, utcnow
from ticketing.points import points
from ticketing.reports import STAFF_ANSWER_MARK, Figures, export_csv, figures
from ticketing.staff_phones import is_staff_number
from ticketing.states import Role

WATER_OUT = "朝阳区望京西园三区5号楼从早上开始停水了，到现在还没有来水。"
BOT = Actor.system("outbound")


def _closed(s: Session, domain: Domain, city: City, phone: str) -> Ticket:
    """A water ticket filed from ``phone``, answered "resolved" by bj-water and closed."""
    op, handler = city.actor("operator"), city.actor("water-handler")
    t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                              caller_phone=phone, category="water", urgency="livelihood",
                              demand=WATER_OUT)
    service.accept(session=s, domain=domain, ticket=t, actor=op)
    service.sign(session=s, domain=domain, ticket=t, actor=handler)
    service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已恢复供水",
                  outcome="resolved")
    service.close(session=s, domain=domain, ticket=t, actor=op)
    s.commit()  # before the next look-up of an actor (SQLite: one writer)
    return t


def _satisfied(s: Session, domain: Domain, t: Ticket) -> None:
    """The survey call's "resolved, satisfied", as the call path records it."""
    service.record_survey(session=s, domain=domain, ticket=t, actor=BOT, resolved=True,
                          satisfied=True)


def _figures(s: Session, domain: Domain, city: City, unit: str | None = None) -> Figures:
    s.commit()  # the operator's look-up is a session of its own (SQLite: one writer)
    return figures(session=s, actor=city.actor("operator"), now=domain.now(), unit_code=unit,
                   utility_window=domain.utility_window)


def _counted(f: Figures) -> tuple[object, ...]:
    return f.surveyed, f.resolved, f.satisfied, f.compared, f.average_score


def test_a_units_own_staff_cannot_raise_its_satisfaction(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """bj-water's handler, its supervisor's colleague at another unit and a unit's contact
    line each file from their own phone, spelt as a carrier or a person writes it, and
    answer "resolved, satisfied". Only the citizen's answer is in bj-water's figures
    (one of one, not satisfied) and its points; every answer stays on the trail."""
    op = city.actor("operator")  # looked up before our session (SQLite: one writer)
    with sessions() as s:
        add_unit(session=s, code="bj-water-hall", name="自来水集团营业厅", parent_code="bj",
                 phone="010-6512-3456")
        s.commit()
    with sessions() as s:
        staff = [_closed(s, domain, city, phone) for phone in
                 ("+86 139 0000 0030", "0086-139-0000-0003", "(010) 6512 3456")]
        citizen = _closed(s, domain, city, "13811112222")
        for t in staff:
            _satisfied(s, domain, t)
        service.record_survey(session=s, domain=domain, ticket=citizen, actor=BOT,
                              resolved=False, satisfied=False)
        s.commit()
        f = _figures(s, domain, city, "bj-water")
        assert all(is_staff_number(session=s, phone=t.caller_phone) for t in staff)
        assert _counted(f) == (1, 0, 0, 1, -1.0)
        assert (f.satisfaction_rate, f.resolution_rate) == (0.0, 0.0)
        assert len(s.scalars(select(SurveyResult)).all()) == 4
        now = utcnow()
        (water,) = points(session=s, actor=op,
                          since=now - timedelta(days=1), until=now + timedelta(days=1)).units
        assert (water.tickets, water.survey_points) == (1, -1.0)


def test_the_centre_cannot_key_in_an_answer_for_a_staff_number(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """An operator keying in the survey answer of a ticket filed from a handler's phone is
    refused: nobody was to be asked (merging.survey_phone)."""
    op = city.actor("operator")
    with sessions() as s:
        t = _closed(s, domain, city, "13900000030")
        s.commit()
        assert merging.survey_phone(session=s, ticket=t) is None
        with pytest.raises(service.InvalidInput, match="nobody to survey"):
            service.record_survey(session=s, domain=domain, ticket=t, actor=op,
                                  resolved=True, satisfied=True)


def test_a_reassigned_staff_ticket_counts_nowhere(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Filed from 朝阳住建's handler's phone about another unit's work, 改派 to it: a staff
    number is one for every unit's figures, wherever the ticket goes."""
    op, sup = city.actor("operator"), city.actor("supervisor")
    power = city.unit_id("bj-power")
    with sessions() as s:
        t = _closed(s, domain, city, "13900000012")
        service.reject_redo(session=s, domain=domain, ticket=t, actor=sup, reason="派错单位")
        service.reassign(session=s, domain=domain, ticket=t, actor=op, unit_id=power,
                         reason="属电力公司")
        s.commit()
        handler = city.actor("power-handler")
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已抢修",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=op)
        _satisfied(s, domain, t)
        s.commit()
        assert t.unit_id == power
        assert _counted(_figures(s, domain, city, "bj-power"))[:3] == (0, 0, 0)


def test_an_answer_leaves_the_figures_once_its_number_is_known_as_staff(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """Figures read the directory as it is when they are computed: an answer counted while
    its number was nobody's leaves them when the centre enters the number as a new
    handler's (a forgery found later), and stays on the trail."""
    with sessions() as s:
        t = _closed(s, domain, city, "13811116666")
        _satisfied(s, domain, t)
        s.commit()
        assert _counted(_figures(s, domain, city))[:3] == (1, 1, 1)
        s.commit()
        add_user(session=s, username="late-handler", display_name="后登记承办人",
                 role=Role.HANDLER, unit_code="bj-water", phone="+86 138-1111-6666")
        s.commit()
        assert _counted(_figures(s, domain, city))[:3] == (0, 0, 0)
        assert s.scalars(select(SurveyResult.satisfied)
                         .where(SurveyResult.ticket_id == t.id)).all() == [True]


def test_a_citizen_merged_into_a_staff_ticket_is_surveyed_and_counted(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """A unit cannot silence a citizen by merging their ticket into one filed from its own
    phone: the group's survey goes to the citizen, and their answer counts."""
    op = city.actor("operator")
    handler = city.actor("water-handler")
    with sessions() as s:
        def filed(phone: str) -> Ticket:
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=phone, category="water",
                                      urgency="livelihood", demand=WATER_OUT)
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            return t

        primary, member = filed("13900000030"), filed("13811115555")
        merging.merge(session=s, domain=domain, primary=primary, others=[member], actor=op)
        service.sign(session=s, domain=domain, ticket=primary, actor=handler)
        service.reply(session=s, domain=domain, ticket=primary, actor=handler,
                      text="已恢复供水", outcome="resolved")
        service.close(session=s, domain=domain, ticket=primary, actor=op)
        s.commit()
        assert merging.survey_phone(session=s, ticket=primary) == "+8613811115555"
        service.record_survey(session=s, domain=domain, ticket=primary, actor=op,
                              resolved=False, satisfied=False)
        s.commit()
        assert _counted(_figures(s, domain, city))[:3] == (1, 0, 0)


def test_the_export_says_a_staff_answer_counts_in_no_figure(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    """The CSV export shows every answer; before, a staff number's "已解决，满意" read as
    a citizen's, and a supervisor could not tell why the file and the figures differ."""
    op = city.actor("operator")
    with sessions() as s:
        staff, citizen = (_closed(s, domain, city, phone)
                          for phone in ("+86 139 0000 0030", "13811112222"))
        for t in (staff, citizen):
            _satisfied(s, domain, t)
        s.commit()
        numbers = {staff.number: "staff", citizen.number: "citizen"}
    rows = list(csv.reader(io.StringIO("".join(export_csv(
        sessions=sessions, actor=op, tz=ZoneInfo("Asia/Shanghai"), now=domain.now())))))
    # 回访结果, and 计入回访 (the verdict the figures would count) says the same.
    for label in ("回访结果", "计入回访"):
        at = rows[0].index(label)
        shown = {numbers[r[0]]: r[at] for r in rows[1:] if r[0] in numbers}
        assert shown == {"staff": "已解决，满意" + STAFF_ANSWER_MARK, "citizen": "已解决，满意"}
