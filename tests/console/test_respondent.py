"""反映主体 on the console's ticket page: shown to whoever sees the ticket, set, corrected
and cleared by the intake side through the service's one rule (audited), refused for
handlers and for bad text (SQLite and PostgreSQL; the refusals of bad text on SQLite alone)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.seed import make_ticket
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent
from ticketing.respondent import MAX_LENGTH

Users = Callable[[str], TestClient]
SITE = "朝阳区望京西园三区5号楼停水了，永兴建筑工地施工把水管挖断了。"


def stored(sessions, number: str) -> tuple[str | None, list[dict]]:
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        trail = s.scalars(select(TicketEvent.data).where(
            TicketEvent.ticket_id == t.id, TicketEvent.action == "respondent_set")
            .order_by(TicketEvent.id)).all()
        return t.respondent, list(trail)


def test_operator_corrects_and_clears_it(as_user: Users, sessions, domain: Domain) -> None:
    n = make_ticket(sessions, domain, demand=SITE)
    op = as_user("operator")
    page = op.get(f"/console/tickets/{n}").text
    assert "反映主体：</span>永兴建筑工地" in page
    assert f'action="/console/tickets/{n}/respondent"' in page
    r = op.post(f"/console/tickets/{n}/respondent",
                data={"csrf": op.csrf, "respondent": " 北京永兴建筑有限公司 "})
    assert r.status_code == 303, r.text
    page = op.get(r.headers["location"]).text
    assert "已保存反映主体。" in page and "反映主体：</span>北京永兴建筑有限公司" in page
    sup = as_user("supervisor")
    r = sup.post(f"/console/tickets/{n}/respondent", data={"csrf": sup.csrf, "respondent": ""})
    assert r.status_code == 303
    assert stored(sessions, n) == (None, [
        {"before": "永兴建筑工地", "after": "北京永兴建筑有限公司"},
        {"before": "北京永兴建筑有限公司", "after": None}])
    assert "反映主体：</span>—" in sup.get(f"/console/tickets/{n}").text


# Form validation and the CSRF gate, before storage: on SQLite alone (this and the intake
# form's refusal below).
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bad_text_is_refused_with_the_form_kept(as_user: Users, sessions,
                                                domain: Domain) -> None:
    n = make_ticket(sessions, domain, demand=SITE)
    op = as_user("operator")
    r = op.post(f"/console/tickets/{n}/respondent",
                data={"csrf": op.csrf, "respondent": "永兴\u202e工地"})
    assert r.status_code == 422 and "不允许的控制字符" in r.text
    long = "工" * (MAX_LENGTH + 1)
    r = op.post(f"/console/tickets/{n}/respondent", data={"csrf": op.csrf, "respondent": long})
    assert r.status_code == 422 and f"反映主体不能超过 {MAX_LENGTH} 个字" in r.text
    assert f'value="{long}"' in r.text  # what was typed is there to shorten
    r = op.post(f"/console/tickets/{n}/respondent", data={"respondent": "永兴工地"})
    assert r.status_code in (400, 403)  # no CSRF token
    assert stored(sessions, n) == ("永兴建筑工地", [])


def test_a_handler_sees_it_but_may_not_change_it(as_user: Users, sessions,
                                                 domain: Domain) -> None:
    n = make_ticket(sessions, domain, demand=SITE, category="water")
    h = as_user("water-handler")
    page = h.get(f"/console/tickets/{n}").text
    assert "反映主体：</span>永兴建筑工地" in page
    assert f"/console/tickets/{n}/respondent" not in page
    r = h.post(f"/console/tickets/{n}/respondent", data={"csrf": h.csrf, "respondent": "某公司"})
    assert r.status_code == 403 and "不能修改反映主体" in r.text
    assert stored(sessions, n) == ("永兴建筑工地", [])


def _latest(sessions) -> tuple[str, str | None, str]:
    with sessions() as s:
        t = s.scalars(select(Ticket).order_by(Ticket.id.desc())).first()
        assert t is not None
        return t.number, t.respondent, t.demand


def test_intake_form_takes_it_typed_or_reads_it_from_the_words(as_user: Users,
                                                              sessions) -> None:
    op = as_user("operator")
    form = op.get("/console/intake").text
    assert f'name="respondent" value="" maxlength="{MAX_LENGTH}"' in form
    r = op.post("/console/intake", data={"csrf": op.csrf, "caller_phone": "13800001111",
                                         "demand": SITE, "respondent": " 北京永兴建筑有限公司 "})
    assert r.status_code == 303, r.text
    number, typed, _ = _latest(sessions)
    assert typed == "北京永兴建筑有限公司"  # the operator's word outranks the rules
    assert "反映主体：</span>北京永兴建筑有限公司" in op.get(f"/console/tickets/{number}").text
    r = op.post("/console/intake", data={"csrf": op.csrf, "caller_phone": "13800001111",
                                         "demand": SITE, "respondent": "  "})
    assert r.status_code == 303, r.text
    second, extracted, demand = _latest(sessions)
    assert second != number and demand == SITE and extracted == "永兴建筑工地"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_intake_form_refuses_bad_respondent_and_keeps_what_was_typed(as_user: Users,
                                                                     sessions) -> None:
    op = as_user("operator")
    with sessions() as s:
        before = s.scalars(select(Ticket.id).order_by(Ticket.id.desc())).first()
    fields = {"csrf": op.csrf, "caller_phone": "13800001111", "caller_name": "钱",
              "demand": SITE}
    long = "工" * (MAX_LENGTH + 1)
    r = op.post("/console/intake", data={**fields, "respondent": long})
    assert r.status_code == 422 and f"反映主体不能超过 {MAX_LENGTH} 个字" in r.text
    assert f'value="{long}"' in r.text and 'value="钱"' in r.text and f"{SITE}</textarea>" in r.text
    r = op.post("/console/intake", data={**fields, "respondent": "永兴\u202e工地"})
    assert r.status_code == 422 and "不允许的控制字符" in r.text
    assert 'value="永兴\u202e工地"' in r.text and f"{SITE}</textarea>" in r.text
    with sessions() as s:  # nothing was created by either refusal
        assert s.scalars(select(Ticket.id).order_by(Ticket.id.desc())).first() == before
