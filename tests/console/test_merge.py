"""并单 on the console's ticket page: the duplicates offered, the merge button, the group
shown from both ends, the refusals in Chinese, 拆单, and the group closed with its primary."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.seed import make_ticket
from ticketing.context import Domain
from ticketing.models import Ticket

Users = Callable[[str], TestClient]
WATER = "朝阳区望京西园三区{n}号楼停水了，一直没来水"


def _status(sessions, number: str) -> str:
    with sessions() as s:
        return s.scalars(select(Ticket.status).where(Ticket.number == number)).one()


def _merge(c: TestClient, number: str, **form: object):
    return c.post(f"/console/tickets/{number}/merge", data={"csrf": c.csrf, **form})


def test_merge_from_the_ticket_page_then_split_and_close(as_user: Users, sessions,
                                                         domain: Domain) -> None:
    a = make_ticket(sessions, domain, demand=WATER.format(n=5), phone="13811110001")
    b = make_ticket(sessions, domain, demand=WATER.format(n=6), phone="13811110002")
    c = make_ticket(sessions, domain, demand=WATER.format(n=7), phone="13811110003")
    sup, h, op = as_user("supervisor"), as_user("water-handler"), as_user("operator")

    page = sup.get(f"/console/tickets/{a}").text
    assert f'action="/console/tickets/{a}/merge"' in page
    # Same category in the same community: offered as duplicates to tick.
    assert f'name="others" value="{b}"' in page and f'name="others" value="{c}"' in page
    assert f'action="/console/tickets/{a}/merge"' not in h.get(f"/console/tickets/{a}").text

    r = _merge(h, a, others=[b])
    assert r.status_code == 403 and "您的角色（承办人）无权执行“并单”" in r.text
    r = _merge(sup, a, typed=a)
    assert r.status_code == 422 and "不能将工单并入其自身" in r.text
    r = _merge(sup, a, typed="999999")
    assert r.status_code == 422 and "未找到工单999999" in r.text
    r = _merge(sup, a)
    assert r.status_code == 422 and "请选择要并入的工单" in r.text
    assert {_status(sessions, n) for n in (a, b, c)} == {"dispatched"}

    r = _merge(sup, a, others=[b], typed=f" {c}，", reason="同一楼栋停水")
    assert r.status_code == 303 and r.headers["location"] == (
        f"/console/tickets/{a}?done=merge#merge")
    page = sup.get(r.headers["location"]).text
    assert "已并单" in page and f'href="/console/tickets/{b}"' in page
    assert "以下工单已并入本工单" in page
    assert (_status(sessions, b), _status(sessions, c)) == ("merged", "merged")
    # From a merged ticket: its primary, and 拆单 for whom may merge.
    member = h.get(f"/console/tickets/{b}").text
    assert f"本工单已并入主单 <a href=\"/console/tickets/{a}\">{a}</a>" in member
    assert f'action="/console/tickets/{b}/unmerge"' not in member
    assert f'action="/console/tickets/{b}/unmerge"' in sup.get(f"/console/tickets/{b}").text
    # Merging into a merged ticket is refused, saying why.
    r = _merge(sup, b, typed=a)
    assert r.status_code == 409

    r = sup.post(f"/console/tickets/{c}/unmerge", data={"csrf": sup.csrf, "reason": "误并"})
    assert r.status_code == 303 and _status(sessions, c) == "dispatched"

    h.post(f"/console/tickets/{a}/sign", data={"csrf": h.csrf})
    h.post(f"/console/tickets/{a}/reply", data={"csrf": h.csrf, "text": "已抢修，恢复供水",
                                                 "outcome": "resolved"})
    assert op.post(f"/console/tickets/{a}/close",
                   data={"csrf": op.csrf, "note": ""}).status_code == 303
    assert (_status(sessions, a), _status(sessions, b), _status(sessions, c)) == (
        "closed", "closed", "dispatched")
    page = sup.get(f"/console/tickets/{b}").text
    assert "随主单办结" in page and "已抢修，恢复供水" in page
