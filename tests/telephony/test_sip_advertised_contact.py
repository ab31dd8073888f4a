"""The address a node names itself by (``telephony.sip.advertise``): a node bound to 0.0.0.0
(docker-compose's) put 0.0.0.0 in its Contact and its SDP c=, which a phone reads as "on
hold" (no audio) and whose in-dialog requests went nowhere."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from config.settings import Settings, SipSettings
from telephony.sip.advertise import DEFAULT_ROUTE_PROBE, AdvertiseError, advertised_ip
from tests.support import harness
from tests.support.harness import Sipp, pause, play, render_scenario, uac_subs
from tests.support.sipkit import AudioAssets, EchoTestHandler, FrontEndFactory

ROUTES = {("10.20.0.5", 5060): "10.20.0.9", ("kamailio", 5060): "172.18.0.4",
          DEFAULT_ROUTE_PROBE: "192.168.1.20"}


def route(host: str, port: int) -> str:
    """The kernel's choice of our address toward a peer, as a table: no socket."""
    try:
        return ROUTES[(host, port)]
    except KeyError:
        raise OSError(101, "Network is unreachable") from None


def test_the_shipped_settings_advertise_their_bind_address_with_no_lookup() -> None:
    """The twin on the shipped settings: 127.0.0.1, named as bound, no route asked."""
    def no_lookup(host: str, port: int) -> str:
        raise AssertionError(f"route looked up toward {host}:{port}")

    assert advertised_ip(Settings().sip, no_lookup) == Settings().sip.bind_ip == "127.0.0.1"


def test_wildcard_bind_in_register_mode_advertises_our_address_toward_the_registrar() -> None:
    sip = SipSettings(bind_ip="0.0.0.0", mode="register", registrar_ip="kamailio",
                      registrar_port=5060)
    assert advertised_ip(sip, route) == "172.18.0.4"


def test_wildcard_bind_in_direct_mode_takes_the_first_trusted_source_then_the_default_route(
        ) -> None:
    trusted = SipSettings(bind_ip="0.0.0.0", trusted_sources=["10.20.0.5", "kamailio"])
    assert advertised_ip(trusted, route) == "10.20.0.9"
    # A network: its first address is on the route to all of it.
    network = SipSettings(bind_ip="0.0.0.0", trusted_sources=["10.20.0.4/30"])
    assert advertised_ip(network, route) == "10.20.0.9"
    assert advertised_ip(SipSettings(bind_ip="0.0.0.0"), route) == "192.168.1.20"


def test_the_advertised_ip_setting_wins_over_the_bind_and_the_route() -> None:
    for bind in ("0.0.0.0", "10.20.0.9"):
        sip = SipSettings(bind_ip=bind, mode="register", registrar_ip="kamailio",
                          advertised_ip="203.0.113.7")
        assert advertised_ip(sip, route) == "203.0.113.7"


def test_an_address_bind_is_advertised_as_it_is_without_a_route() -> None:
    assert advertised_ip(SipSettings(bind_ip="127.0.0.1"), route) == "127.0.0.1"


@pytest.mark.parametrize(("sip", "said"), [
    # No route toward the registrar: nothing to take our address from.
    (SipSettings(bind_ip="0.0.0.0", mode="register", registrar_ip="10.99.0.1"),
     "no route toward 10.99.0.1 (sip.registrar_ip)"),
    # The wildcard written into the setting itself.
    (SipSettings(bind_ip="0.0.0.0", advertised_ip="0.0.0.0"),
     "sip.advertised_ip, 0.0.0.0 is not a unicast IPv4 address"),
    (SipSettings(bind_ip="127.0.0.1", advertised_ip="hotline.example"),
     "'hotline.example' is not an IP address"),
])
def test_a_wildcard_or_no_address_left_refuses_the_start(sip: SipSettings, said: str) -> None:
    with pytest.raises(AdvertiseError, match="HOTLINE_SIP__ADVERTISED_IP") as refused:
        advertised_ip(sip, route)
    assert said in str(refused.value)


def test_a_front_end_with_a_wildcard_left_does_not_start() -> None:
    from telephony.sip.frontend import SipFrontEnd

    sip = SipSettings(bind_ip="0.0.0.0", port=harness.free_port(), advertised_ip="0.0.0.0")
    with pytest.raises(AdvertiseError):
        SipFrontEnd(sip, None, read_number=lambda _uri: "")


def _received_200(messages: str) -> str:
    """The 200 to the INVITE, as SIPp logged it received."""
    for block in re.split(r"^-{10,}.*$", messages, flags=re.M):
        text = block.split("bytes :", 1)[-1].lstrip()
        if "message received" in block and text.startswith("SIP/2.0 200") and (
                re.search(r"^CSeq:\s*\d+ INVITE", text, flags=re.M | re.I)):
            return text
    raise AssertionError("no 200 to the INVITE in SIPp's log:\n" + messages[-3000:])


@pytest.mark.sip
def test_a_node_bound_to_every_address_names_loopback_in_contact_and_sdp_and_is_heard(
        make_frontend: FrontEndFactory, audio: AudioAssets, sipp_dir: Path,
        sipps: list[Sipp]) -> None:
    """The node binds 0.0.0.0 (its own port) and trusts the caller's 127.0.0.7: the
    kernel's route toward it leaves from 127.0.0.1, which the 200's Contact and c= name
    (before: 0.0.0.0 in both), and the prompt reaches the caller as RTP."""
    caller_ip = "127.0.0.7"
    handler = EchoTestHandler(audio.prompt_wav)
    fe = make_frontend(handler, mode="direct", bind_ip="0.0.0.0", trusted_sources=(caller_ip,))
    sink = harness.RtpSink(ip=caller_ip)  # the caller's SDP names it: our RTP goes there
    try:
        scenario = render_scenario("uac_call.xml", sipp_dir, **uac_subs(
            media=play(audio.speech_pcap, audio.speech_ms + 200) + "\n" + pause(1500),
            media_port=str(sink.port)))
        sipp = Sipp(scenario, sipp_dir, target=f"127.0.0.1:{fe.local_port}",
                    service="12345", timeout_s=20, local_ip=caller_ip)
        sipps.append(sipp)
        result = sipp.run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert result.ok, result.stdout[-2000:] + result.errors[-2000:]
    ok = _received_200(result.messages)
    contact = re.search(r"^(?:Contact|m):\s*<([^>]*)>", ok, flags=re.M | re.I)
    assert contact and contact[1] == f"sip:{fe.sip.username}@127.0.0.1:{fe.local_port}", ok
    assert re.search(r"^c=IN IP4 127\.0\.0\.1\s*$", ok, flags=re.M), ok
    assert re.search(r"^o=.* IN IP4 127\.0\.0\.1\s*$", ok, flags=re.M), ok
    assert "0.0.0.0" not in ok
    voiced = [p for p in sink.packets if p.payload_type == 0 and p.payload.strip(b"\xff\x7f")]
    assert len(voiced) > 25, f"{len(sink.packets)} RTP packets, {len(voiced)} with sound"
