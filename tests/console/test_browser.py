"""The console in a real browser: Debian's chromium driven by Playwright against the real
app served by uvicorn on a seeded SQLite database.

Walks one complaint from the operator's intake form to closed by the water company's
handler (who attaches a photo to the answer, which the verifier opens), checks that another
unit's handler cannot see it, has a supervisor read the dashboard and exclude a ticket, and
an operator pick a 细分类 that follows the category. Takes the console's screenshots into the
test's temporary directory; HOTLINE_UPDATE_SCREENSHOTS=1 writes them into docs/screenshots/
instead, so that a run of the suite leaves the working tree as it was (docs/console.md).

One walk, one browser: a Chromium start with Playwright's driver is ~2.5 CPU-s, and the
attachment and sub-category steps were tests of their own, each starting a browser and a
server for a login and two pages (suite33).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from config import Settings
from hotline.app import create_app
from tests.console.seed import busy_day, make_ticket
from tests.support.city import City
from tests.ticketing.test_attachments import png
from ticketing.context import Domain
from ticketing.models import Ticket

playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# Asked for by hand only: every run rewrote the committed PNGs (no two runs' are alike).
UPDATE_SCREENSHOTS = "HOTLINE_UPDATE_SCREENSHOTS"
SHOTS = ("intake.png", "queue.png", "ticket.png", "dashboard.png", "ticket-call.png")
# Debian's chromium, never a downloaded one (`playwright install` is not used); no
# network chatter, no first-run UI, nothing kept between runs.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def _has_cjk_font() -> bool:
    fc = shutil.which("fc-list")
    return bool(fc and subprocess.run([fc, ":lang=zh", "family"], capture_output=True,
                                      text=True, check=False).stdout.strip())


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/screenshots/ when HOTLINE_UPDATE_SCREENSHOTS=1 asks for it, else the test's own
    directory. Without a CJK font the docs' pictures would be empty boxes: asking then is an
    error, not a silent run that refreshed nothing."""
    if os.environ.get(UPDATE_SCREENSHOTS) != "1":
        return tmp_path / "screenshots"
    if not _has_cjk_font():
        raise RuntimeError(f"{UPDATE_SCREENSHOTS}=1 needs a CJK font (fonts-wqy-microhei)")
    return SCREENSHOTS


@pytest.fixture
def server(settings: Settings, city: City, sessions, domain: Domain) -> Iterator[tuple[str, object]]:
    busy = busy_day(sessions, domain, settings.recordings_dir)
    # Bound here and handed to uvicorn: a port looked up free and bound later by the server
    # thread could be taken in between by any other socket on the machine.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", busy
    srv.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def page(tmp_path: Path) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: `bash scripts/bootstrap.sh --test` installs chromium")
    with playwright.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 860}, locale="zh-CN",
            timezone_id="Asia/Shanghai")
        ctx.set_default_timeout(10_000)
        try:
            yield ctx.new_page()
        finally:
            ctx.close()


