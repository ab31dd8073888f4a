"""细分类 in the console: shown on the ticket page and in the queue, corrected on the
classification form (audited, refused for a pair the taxonomy lacks, cleared when the
category changes), and the queue's filter carried into its CSV export (SQLite and
PostgreSQL, shipped config)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.seed import make_ticket
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent

Users = Callable[[str], TestClient]
WATER_CUT = "朝阳区望京西园三区5号楼从今天早上开始停水，到现在还没来水。"
# Two water problems named once each: the rules leave the sub-category empty.
WATER_TIE = "望京西园停水了，水压也一直很低"
LIFT = "朝阳区望京西园三区5号楼的电梯又坏了，老人上下楼太难了"


def stored(sessions, number: str) -> Ticket:
    with sessions() as s:
        return s.scalars(select(Ticket).where(Ticket.number == number)).one()


def form(op: TestClient, t: Ticket, **changes: str) -> dict[str, str]:
    """The classification form as the page sends it: every select at its shown value."""
    return {"csrf": op.csrf, "category": t.category, "urgency": t.urgency, "kind": t.kind,
            "emergency": t.emergency,
            "sub_category": f"{t.category}:{t.sub_category}" if t.sub_category else "",
            **changes}


def test_page_and_queue_show_it(as_user: Users, sessions, domain: Domain) -> None:
    cut = make_ticket(sessions, domain, demand=WATER_CUT)
    tie = make_ticket(sessions, domain, demand=WATER_TIE)
    op = as_user("operator")
    page = op.get(f"/console/tickets/{cut}").text
    assert '<dt>细分类</dt><dd class="sub-category">停水</dd>' in page
    # The form's select has every category's sub-categories, the ticket's chosen.
    assert '<option value="water:cut" selected>停水</option>' in page
    assert '<optgroup label="物业管理">' in page and 'value="property:lift"' in page
    assert '<dt>细分类</dt><dd class="sub-category">—</dd>' in op.get(
        f"/console/tickets/{tie}").text
    queue = op.get("/console/queue?status=all").text
    assert '<span class="sub-category"> · 停水</span>' in queue
    assert queue.count('class="sub-category"') == 1  # the tie shows none


def test_operator_corrects_it_and_a_category_change_clears_it(
    as_user: Users, sessions, domain: Domain,
) -> None:
    n = make_ticket(sessions, domain, demand=WATER_CUT)
    op = as_user("operator")
    t = stored(sessions, n)
    r = op.post(f"/console/tickets/{n}/classification",
                data=form(op, t, sub_category="water:leak"))
    assert r.status_code == 303, r.text
    assert '<dd class="sub-category">管道漏水</dd>' in op.get(r.headers["location"]).text
    t = stored(sessions, n)
    assert t.sub_category == "leak"
    # Category changed, sub-category select left as it was: cleared.
    r = op.post(f"/console/tickets/{n}/classification", data=form(op, t, category="power"))
    assert r.status_code == 303, r.text
    t = stored(sessions, n)
    assert (t.category, t.sub_category) == ("power", None)
    # Both changed together.
    r = op.post(f"/console/tickets/{n}/classification",
                data=form(op, t, category="property", sub_category="property:lift"))
    assert r.status_code == 303
    t = stored(sessions, n)
    assert (t.category, t.sub_category) == ("property", "lift")
    with sessions() as s:
        events = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "classification_corrected")
            .order_by(TicketEvent.id)).all()
    assert [(e.data["before"]["sub_category"], e.data["after"]["sub_category"])
            for e in events] == [("cut", "leak"), ("leak", None), (None, "lift")]
    assert {e.role for e in events} == {"operator"}


def test_a_pair_the_taxonomy_lacks_is_refused(as_user: Users, sessions,
                                              domain: Domain) -> None:
    n = make_ticket(sessions, domain, demand=WATER_CUT)
    op = as_user("operator")
    t = stored(sessions, n)
    for bad in ({"sub_category": "property:lift"},  # another category's
                {"category": "power", "sub_category": "water:leak"},
                {"sub_category": "water:no_such"},
                {"sub_category": "garbage"}):
        r = op.post(f"/console/tickets/{n}/classification", data=form(op, t, **bad))
        assert r.status_code == 422, bad
        assert "所选细分类不属于所选分类，请重新选择。" in r.text
    after = stored(sessions, n)
    assert (after.category, after.sub_category, after.version) == ("water", "cut", t.version)
    # A handler may not correct it.
    h = as_user("water-handler")
    r = h.post(f"/console/tickets/{n}/classification",
               data={**form(h, t), "sub_category": "water:leak"})
    assert r.status_code == 403


def test_queue_filter_and_its_export(as_user: Users, sessions, domain: Domain) -> None:
    cut = make_ticket(sessions, domain, demand=WATER_CUT)
    tie = make_ticket(sessions, domain, demand=WATER_TIE)
    lift = make_ticket(sessions, domain, demand=LIFT)
    op = as_user("operator")
    queue = op.get("/console/queue?status=all&sub_category=water:cut").text
    assert f"/console/tickets/{cut}" in queue
    assert f"/console/tickets/{tie}" not in queue and f"/console/tickets/{lift}" not in queue
    # The sub-category implies its category; the export link carries both.
    assert '<option value="water" selected>' in queue
    assert 'sub_category=water%3Acut' in queue
    r = op.get("/console/export.csv?status=all&category=water&sub_category=water:cut")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [(x["工单编号"], x["分类"], x["细分类"]) for x in rows] == [(cut, "供水", "停水")]
    # One of another category than the one chosen is dropped, like an unknown category.
    for junk in ("property:lift", "water:no_such", "garbage", ":", "water:"):
        r = op.get(f"/console/queue?status=all&category=water&sub_category={junk}")
        assert r.status_code == 200, junk
        assert f"/console/tickets/{cut}" in r.text and f"/console/tickets/{tie}" in r.text
        assert f"/console/tickets/{lift}" not in r.text
