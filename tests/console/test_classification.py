"""待确认 in the console: the queue filter and badge, the ticket page's confirm/correct form,
the audited correction, and who may use it (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.seed import make_ticket
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent

Users = Callable[[str], TestClient]
# Says nothing the rules can place: "other", a complaint, flagged 待确认. These tickets are
# read by the rules alone (``rules_domain``): what a retrained model makes of the words (one
# read them as an inquiry) is not what the console's correction is about.
UNCLEAR = "你好，我想反映个情况，就是我们这儿的事，还是老样子"


def test_operator_corrects_an_unsure_ticket(as_user: Users, sessions,
                                            rules_domain: Domain) -> None:
    n = make_ticket(sessions, rules_domain, demand=UNCLEAR)
    clear = make_ticket(sessions, rules_domain)  # water cut, recognised: not 待确认
    op = as_user("operator")
    queue = op.get("/console/queue?status=unconfirmed").text
    assert "待确认（1）" in queue and f"/console/tickets/{n}" in queue
    assert f"/console/tickets/{clear}" not in queue and "confirm-flag" in queue

    page = op.get(f"/console/tickets/{n}").text
    assert "待确认" in page and "识别把握不大" in page
    assert f'action="/console/tickets/{n}/classification"' in page
    r = op.post(f"/console/tickets/{n}/classification", data={
        "csrf": op.csrf, "category": "environment", "urgency": "general", "kind": "complaint",
        "emergency": "none"})
    assert r.status_code == 303, r.text
    page = op.get(r.headers["location"]).text
    assert "已确认分类。" in page and "更正分类" in page and "识别把握不大" not in page
    assert "待确认（0）" in op.get("/console/queue?status=unconfirmed").text
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert (t.category, t.needs_confirmation) == ("environment", False)
        ev = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "classification_corrected"
        )).one()
        assert ev.data["before"]["category"] == "other"
        assert ev.data["after"]["category"] == "environment" and ev.role == "operator"


def test_bad_values_and_handlers_are_refused(as_user: Users, sessions,
                                            rules_domain: Domain) -> None:
    n = make_ticket(sessions, rules_domain, demand=UNCLEAR)
    op = as_user("operator")
    r = op.post(f"/console/tickets/{n}/classification",
                data={"csrf": op.csrf, "kind": "rumour"})
    assert r.status_code == 422 and "请从列表中选择（诉求类型或扣分项）。" in r.text
    r = op.post(f"/console/tickets/{n}/classification", data={"kind": "report"})
    assert r.status_code in (403, 400)  # no CSRF token
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert (t.kind, t.needs_confirmation) == ("complaint", True)
    water = make_ticket(sessions, rules_domain)
    h = as_user("water-handler")
    assert f"/console/tickets/{water}/classification" not in h.get(
        f"/console/tickets/{water}").text
    r = h.post(f"/console/tickets/{water}/classification",
               data={"csrf": h.csrf, "category": "other"})
    assert r.status_code == 403


def test_a_held_ticket_is_shown_as_held_and_the_confirmation_dispatches_it(
        as_user: Users, sessions, domain: Domain) -> None:
    # "嗯嗯" says too little: created and accepted, held for the operator (docs/console.md).
    n = make_ticket(sessions, domain, demand="嗯嗯")
    op = as_user("operator")
    queue = op.get("/console/queue?status=unconfirmed").text
    assert f"/console/tickets/{n}" in queue and "内容过少·未派单" in queue
    assert "待确认后派单" in queue
    page = op.get(f"/console/tickets/{n}").text
    assert "内容过少·未派单" in page and "诉求内容过少，工单已受理但未派单" in page
    assert "内容过少，暂不派单" in page  # the hold in the timeline
    r = op.post(f"/console/tickets/{n}/classification", data={
        "csrf": op.csrf, "category": "water", "urgency": "general", "kind": "complaint",
        "emergency": "none"})
    assert r.status_code == 303, r.text
    page = op.get(r.headers["location"]).text
    assert "内容过少·未派单" not in page and "held-note" not in page
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert (t.status, t.needs_confirmation, t.unit.code) == ("dispatched", False, "bj-water")
        assert [e.action for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "dispatch"))] == ["dispatch"]


def test_a_dispatched_tickets_urgency_is_corrected_with_a_reason(
        as_user: Users, sessions, rules_domain: Domain) -> None:
    """After dispatch a lowered urgency may lengthen the unit's deadline
    (service.reclassified_due): the form asks why, refuses a lowering without it, and the
    trail keeps it. (A raise needs none: tests/ticketing/test_intake.py.)"""
    water = make_ticket(sessions, rules_domain)  # recognised, dispatched to bj-water
    op = as_user("operator")
    page = op.get(f"/console/tickets/{water}").text
    assert 'name="reason"' in page and "更正理由" in page
    with sessions() as s:
        before = s.scalars(select(Ticket).where(Ticket.number == water)).one().urgency
    assert before != "general"  # 停水: so "general" is a lowering
    other = "general"
    form = {"csrf": op.csrf, "category": "water", "urgency": other, "kind": "complaint",
            "emergency": "none"}
    r = op.post(f"/console/tickets/{water}/classification", data=form)
    assert r.status_code == 422 and "调低紧急程度须填写更正理由" in r.text
    with sessions() as s:
        assert s.scalars(select(Ticket).where(Ticket.number == water)).one().urgency == before
    r = op.post(f"/console/tickets/{water}/classification",
                data={**form, "reason": "回听录音，非紧急"})
    assert r.status_code == 303, r.text
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == water)).one()
        ev = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "classification_corrected"
        )).one()
        assert t.urgency == other and ev.note == "回听录音，非紧急"
        assert ev.data["due_before"] and ev.data["due_after"]