WATER_CUT = "朝阳区望京西园三区5号楼从今天早上开始停水，到现在还没来水。"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_roles_walk_a_complaint_in_the_browser(server, page, city: City, sessions,
                                               domain: Domain, tmp_path: Path) -> None:
    base, busy = server
    # The reply's photo: the browser sends the form as multipart, not only a test client.
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(32, 24))
    shots = screenshot_dir(tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    taken_after = time.time()
    expect = playwright.expect

    def log_in(user: str) -> None:
        page.goto(f"{base}/console/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=token]", city.tokens[user])
        page.click("form button[type=submit]")

    def log_out() -> None:
        page.click("header form button")
        expect(page).to_have_url(f"{base}/console/login")

    # Operator: intake with the live classification suggestion (htmx), then create.
    log_in("operator")
    expect(page).to_have_url(f"{base}/console/intake")
    page.fill("input[name=caller_phone]", "13811112222")
    page.fill("input[name=caller_name]", "李女士")
    page.fill("textarea[name=demand]", "朝阳区望京西园三区5号楼从今天早上开始停水，家里有老人。")
    # The first classification in the server's process loads jieba's dictionary (2.6-8.4 s
    # of wall on a loaded machine, tests/api/test_openapi_fuzz.py): more than playwright's
    # default 5 s once (one CI run at 6 workers on 2 cores); the ones after are quick.
    expect(page.locator("#suggest [data-field=unit]")).to_have_text("北京市自来水集团",
                                                                   timeout=30_000)
    expect(page.locator("#suggest [data-field=category]")).to_have_text("供水")
    page.screenshot(path=str(shots / "intake.png"), full_page=True)
    page.click("#intake button[type=submit]")
    expect(page.locator(".alert.ok")).to_contain_text("已创建并受理")
    number = re.search(r"/console/tickets/(\d+)", page.url).group(1)
    expect(page.locator("h1")).to_contain_text("已派单")
    log_out()

    # The water company's handler: queue → ticket → sign → reply → close.
    log_in("water-handler")
    expect(page).to_have_url(f"{base}/console/queue")
    row = page.locator("table.tickets tr", has=page.locator(f"a:text-is('{number}')"))
    expect(row).to_contain_text("138****2222")
    expect(row.locator(".countdown").first).to_contain_text("剩余")
    overdue = page.locator("table.tickets tr", has=page.locator(f"a:text-is('{busy.overdue}')"))
    expect(overdue).to_have_class(re.compile("row-overdue"))
    expect(overdue.locator(".countdown").first).to_contain_text("超时")
    page.screenshot(path=str(shots / "queue.png"), full_page=True)
    row.locator("a").first.click()
    expect(page).to_have_url(f"{base}/console/tickets/{number}")
    page.click("form.action-sign button")
    expect(page.locator(".alert.ok")).to_have_text("已签收。")
    page.fill("form.action-reply textarea", "已派抢修班组，管道修复，下午3点恢复供水。")
    page.select_option("form.action-reply select[name=outcome]", "resolved")
    page.set_input_files("form.action-reply input[type=file]", str(photo))
    page.click("form.action-reply button")
    expect(page.locator(".alert.ok")).to_have_text("已反馈。")
    expect(page.locator("#attachments a")).to_have_text("现场照片.png")
    expect(page.locator("h1 .status")).to_have_text("已反馈待核实")
    expect(page.locator("#actions")).to_have_count(0)  # a handler never closes their own
    log_out()

    # 核实: the operator reads the answer back and closes.
    log_in("operator")
    page.goto(f"{base}/console/tickets/{number}")
    link = page.locator("#attachments a")
    expect(link).to_have_text("现场照片.png")
    expect(page.locator(".timeline")).to_contain_text("上传附件：现场照片.png")
    got = page.evaluate(
        "href => fetch(href).then(async r => [r.status, r.headers.get('content-type'),"
        " (await r.arrayBuffer()).byteLength])", link.get_attribute("href"))
    assert got == [200, "image/png", photo.stat().st_size]
    expect(page.locator("form.action-close")).to_contain_text("已解决")
    page.click("form.action-close button")
    expect(page.locator(".alert.ok")).to_have_text("已核实办结。")
    expect(page.locator("h1 .status")).to_have_text("已办结")
    expect(page.locator(".timeline li")).to_have_count(7)  # the upload is an event of its own
    page.screenshot(path=str(shots / "ticket.png"), full_page=True)
    log_out()

    # Another unit's handler: not in the queue, and the page is a 404.
    log_in("cy-handler")
    expect(page.locator("#queue")).not_to_contain_text(number)
    response = page.goto(f"{base}/console/tickets/{number}")
    assert response is not None and response.status == 404
    expect(page.locator(".alert.error")).to_contain_text("不在您的权限范围内")
    log_out()

    # Supervisor: dashboard, the recorded call, then exclude a ticket with a reason.
    log_in("supervisor")
    expect(page).to_have_url(f"{base}/console/dashboard")
    expect(page.locator("table.rates")).to_contain_text("北京市自来水集团")
    expect(page.locator("svg.daychart rect")).to_have_count(7)
    expect(page.locator(".big")).to_contain_text("1")
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    page.select_option("select[name=period]", "30d")  # htmx swaps <main>, keeps the URL
    expect(page).to_have_url(re.compile(r"period=30d"))
    expect(page.locator("svg.daychart rect")).to_have_count(30)

    page.goto(f"{base}/console/tickets/{busy.call_ticket}")
    expect(page.locator("mark.lowconf").first).to_have_text("西园")
    src = page.locator("audio").get_attribute("src")
    status = page.evaluate("src => fetch(src).then(r => r.status + ' ' + r.headers.get('content-type'))", src)
    assert status == "200 audio/wav"
    page.screenshot(path=str(shots / "ticket-call.png"), full_page=True)

    page.goto(f"{base}/console/tickets/{busy.escalated}")
    expect(page.locator(".timeline")).to_contain_text("提级督办")
    page.fill("form.action-exclude textarea", "同一诉求已由 12345 热线合并办理")
    page.click("form.action-exclude button")
    expect(page.locator(".alert.ok")).to_have_text("已剔除。")
    expect(page.locator("h1 .status")).to_have_text("已剔除")
    expect(page.locator(".timeline")).to_contain_text("同一诉求已由 12345 热线合并办理")
    log_out()

    # 细分类 on the classification form: the select offers only the chosen category's
    # sub-categories, falls back to 无 when the category changes, and what the operator
    # picks is what is stored. A ticket of its own, made last: the dashboard above counts
    # the day's tickets.
    cut = make_ticket(sessions, domain, demand=WATER_CUT)
    log_in("operator")
    page.goto(f"{base}/console/tickets/{cut}")
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
        t = s.scalars(select(Ticket).where(Ticket.number == cut)).one()
        assert (t.category, t.sub_category) == ("property", "lift")

    for name in SHOTS:  # each written by this run (docs/screenshots/ holds older ones), a PNG
        shot = (shots / name).read_bytes()
        assert (shots / name).stat().st_mtime >= taken_after - 1, name
        assert shot.startswith(b"\x89PNG\r\n\x1a\n") and len(shot) > 1000, name


def test_screenshots_go_to_docs_only_when_asked(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(UPDATE_SCREENSHOTS, raising=False)
    assert screenshot_dir(tmp_path) == tmp_path / "screenshots"
    monkeypatch.setenv(UPDATE_SCREENSHOTS, "0")
    assert screenshot_dir(tmp_path) == tmp_path / "screenshots"
    monkeypatch.setenv(UPDATE_SCREENSHOTS, "1")
    if _has_cjk_font():
        assert screenshot_dir(tmp_path) == SCREENSHOTS
    else:
        with pytest.raises(RuntimeError, match="CJK font"):
            screenshot_dir(tmp_path)
