"""细分类 on the classification form in a real browser (Debian's chromium, Playwright,
uvicorn): the select offers only the chosen category's sub-categories, falls back to 无 when
the category changes, and what the operator picks is what is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.console.seed import make_ticket
from tests.console.test_browser import page, playwright, server  # noqa: F401 -- fixtures
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

WATER_CUT = "朝阳区望京西园三区5号楼从今天早上开始停水，到现在还没来水。"


def test_the_select_follows_the_category(
    server, page, city: City, sessions, domain: Domain  # noqa: F811
) -> None:
    base, _ = server
    expect = playwright.expect
    number = make_ticket(sessions, domain, demand=WATER_CUT)
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=token]", city.tokens["operator"])
    page.click("form button[type=submit]")
    page.goto(f"{base}/console/tickets/{number}")

    form = page.locator("form.action-classification")
    sub = form.locator("select[name=sub_category]")
    expect(sub).to_have_value("water:cut")
    enabled = "s => [...s.querySelectorAll('optgroup')].filter(g => !g.disabled).map(g => g.label)"
    assert sub.evaluate(enabled) == ["供水"]

    form.locator("select[name=category]").select_option("property")
    expect(sub).to_have_value("")  # 停水 is no 物业管理 sub-category
    assert sub.evaluate(enabled) == ["物业管理"]
    sub.select_option("property:lift")
    form.locator("button[type=submit]").click()
    expect(page.locator(".alert.ok")).to_have_text("已确认分类。")
    expect(page.locator("dd.sub-category")).to_have_text("电梯")
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert (t.category, t.sub_category) == ("property", "lift")
