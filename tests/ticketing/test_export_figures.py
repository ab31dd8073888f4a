"""The CSV export carries what reproduces the verdict figures by hand (docs/metrics.md,
"The CSV export"): each row's standing verdict (计入回访, its round, score, the unit whose
answer it judged and that answer), read as loop_counts reads it. Before, the file showed
the newest callback and the ticket's current unit and answer: a redo's unreachable
callback showed 未接通 while the figures counted the earlier answered verdict, at the unit
that had answered. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from tests.support.city import City
from tests.ticketing.test_survey_reply_outcome_migration import _closed
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Unit, utcnow
from ticketing.reports import (
    DIRECT_ANSWER_UNIT,
    STAFF_ANSWER_MARK,
    Figures,
    export_csv,
    figures,
)
from ticketing.states import STATUS_LABELS, Status

VERDICT = ("surveyed", "resolved", "satisfied", "compared", "matched", "average_score")


def _mixed(s: Session, domain: Domain, city: City) -> None:
    """Answered and counted; not resolved then redone at another unit whose callback
    found nobody; a partly answer; the hotline's direct answer; a callback that found
    nobody; a staff number's answer; an open ticket."""
    op, bot = city.actor("operator"), Actor.system("outbound")
    water, power = city.actor("water-handler"), city.actor("power-handler")
    power_unit = city.unit_id("bj-power")
    plain = _closed(s, domain, op, water, "13811115501", "resolved")
    service.record_survey(session=s, domain=domain, ticket=plain, actor=bot,
                          resolved=True, satisfied=True)
    redone = _closed(s, domain, op, water, "13811115502", "resolved")
    service.record_survey(session=s, domain=domain, ticket=redone, actor=bot,
                          resolved=False, satisfied=False)
    service.reject_redo(session=s, domain=domain, ticket=redone, actor=bot, reason="回访：未解决")
    service.reassign(session=s, domain=domain, ticket=redone, actor=op,
                     unit_id=power_unit, reason="属供电问题")
    service.sign(session=s, domain=domain, ticket=redone, actor=power)
    service.reply(session=s, domain=domain, ticket=redone, actor=power, text="无法解决",
                  outcome="unresolvable", reason="产权自管")
    service.close(session=s, domain=domain, ticket=redone, actor=op)
    service.record_unreachable(session=s, domain=domain, ticket=redone, actor=bot)
    partly = _closed(s, domain, op, water, "13811115503", "partly")
    service.record_survey(session=s, domain=domain, ticket=partly, actor=bot,
                          resolved=False, satisfied=True)
    direct = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                   caller_phone="13811115504", category="water",
                                   urgency="livelihood", demand="请问停水通知在哪里查看")
    service.answer(session=s, domain=domain, ticket=direct, actor=op, text="请关注自来水集团公告")
    service.record_survey(session=s, domain=domain, ticket=direct, actor=bot,
                          resolved=True, satisfied=False)
    nobody = _closed(s, domain, op, water, "13811115505", "resolved")
    service.record_unreachable(session=s, domain=domain, ticket=nobody, actor=bot)
    staff = _closed(s, domain, op, water, "13900000031", "resolved")  # power-handler's
    service.record_survey(session=s, domain=domain, ticket=staff, actor=bot,
                          resolved=False, satisfied=False)
    service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                          caller_phone="13811115506", category="water",
                          urgency="livelihood", demand="朝阳区望京西园三区6号楼停水了")


def _by_hand(rows: list[dict[str, str]], unit: str | None) -> tuple[object, ...]:
    """VERDICT as an operator recomputes it from the file (docs/metrics.md): the rows
    with a counted verdict (计入回访, no staff mark, not 剔除), of ``unit``'s answers
    (所评承办单位) or all; 契合度 pairs 所评办理结果 with the citizen's "resolved?"."""
    excluded = STATUS_LABELS[Status.EXCLUDED]
    counted = [r for r in rows if r["计入回访"] and not r["计入回访"].endswith(STAFF_ANSWER_MARK)
               and r["状态"] != excluded and unit in (None, r["所评承办单位"])]
    said = [r["计入回访"].split("，") for r in counted]
    compared = [(r["所评办理结果"], parts[0]) for r, parts in zip(counted, said, strict=True)
                if r["所评办理结果"]]
    # Read as a spreadsheet reads the cell: a number its AVERAGE takes, -1 and -0.5 too
    # (a guarded '-1 is text, and AVERAGE would leave it out).
    scores = [float(r["回访得分"]) for r in counted if r["回访得分"]]
    return (len(counted), sum("已解决" in p for p in said), sum("满意" in p for p in said),
            len(compared), sum((answer == "已解决") == (heard == "已解决")
                               for answer, heard in compared),
            round(sum(scores) / len(scores), 4) if scores else None)


def _verdict(f: Figures) -> tuple[object, ...]:
    return tuple(getattr(f, name) for name in VERDICT)


def test_the_verdict_figures_are_recomputed_from_the_export(
    sessions: sessionmaker[Session], domain: Domain, city: City
) -> None:
    clock = [utcnow() - timedelta(days=3)]
    domain.now = lambda: clock[0]  # type: ignore[method-assign]
    op = city.actor("operator")
    units = {code: city.unit_id(code) for code in ("bj-water", "bj-power")}
    with sessions() as s:
        names = {code: s.get_one(Unit, i).name for code, i in units.items()}
    with sessions() as s:
        _mixed(s, domain, city)
        s.commit()
    body = "".join(export_csv(sessions=sessions, actor=op, tz=domain.tz, now=domain.now()))
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    # The redo's callback found nobody: the file says so, and which verdict still counts.
    (redone,) = [r for r in rows if r["回访结果"] == "未接通" and r["计入回访"]]
    assert (redone["计入回访"], redone["计入回访轮次"], redone["所评办理结果"],
            redone["承办单位"], redone["办理结果"]) == (
        "未解决，不满意", "1", "已解决", names["bj-power"], "无法解决")
    assert any(r["所评承办单位"] == DIRECT_ANSWER_UNIT for r in rows)
    with sessions() as s:
        city_wide = figures(session=s, actor=op, now=domain.now(),
                            utility_window=domain.utility_window)
        assert _by_hand(rows, None) == _verdict(city_wide)
        assert city_wide.surveyed == 4  # not a vacuous comparison
        assert city_wide.unreachable == sum(r["回访结果"] == "未接通" for r in rows)
        assert city_wide.tickets == len(rows)
        for code, name in names.items():
            f = figures(session=s, actor=op, now=domain.now(), unit_code=code,
                        utility_window=domain.utility_window)
            assert _by_hand(rows, name) == _verdict(f), code
