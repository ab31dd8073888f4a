"""核实 and the 剔除 request through the console's forms (the same service functions as the
API): the handler's structured reply, the operator's send-back, the handler's request from
the configured list and the supervisor's decision."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.seed import actor, make_ticket
from ticketing import service
from ticketing.context import Domain
from ticketing.models import Ticket, Unit

Users = Callable[[str], TestClient]


def post(c: TestClient, number: str, action: str, **form: str):
    return c.post(f"/console/tickets/{number}/{action}", data={"csrf": c.csrf, **form})


def state(sessions, number: str) -> tuple[str, str | None]:
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        return t.status, t.reply_outcome


def test_verify_send_back_and_exclusion_request(as_user: Users, sessions,
                                                domain: Domain) -> None:
    n = make_ticket(sessions, domain)
    h, op, sup = as_user("water-handler"), as_user("operator"), as_user("supervisor")
    assert post(h, n, "sign").status_code == 303
    page = h.get(f"/console/tickets/{n}").text
    assert 'name="outcome"' in page and "部分解决" in page and "无法解决" in page
    r = post(h, n, "reply", text="管道老化，需整体更换", outcome="partly")
    assert r.status_code == 422 and "需说明原因" in r.text
    r = post(h, n, "reply", text="管道老化，需整体更换", outcome="partly", reason="需停水施工")
    assert r.status_code == 303 and state(sessions, n) == ("replied", "partly")
    page = op.get(f"/console/tickets/{n}").text
    assert "承办人反馈：部分解决（需停水施工）" in page and "核实退回" in page
    assert post(op, n, "send_back", reason="请先安排临时供水").status_code == 303
    assert state(sessions, n)[0] == "signed"

    page = h.get(f"/console/tickets/{n}").text
    for reason in domain.settings.verification.exclusion_reasons:
        assert f'<option value="{reason}"' in page
    r = post(h, n, "request_exclusion", exclusion_reason="非本市事项", text="事发地在河北")
    assert r.status_code == 303 and state(sessions, n)[0] == "excl_requested"
    page = sup.get(f"/console/tickets/{n}").text
    assert "承办人申请剔除：非本市事项：事发地在河北" in page and "驳回剔除申请" in page
    assert post(sup, n, "deny_exclusion", reason="地址在朝阳区").status_code == 303
    assert state(sessions, n)[0] == "signed"
    post(h, n, "request_exclusion", exclusion_reason="重复诉求", text="同一诉求已办理")
    assert post(sup, n, "exclude", reason="同意剔除").status_code == 303
    assert state(sessions, n)[0] == "excluded"


def test_supervisor_penalty_and_month_points(as_user: Users, sessions,
                                             domain: Domain) -> None:
    n = make_ticket(sessions, domain)
    h, sup = as_user("water-handler"), as_user("supervisor")
    assert 'action="/console/tickets/' + n + '/penalty"' not in h.get(
        f"/console/tickets/{n}").text
    r = h.post(f"/console/tickets/{n}/penalty",
               data={"csrf": h.csrf, "kind": "incomplete", "reason": "x"})
    assert r.status_code == 403
    page = sup.get(f"/console/tickets/{n}").text
    assert "资料不全（-0.5分）" in page and "重大负面舆情（-3分）" in page
    r = sup.post(f"/console/tickets/{n}/penalty",
                 data={"csrf": sup.csrf, "kind": "negative_opinion", "reason": ""})
    assert r.status_code == 422
    r = sup.post(f"/console/tickets/{n}/penalty",
                 data={"csrf": sup.csrf, "kind": "negative_opinion", "reason": "引发媒体报道"})
    assert r.status_code == 303
    assert "重大负面舆情（-3分）：引发媒体报道" in sup.get(f"/console/tickets/{n}").text
    board = sup.get("/console/dashboard").text
    assert "本月考核得分" in board and "北京市自来水集团" in board and "<b>-3</b>" in board


def test_a_district_supervisor_is_offered_no_exclusion(as_user: Users, sessions,
                                                       domain: Domain) -> None:
    """剔除 is the centre's (Actor.decides_exclusions): 朝阳区's supervisor, on their own
    unit's ticket whose handler asks for it, is offered 驳回剔除申请 but no 剔除 button
    (present.available_actions), and a posted one is refused; the centre's is offered it."""
    n = make_ticket(sessions, domain)
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        housing = s.scalars(select(Unit).where(Unit.code == "cy-housing")).one()
        service.reassign(session=s, domain=domain, ticket=t, actor=actor(s, "operator"),
                         unit_id=housing.id)
        s.commit()
    h, cy, sup = (as_user("cy-housing-handler"), as_user("cy-supervisor"),
                  as_user("supervisor"))
    assert post(h, n, "sign").status_code == 303
    r = post(h, n, "request_exclusion", exclusion_reason="非本市事项", text="事发地在河北")
    assert r.status_code == 303 and state(sessions, n)[0] == "excl_requested"
    exclude_form = f'action="/console/tickets/{n}/exclude"'
    page = cy.get(f"/console/tickets/{n}").text
    assert "驳回剔除申请" in page and exclude_form not in page
    assert post(cy, n, "exclude", reason="同意剔除").status_code == 403
    assert state(sessions, n)[0] == "excl_requested"
    assert exclude_form in sup.get(f"/console/tickets/{n}").text
