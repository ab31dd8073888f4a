"""SIP URI handling: the URI in a header value, its user, and where a dial target goes in
each mode."""

from __future__ import annotations

import pytest

from telephony.sip.uri import dial_target, sip_uri, strip_tag, uri_of, uri_user


def test_uri_of_name_addr_and_addr_spec() -> None:
    assert uri_of('"市民" <sip:13811112222@10.0.0.5:5062;user=phone>;tag=x') == (
        "sip:13811112222@10.0.0.5:5062;user=phone")
    assert uri_of("sip:1001@127.0.0.1;tag=y") == "sip:1001@127.0.0.1"
    assert uri_user("sip:13811112222@10.0.0.5") == "13811112222"
    assert uri_user("sip:10.0.0.5") == ""


def test_strip_tag_keeps_the_rest_of_the_value() -> None:
    assert strip_tag("<sip:12345@127.0.0.1>;tag=abc;foo=1") == "<sip:12345@127.0.0.1>;foo=1"
    assert strip_tag("<sip:12345@127.0.0.1> ; TAG=abc") == "<sip:12345@127.0.0.1> "


def test_sip_uri_with_and_without_user_or_port() -> None:
    assert sip_uri("12345", "127.0.0.1", 5080) == "sip:12345@127.0.0.1:5080"
    assert sip_uri("", "127.0.0.1", 5080) == "sip:127.0.0.1:5080"
    assert sip_uri("doctor", "127.0.0.1") == "sip:doctor@127.0.0.1"


def test_register_mode_sends_every_target_to_the_registrar() -> None:
    registrar = ("127.0.0.9", 5070)
    assert dial_target(" 1001 ", registrar=registrar) == ("sip:1001@127.0.0.9:5070", registrar)
    assert dial_target("sip:1001@10.0.0.1:5062", registrar=registrar) == (
        "sip:1001@10.0.0.1:5062", registrar)


def test_direct_mode_sends_to_the_uri_host() -> None:
    assert dial_target("1001@127.0.0.2:5064", registrar=None) == (
        "sip:1001@127.0.0.2:5064", ("127.0.0.2", 5064))
    assert dial_target("sip:119@127.0.0.3", registrar=None) == (
        "sip:119@127.0.0.3", ("127.0.0.3", 5060))
    with pytest.raises(ValueError, match="direct mode"):
        dial_target("1001", registrar=None)
