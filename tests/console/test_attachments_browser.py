"""Reply attachments in a real browser (Debian's chromium, Playwright, uvicorn): the
handler picks a photo in the reply form's file input, the verifier opens it from the ticket
page. Proves the form is really sent as multipart by a browser, not only by a test client."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console.seed import make_ticket
from tests.console.test_browser import page, playwright, server  # noqa: F401 -- fixtures
from tests.support.city import City
from tests.ticketing.test_attachments import png
from ticketing.context import Domain

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_handler_attaches_a_photo_and_the_verifier_opens_it(
    server, page, city: City, sessions, domain: Domain, tmp_path: Path  # noqa: F811
) -> None:
    base, _ = server
    expect = playwright.expect
    number = make_ticket(sessions, domain)
    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png(32, 24))

    def log_in(user: str) -> None:
        page.goto(f"{base}/console/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=token]", city.tokens[user])
        page.click("form button[type=submit]")

    log_in("water-handler")
    page.goto(f"{base}/console/tickets/{number}")
    page.click("form.action-sign button")
    expect(page.locator(".alert.ok")).to_have_text("已签收。")
    page.fill("form.action-reply textarea", "水管已修复，现场照片见附件。")
    page.select_option("form.action-reply select[name=outcome]", "resolved")
    page.set_input_files("form.action-reply input[type=file]", str(photo))
    page.click("form.action-reply button")
    expect(page.locator(".alert.ok")).to_have_text("已反馈。")
    expect(page.locator("#attachments a")).to_have_text("现场照片.png")
    page.click("header form button")

    log_in("operator")
    page.goto(f"{base}/console/tickets/{number}")
    link = page.locator("#attachments a")
    expect(link).to_have_text("现场照片.png")
    expect(page.locator(".timeline")).to_contain_text("上传附件：现场照片.png")
    got = page.evaluate(
        "href => fetch(href).then(async r => [r.status, r.headers.get('content-type'),"
        " (await r.arrayBuffer()).byteLength])", link.get_attribute("href"))
    assert got == [200, "image/png", photo.stat().st_size]
