"""What the shipped Kamailio front (deploy/kamailio/kamailio.cfg, only its addresses moved
to loopback) relays inside a dialog: requests between an IVR node and the outside, along
the route it record-routed or straight at a node's Contact; never a stranger's BYE or ACK
to an address of the stranger's choosing (relay49, found by review134). Real Kamailio,
raw UDP peers on their own 127.x addresses."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephony.sip.message import SipMessage, build_response
from tests.support import harness
from tests.support.rawsip import status

pytestmark = pytest.mark.sip

# Not the carrier (FrontKamailio's CARRIER_NETS is 127.0.0.2/32): the flood check applies.
# The node on its own address: the front matches nodes by address alone.
CALLER, VICTIM, STRANGER, NODE = "127.0.0.3", "127.0.0.5", "127.0.0.4", "127.0.0.6"


class Peer:
    """One UDP socket on its own loopback address."""

    def __init__(self, ip: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.ip, self.port = ip, self.sock.getsockname()[1]

    def send(self, data: bytes, port: int) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))

    def wait_for(self, first_line_start: bytes, timeout: float = 2.0) -> bytes | None:
        """The first datagram starting so within ``timeout`` (the dispatcher's OPTIONS probes
        skipped), or None."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                return None
            if data.startswith(first_line_start):
                return data
        return None

    def close(self) -> None:
        self.sock.close()


def in_dialog(method: str, ruri: str, sender: Peer, *, routes: list[str], call_id: str,
              cseq: int = 2) -> bytes:
    route = "".join(f"Route: <{r}>\r\n" for r in routes)
    return (f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {sender.ip}:{sender.port};branch=z9hG4bK{call_id}{cseq};rport\r\n"
            f"{route}Max-Forwards: 70\r\nFrom: <sip:a@{sender.ip}>;tag=a1\r\n"
            f"To: <sip:b@example.invalid>;tag=b1\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n").encode()


@pytest.fixture
def peers() -> Iterator[dict[str, Peer]]:
    made = {"node": Peer(NODE), "caller": Peer(CALLER), "victim": Peer(VICTIM),
            "stranger": Peer(STRANGER)}
    yield made
    for p in made.values():
        p.close()


@pytest.fixture
def front(tmp_path: Path, peers: dict[str, Peer]) -> Iterator[harness.FrontKamailio]:
    started = harness.FrontKamailio(tmp_path / "kamailio", nodes=[peers["node"].port],
                                   node_ip=NODE).start()
    yield started
    started.stop()


def _me(front: harness.FrontKamailio) -> str:
    return f"sip:127.0.0.1:{front.port};lr"


@pytest.mark.parametrize("method", ["BYE", "ACK"])
@pytest.mark.parametrize("route", ["none", "front", "front-then-victim", "victim"])
def test_a_strangers_in_dialog_request_is_not_bounced_at_an_address_it_names(
        front: harness.FrontKamailio, peers: dict[str, Peer], method: str, route: str) -> None:
    """Before: a BYE or ACK with a To tag and no Route went to its Request-URI, whatever it
    named; with a Route naming the front, loose_route sent it on to the next Route or the
    Request-URI, as freely."""
    victim, stranger = peers["victim"], peers["stranger"]
    target = f"sip:v@{victim.ip}:{victim.port}"
    routes = {"none": [], "front": [_me(front)],
              "front-then-victim": [_me(front), f"{target};lr"],
              "victim": [f"{target};lr"]}[route]
    stranger.send(in_dialog(method, target, stranger, routes=routes, call_id=f"f-{route}"),
                  front.port)
    answer = stranger.wait_for(b"SIP/2.0", timeout=1.0 if method == "ACK" else 2.0)
    assert victim.wait_for(method.encode(), timeout=1.0) is None, "relayed to the victim"
    if method == "BYE":
        assert answer is not None and status(answer) == 403, answer
    else:
        assert answer is None  # an ACK is never answered


