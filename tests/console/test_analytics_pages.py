"""The analytics pages of the console on SQLite and PostgreSQL, shipped settings: the
monthly 通报 made by the scheduler's job and listed for whom may read it, the dashboard's
督办 / 一诉多办 / 热点 / 未诉先办 / 红黑榜, and 一诉多办 on the handler's ticket page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from hotline.monthly_report import report_path
from hotline.scheduler import (
    REPORT_HOUR,
    REPORT_MINUTE,
    MonthlyReportRun,
    monthly_report_trigger,
)
from tests.support.city import City, settle
from ticketing import service
from ticketing.context import Domain
from ticketing.monthly import last_month
from ticketing.points import period_bounds, previous_period

Users = Callable[[str], TestClient]
HEATING = "朝阳区安贞里{n}号楼暖气不热，家里才十几度"


def _month_of_complaints(sessions: sessionmaker[Session], domain: Domain, city: City
                         ) -> tuple[str, list[str]]:
    """Last month: three heating complaints from one community (多诉督办), one closed and
    surveyed water ticket; the month before: one heating complaint (rising)."""
    month = last_month(domain)
    start, _ = period_bounds(month, domain.tz)
    before, _ = period_bounds(previous_period(month), domain.tz)
    op = city.actor("operator")
    with sessions() as s:
        service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                              caller_phone="13612349999", demand=HEATING.format(n=9),
                              received_at=before + timedelta(days=3))
        numbers = []
        for n, at in enumerate([start + timedelta(days=2, hours=h) for h in (1, 5, 30)]):
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=f"1361234000{n}",
                                      demand=HEATING.format(n=n + 1), received_at=at)
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            numbers.append(t.number)
        w = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13612348888", demand="海淀区安宁里停水了",
                                  received_at=start + timedelta(days=4))
        service.accept(session=s, domain=domain, ticket=w, actor=op)
        settle(s, domain, w, op, (True, True))
        s.commit()
    return month, numbers


def test_monthly_report_by_the_scheduler_listed_in_the_console(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    month, numbers = _month_of_complaints(sessions, domain, city)
    # The scheduler's job (hotline.wiring) at its 01:30 on the 1st after that month.
    _, end = period_bounds(month, domain.tz)
    run = MonthlyReportRun(domain, lambda: end.replace(hour=REPORT_HOUR, minute=REPORT_MINUTE))
    path = run(sessions, domain)
    assert path == report_path(domain.settings, month)
    html = path.read_text(encoding="utf-8")
    # Printable and self-contained: charts are inline SVG, nothing is fetched.
    assert "<svg" in html and "<script" not in html and "http" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    for heading in ("三率两度", "红黑榜", "多诉督办", "诉求热点", "未诉先办", "考核计分"):
        assert heading in html
    # The 督办 record with its three tickets, the hot community, the rising category.
    case_row = html[html.index("<td class=\"num\">#1</td>"):]
    assert "朝阳区安贞街道安贞里社区" in case_row[:200] and "、".join(numbers) in case_row
    assert re.search(r"<td>供暖</td><td class=\"num\">3</td><td class=\"num\">1</td>"
                     r"<td class=\"num\">200.0%</td>", html)
    # Surveyed resolved and satisfied, as the handler said: 解决率, 满意度, 契合度 100 %
    # (closed today, after a deadline counted from last month's call: late).
    assert re.search(r"<td>北京市自来水集团</td><td class=\"num\">1</td>"
                     r"(<td class=\"num\">0.0%</td>){2}(<td class=\"num\">100.0%</td>){3}",
                     html)
    assert "<h3>红榜</h3><ol><li>北京市自来水集团（60.0分）</li>" in html

    listing = as_user("supervisor").get("/console/reports")
    assert listing.status_code == 200
    link = f'/console/reports/monthly-{month}.html'
    assert f'href="{link}"' in listing.text
    got = as_user("supervisor").get(link)
    assert got.status_code == 200 and got.text == html
    assert as_user("operator").get(link).status_code == 200
    # City-wide figures: not for a district's supervisor nor a handler.
    assert as_user("cy-supervisor").get("/console/reports").status_code == 403
    assert as_user("cy-handler").get(link).status_code == 403
    assert as_user("supervisor").get("/console/reports/monthly-x.html").status_code == 404
    assert as_user("supervisor").get("/console/reports/..%2Fhotline.db").status_code == 404


def test_scheduler_plans_the_report_for_the_first_of_the_month(domain: Domain) -> None:
    now = domain.now().astimezone(domain.tz)
    nxt = monthly_report_trigger(domain).get_next_fire_time(None, now)
    assert (nxt.day, nxt.hour, nxt.minute) == (1, 1, 30) and nxt > now
    assert nxt - now <= timedelta(days=31)


def test_dashboard_and_ticket_page_show_the_closed_loop(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    op = city.actor("operator")
    numbers = []
    with sessions() as s:
        for n in range(5):  # the shipped warning line: 5 of one category in 30 days
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone=f"1371234000{n}",
                                      demand=HEATING.format(n=n + 1))
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            numbers.append(t.number)
        s.commit()
    html = as_user("supervisor").get("/console/dashboard").text
    sup = html[html.index('id="supervision"'):html.index('id="community-warnings"')]
    assert all(f'<a href="/console/tickets/{n}">' in sup for n in numbers)
    warn = html[html.index('id="community-warnings"'):html.index('id="hot-places"')]
    assert "<td>朝阳区安贞街道安贞里社区</td><td>供暖</td><td class=\"num\">5</td>" in warn
    places = html[html.index('id="hot-places"'):html.index('id="trends"')]
    assert "<td>朝阳区安贞街道</td><td class=\"num\">5</td>" in places
    trends = html[html.index('id="trends"'):html.index('id="ranking"')]
    assert "<td>供暖</td><td class=\"num\">5</td><td class=\"num\">0</td>" in trends
    ranking = html[html.index('id="ranking"'):]
    assert "北京市热力集团" in ranking

    # The heating company's handler, on one of the tickets: the other four, and the 督办.
    page = as_user("heating-handler").get(f"/console/tickets/{numbers[0]}").text
    related = page[page.index('id="related"'):]
    assert [m for m in re.findall(r'/console/tickets/(\d+)"', related)] == numbers[:0:-1]
    assert "同社区" in related and "多诉督办" in page and "安贞里社区" in page
    # Nothing about the callers leaks into the list.
    assert "1371234000" not in related


def test_the_menu_links_the_monthly_report_only_for_whom_may_read_it(as_user: Users) -> None:
    """A district's supervisor was shown 月度通报 in the menu and on the dashboard (the
    link of every supervisor), and got a 403 page for following it (seen on the clone)."""
    link = 'href="/console/reports"'
    for user in ("supervisor", "operator", "admin"):
        for page in ("/console/queue", "/console/dashboard"):
            assert link in as_user(user).get(page).text, (user, page)
        assert as_user(user).get("/console/reports").status_code == 200
    district = as_user("cy-supervisor")
    for page in ("/console/queue", "/console/dashboard"):
        got = district.get(page)
        assert got.status_code == 200 and link not in got.text, page
    assert district.get("/console/reports").status_code == 403
