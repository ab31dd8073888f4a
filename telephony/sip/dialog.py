"""Requests inside a dialog we have (ACK of a 2xx, BYE): where they go and how they read.
Shared by the front end (BYE) and the dialer (ACK), so both follow one route set."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from telephony.call import CallHandle, Direction
from telephony.sip.message import SipMessage
from telephony.sip.transaction import branch_key, new_request
from telephony.sip.uri import unicast_ipv4, uri_hostport, uri_of

# The methods we take, in every Allow we send.
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"

# SIP methods we recognise but do not serve: RFC 3261 8.2.1 has a UAS answer a method it
# recognises and does not support 405 with Allow, and 501 one it does not recognise at all
# (21.5.2). The extensions' methods are here by their RFCs: REGISTER (RFC 3261 10),
# SUBSCRIBE and NOTIFY (RFC 6665), PUBLISH (RFC 3903), MESSAGE (RFC 3428), REFER (RFC 3515),
# PRACK (RFC 3262). Before 2026-12-06 only REGISTER, SUBSCRIBE and PUBLISH were 405, the
# others 501 as though we had never heard of them.
KNOWN_NOT_SERVED = frozenset({"REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH", "MESSAGE",
                              "REFER", "PRACK"})


def refusal_code(method: str) -> int:
    """The final for a request whose method we do not serve (one rule, RFC 3261 8.2.1)."""
    return 405 if method in KNOWN_NOT_SERVED else 501


def in_dialog(call: CallHandle, request: SipMessage) -> bool:
    """Whether ``request`` is in ``call``'s dialog: our tag as its To tag, the peer's as its
    From tag. The Call-ID alone is not enough: anyone who saw it could end the call's
    refresh timer or key digits into it."""
    if request.to_tag != call.local_tag:
        return False
    if call.direction is Direction.OUTBOUND and not call.remote_tag:
        # Ours, not answered yet: only an early dialog a 1xx of the callee made with its
        # tag (RFC 3261 12.1.2) has requests; anything else matches no dialog (12.2.2:
        # 481). Before 2026-12-05 any From tag was taken until the 2xx named the callee's:
        # whoever saw the INVITE (the Call-ID, our tag) could end the ringing call with a
        # BYE of a made-up tag, or key digits into it.
        return request.from_tag in call.early_tags
    # An inbound call's INVITE without a From tag (RFC 2543; RFC 3261 12.1.1: the UAS MUST
    # take it, the tag being null) has a null remote tag, and only a null tag matches it.
    return request.from_tag == call.remote_tag


def of_call(call: CallHandle, request: SipMessage) -> bool:
    """Whether ``request`` belongs to ``call``: a request in its dialog (``in_dialog``; an
    ACK of our final answer carries our tag too), or, before any tag of ours, its INVITE
    again or the CANCEL of it (the INVITE's branch). What only shares the Call-ID (an
    INVITE with another From tag, a made-up To tag) is a request of its own, charged by
    the flood guard like any new one."""
    if request.to_tag:
        return in_dialog(call, request)
    return request.method in ("INVITE", "CANCEL") and of_invite(call, request)


def of_invite(call: CallHandle, request: SipMessage) -> bool:
    """Whether ``request`` carries the branch of ``call``'s INVITE (the INVITE again, its
    CANCEL), compared as every branch is (``transaction.branch_key``, RFC 3261 7.3.1: a
    token, whatever its case). Compared as written (before sip45), a CANCEL whose branch a
    caller's SBC wrote in another case was 481 and the call rang on."""
    invite = call.invite
    return invite is not None and branch_key(request.top_branch) == branch_key(
        invite.top_branch)


def dialog_peers(call: CallHandle, came_from: tuple[str, int] | None) -> frozenset[str]:
    """The addresses the requests of ``call``'s dialog may come from (``from_peer``): where
    its INVITE came from (ours: where we sent it), that is the phone, or the proxy in front
    of it; every proxy of its route set (Record-Route: a record-routing proxy, kamailio,
    stays in the path and sends every request of the dialog); and, without a route set,
    the peer's Contact (a proxy that does not record-route lets the phone's BYE come
    straight from it). Host names are not looked up (``first_hop``): such a hop's requests
    come from the address the INVITE came from."""
    hosts = {came_from[0]} if came_from is not None else set()
    for uri in [uri_of(r) for r in call.route_set] or [call.remote_target]:
        try:
            host, _ = uri_hostport(uri)
            hosts.add(str(ipaddress.ip_address(host)))
        except ValueError:
            continue
    return frozenset(hosts)


def from_peer(call: CallHandle, source_ip: str, *, trusted: bool) -> bool:
    """Whether a request of ``call``'s dialog (``of_call``) may be taken from
    ``source_ip``: one of the dialog's peers (``dialog_peers``, set when the dialog
    began), or a trusted source (a carrier's SBC cluster may send a call's BYE from another
    of its nodes). The tags and the Call-ID travel in clear text: whoever saw them could
    otherwise end the call (a forged BYE), key digits into it or move its media."""
    return trusted or not call.peers or source_ip in call.peers


def first_hop(route_set: list[str], remote_target: str,
              came_from: tuple[str, int] | None) -> tuple[str, int]:
    """Where the dialog's requests go: the first Route if it has a route set, else the
    peer's Contact. A host name there is not looked up: a look-up would stall the one
    thread that sends BYE and retransmits for every call, as long as a DNS server likes.
    The request goes where the dialog's INVITE (or our INVITE's 2xx) came from instead:
    the proxy or peer that holds the dialog's next hop, as a carrier SBC naming itself by
    name does. ValueError for a malformed URI or an address no IPv4 socket reaches."""
    host, port = uri_hostport(uri_of(route_set[0]) if route_set else remote_target)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if came_from is None:
            raise ValueError(f"{host[:60]!r} is a host name and no source to use") from None
        return came_from
    return unicast_ipv4(host), port


def in_dialog_dest(call: CallHandle, came_from: tuple[str, int] | None) -> tuple[str, int]:
    return first_hop(call.route_set, call.remote_target, came_from)


def dialog_request(call: CallHandle, method: str, cseq: int, *, via: str,
                   contact: str, extra: Iterable[tuple[str, str]] = (),
                   body: bytes = b"") -> bytes:
    # Record-Route as received: an INVITE we took lists it in our order, a 2xx to ours
    # in reverse (RFC 3261 12.1.1, 12.1.2).
    route = call.route_set if call.direction is Direction.INBOUND else list(
        reversed(call.route_set))
    return new_request(method, call.remote_target, via=via, routes=route,
                       from_=f"{call.local_uri};tag={call.local_tag}",
                       # (A null tag is no tag: "tag=" with no value is not SIP.)
                       to=call.remote_uri + (f";tag={call.remote_tag}" if call.remote_tag
                                             else ""),
                       call_id=call.call_id, cseq=cseq, contact=contact, extra=extra,
                       body=body)


__all__ = ["ALLOW", "KNOWN_NOT_SERVED", "dialog_peers", "dialog_request", "first_hop",
           "from_peer", "in_dialog", "in_dialog_dest", "of_call", "of_invite", "refusal_code"]