def test_a_callers_bye_reaches_the_node_with_or_without_the_route(
        front: harness.FrontKamailio, peers: dict[str, Peer]) -> None:
    """SIPp sends its ACK and BYE straight at the node's Contact, without the route set;
    a phone sends them along it. Both go to the node."""
    node, caller = peers["node"], peers["caller"]
    contact = f"sip:12345@{NODE}:{node.port}"
    for n, routes in enumerate(([], [_me(front)])):
        for method in ("ACK", "BYE"):
            caller.send(in_dialog(method, contact, caller, routes=routes, call_id=f"c{n}"),
                        front.port)
            got = node.wait_for(method.encode())
            assert got is not None, (method, routes, front.log_text()[-1500:])
            assert b"Route:" not in got  # the front's own Route taken off


@pytest.mark.parametrize("method", ["BYE", "INVITE"])
def test_the_nodes_request_reaches_the_caller_wherever_it_is(
        front: harness.FrontKamailio, peers: dict[str, Peer], method: str) -> None:
    """Our BYE (or a session refresh) goes along the route set the front record-routed to
    the caller's Contact, an address no list of the front's holds."""
    node, caller = peers["node"], peers["caller"]
    node.send(in_dialog(method, f"sip:c@{caller.ip}:{caller.port}", node,
                        routes=[_me(front)], call_id=f"n-{method}"), front.port)
    assert caller.wait_for(method.encode()) is not None, front.log_text()[-1500:]


def test_forged_in_dialog_requests_are_counted_by_the_flood_check(
        front: harness.FrontKamailio, peers: dict[str, Peer]) -> None:
    """Refused, a stranger's BYEs count as its requests: past pike's 30 in 2 s it is banned
    (no answer at all any more), as a scanner's INVITEs get it banned."""
    victim, stranger = peers["victim"], peers["stranger"]
    target = f"sip:v@{victim.ip}:{victim.port}"
    for i in range(45):
        stranger.send(in_dialog("BYE", target, stranger, routes=[], call_id=f"p{i}"),
                      front.port)
    time.sleep(1.0)
    assert f"pike: request flood from {STRANGER}" in front.log_text()
    while stranger.wait_for(b"SIP/2.0", timeout=0.3) is not None:
        pass  # the answers to the burst
    stranger.send(in_dialog("BYE", target, stranger, routes=[], call_id="after"), front.port)
    assert stranger.wait_for(b"SIP/2.0", timeout=1.5) is None
    assert victim.wait_for(b"BYE", timeout=0.5) is None


def test_the_ack_of_a_refusal_is_taken_by_the_front_not_refused(
        front: harness.FrontKamailio, peers: dict[str, Peer]) -> None:
    """A busy node's 486: the front's tm ACKs it to the node itself, and the caller's ACK
    (its Request-URI the hotline number, no Route: neither from nor to a node) is that
    transaction's, absorbed, neither refused nor sent on nor counted."""
    node, caller = peers["node"], peers["caller"]
    via = f"SIP/2.0/UDP {caller.ip}:{caller.port};branch=z9hG4bKbusy1;rport"
    common = (f"Max-Forwards: 70\r\nFrom: <sip:13800000001@{caller.ip}>;tag=c1\r\n"
              f"Call-ID: busy-1\r\n")
    ruri = f"sip:12345@127.0.0.1:{front.port}"
    caller.send((f"INVITE {ruri} SIP/2.0\r\nVia: {via}\r\n{common}"
                 f"To: <sip:12345@hotline.example>\r\nCSeq: 1 INVITE\r\n"
                 f"Contact: <sip:c@{caller.ip}:{caller.port}>\r\nContent-Length: 0\r\n\r\n"
                 ).encode(), front.port)
    invite = node.wait_for(b"INVITE", timeout=3.0)
    assert invite is not None, front.log_text()[-1500:]
    node.sock.sendto(build_response(SipMessage(invite, ("127.0.0.1", front.port)), 486,
                                    to_tag="busy"), ("127.0.0.1", front.port))
    busy = caller.wait_for(b"SIP/2.0 486")
    assert busy is not None
    caller.send((f"ACK {ruri} SIP/2.0\r\nVia: {via}\r\n{common}"
                 f"To: <sip:12345@hotline.example>;tag=busy\r\nCSeq: 1 ACK\r\n"
                 "Content-Length: 0\r\n\r\n").encode(), front.port)
    assert node.wait_for(b"ACK") is not None  # the front's own, hop by hop
    assert node.wait_for(b"ACK", timeout=1.0) is None  # and not the caller's on top
    assert "refused" not in front.log_text()
