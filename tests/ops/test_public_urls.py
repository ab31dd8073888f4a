"""The addresses the outside world is given (Twilio's webhooks and signatures, the citizen's
status link) follow the API's own address unless set: with a fixed default they went stale
when only HOTLINE_PORT moved."""

from __future__ import annotations

import pytest

from config.settings import Settings, TwilioSettings
from telephony.twilio.signature import public_url


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOTLINE_HOST", "HOTLINE_PORT", "HOTLINE_TWILIO__PUBLIC_BASE_URL",
                 "HOTLINE_OUTBOUND__STATUS_PAGE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_unset_public_urls_are_the_apis_address(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = Settings()
    assert shipped.twilio.public_base_url == shipped.api_url
    assert shipped.outbound.status_page_base_url == shipped.api_url

    monkeypatch.setenv("HOTLINE_PORT", "9123")
    moved = Settings()
    assert moved.twilio.public_base_url.endswith(":9123")
    assert moved.outbound.status_page_base_url.endswith(":9123")
    # What Twilio signed for a webhook on the moved port is what we check against.
    assert public_url(moved.twilio, "/twilio/voice", "a=1") == (
        f"{moved.api_url}/twilio/voice?a=1")


def test_set_public_urls_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_PORT", "9123")
    monkeypatch.setenv("HOTLINE_TWILIO__PUBLIC_BASE_URL", "https://hotline.example.gov.cn")
    monkeypatch.setenv("HOTLINE_OUTBOUND__STATUS_PAGE_BASE_URL", "https://s.example.gov.cn")
    s = Settings()
    assert s.twilio.public_base_url == "https://hotline.example.gov.cn"
    assert s.outbound.status_page_base_url == "https://s.example.gov.cn"
    given = Settings(twilio=TwilioSettings(public_base_url="https://t.example"))
    assert given.twilio.public_base_url == "https://t.example"


def test_the_status_link_follows_twilios_public_url_when_only_that_is_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator who followed docs/twilio.md set the public URL Twilio calls and texted
    citizens through Twilio: their status link read http://127.0.0.1:<port>/s/..., an
    address only this machine reaches (twilio46). The public URL of this same API serves
    /s/ too, so the link takes it unless the status page has its own."""
    monkeypatch.setenv("HOTLINE_TWILIO__PUBLIC_BASE_URL", "https://hotline.example.gov.cn/")
    s = Settings()
    assert s.outbound.status_page_base_url == "https://hotline.example.gov.cn/"
    monkeypatch.setenv("HOTLINE_OUTBOUND__STATUS_PAGE_BASE_URL", "https://s.example.gov.cn")
    assert Settings().outbound.status_page_base_url == "https://s.example.gov.cn"
